// ImageReference.digest on docker-daemon: and docker-storage:: the digest a NAME@sha256:… reference names;
// undefined for a tagged name or an image id (an id is the configuration's digest, not the manifest's).
import { describe, expect, it } from 'vitest';
import { dockerDaemonTransport, dockerStorageTransport } from './index.js';

const D = 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

describe.each([
  ['docker-daemon', dockerDaemonTransport, ''],
  ['docker-storage', dockerStorageTransport, '[overlay2@/var/lib/docker]'],
])('%s: ImageReference.digest', (_name, transport, prefix) => {
  it('is the digest after @', () => {
    expect(transport.parseReference(`${prefix}team/app@${D}`).digest).toBe(D);
  });
  it('is undefined for a tagged name or an image id', () => {
    expect(transport.parseReference(`${prefix}team/app:v1`).digest).toBeUndefined();
    expect(transport.parseReference(`${prefix}${D}`).digest).toBeUndefined();
  });
});
