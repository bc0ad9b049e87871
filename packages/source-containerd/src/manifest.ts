/**
 * The transport this package provides, announced for discovery (package.json "dsv.transports"): importing
 * this module loads nothing else; load() imports the gRPC client on first use.
 */
import type { TransportManifest } from '@dsv/core/transport';

export const transportManifest: TransportManifest = {
  package: '@dsv/source-containerd',
  transports: [
    {
      name: 'containerd',
      syntax: 'containerd:[NAMESPACE@SOCKET]NAME[:TAG|@DIGEST]',
      description: "containerd's content and image stores, through its gRPC API",
    },
  ],
  async load() {
    const m = await import('./index.js');
    return [m.containerdTransport];
  },
};

export default transportManifest;
