/**
 * The transports this package provides, announced for discovery (package.json "dsv.transports"): importing
 * this module loads nothing else; load() imports the store and Engine code on first use.
 */
import type { TransportManifest } from '@dsv/core/transport';

export const transportManifest: TransportManifest = {
  package: '@dsv/source-repository',
  transports: [
    { name: 'docker-daemon', syntax: 'docker-daemon:NAME:TAG', description: "the Docker Engine's image store, through its API" },
    { name: 'docker-storage', syntax: 'docker-storage:NAME:TAG', description: "Docker's store on disk, read file by file", readOnly: true },
  ],
  async load() {
    const m = await import('./index.js');
    return [m.dockerDaemonTransport, m.dockerStorageTransport];
  },
};

export default transportManifest;
