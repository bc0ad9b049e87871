// Manifest reads and writes against a fault-injecting server: limits, digest checks, Content-Type.
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core/formats';
import { type Seen, blobDigest, cleanup, client, failure, fake, manifest, manifestDigest, ok, uploadServer } from './__tests__/fake-registry.js';

afterEach(cleanup);

describe('RegistryClient manifests', () => {
  it('stops an endless manifest body at the manifest limit (LimitExceeded)', async () => {
    let written = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {
          written += chunk.length;
          if (written > 64 * 1024 * 1024) return res.end();
        }
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => undefined);
      pump();
    });
    const c = client(f.host, { manifestLimitBytes: 1024 * 1024 });
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('LimitExceeded');
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses an announced oversize manifest before reading it', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      res.write('{');
    });
    const c = client(f.host);
    expect((await failure(c.getManifest('app', 'v1'))).code).toBe('LimitExceeded');
  });

  it('verifies a manifest fetched by digest and ignores the registry Docker-Content-Digest', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': manifestDigest });
      res.end(Buffer.concat([manifest, Buffer.from(' ')]));
    });
    const c = client(f.host);
    expect((await failure(c.getManifest('app', manifestDigest))).code).toBe('DigestMismatch');
    const byTag = await c.getManifest('app', 'v1');
    expect(byTag.digest).toBe(digestOf(Buffer.concat([manifest, Buffer.from(' ')])));
  });

  it('PUTs a manifest with its Content-Type and refuses bytes that do not match a digest reference', async () => {
    const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
    const f = await fake(uploadServer(state));
    const c = client(f.host);
    expect(await c.putManifest('app', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json')).toBe(manifestDigest);
    expect(state.puts[0]!.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(state.puts[0]!.body.equals(manifest)).toBe(true);
    expect((await failure(c.putManifest('app', blobDigest, manifest, 'x'))).code).toBe('DigestMismatch');
    expect(state.puts).toHaveLength(1);
  });
});
