/**
 * The transports this package provides, announced for discovery (package.json "dsv.transports"): importing
 * this module loads nothing else; load() imports the registry client on first use.
 */
import type { TransportManifest } from '@dsv/core/transport';

export const transportManifest: TransportManifest = {
  package: '@dsv/source-registry',
  transports: [{ name: 'docker', syntax: 'docker://host/repo:tag (the default without a prefix)', description: 'a registry (OCI distribution / Docker Registry HTTP API v2)' }],
  async load(system) {
    const m = await import('./index.js');
    return [system?.defaultRegistry ? m.createDockerTransport({ defaultRegistry: system.defaultRegistry }) : m.dockerTransport];
  },
};

export default transportManifest;
