/**
 * The transports this package provides, announced for discovery (package.json "dsv.transports"): importing
 * this module loads nothing else; load() imports the archive code on first use.
 */
import type { TransportManifest } from '@dsv/core/transport';

export const transportManifest: TransportManifest = {
  package: '@dsv/source-archive',
  transports: [
    { name: 'docker-archive', syntax: 'docker-archive:PATH[:NAME:TAG]', description: 'a `docker save` archive' },
    { name: 'oci', syntax: 'oci:PATH[:TAG]', description: 'an OCI image layout directory' },
    { name: 'oci-archive', syntax: 'oci-archive:PATH[:TAG]', description: 'an OCI image layout in a tar file' },
  ],
  async load() {
    const m = await import('./index.js');
    return [m.dockerArchiveTransport, m.ociTransport, m.ociArchiveTransport];
  },
};

export default transportManifest;
