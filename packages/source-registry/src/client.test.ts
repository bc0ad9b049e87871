// Scheme, connections, retries and error mapping of the registry client, against a fault-injecting server.
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core/formats';
import { blob, blobDigest, cleanup, client, failure, fake, manifest, manifestDigest, ok, servers } from './__tests__/fake-registry.js';

afterEach(cleanup);

describe('RegistryClient: scheme, connections, retries, errors', () => {
  it('uses plain HTTP for a loopback registry whose HTTPS handshake fails, and retries a 500', async () => {
    let manifestCalls = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'), 'application/json');
      if (req.url === '/v2/app/manifests/v1') {
        manifestCalls++;
        if (manifestCalls === 1) {
          res.writeHead(500, { 'content-type': 'application/json' });
          return res.end('{"errors":[{"code":"UNKNOWN","message":"boom"}]}');
        }
        return ok(res, manifest, 'application/vnd.oci.image.manifest.v1+json');
      }
      res.writeHead(404).end();
    });
    const sleeps: number[] = [];
    const debug: string[] = [];
    const c = client(f.host, {}, sleeps, debug);
    const m = await c.getManifest('app', 'v1');
    expect(Buffer.from(m.bytes).equals(manifest)).toBe(true);
    expect(m.digest).toBe(manifestDigest);
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifestCalls).toBe(2);
    expect(c.stats.retries).toBe(1);
    expect(debug.some((l) => l.includes('using plain HTTP'))).toBe(true);
    // The scheme was found by a bare handshake: no request went out over HTTPS (ping, 500, 200).
    expect(c.stats.requests).toBe(3);
  });

  it('keeps the connection after a HEAD: blob checks and the requests after them share one', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'), 'application/json');
      if (req.url === `/v2/app/blobs/${blobDigest}`) {
        res.writeHead(200, { 'content-length': String(blob.length), 'docker-content-digest': blobDigest });
        return res.end(req.method === 'HEAD' ? undefined : blob);
      }
      if (req.url === '/v2/app/manifests/v1') return ok(res, manifest, 'application/vnd.oci.image.manifest.v1+json');
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    });
    const plain: unknown[] = [];
    f.server.on('connection', (sock) => plain.push(sock));
    const c = client(f.host);
    await c.getManifest('app', 'v1');
    const opened = plain.length; // the TLS probe's connection and the one the requests use
    expect(await c.hasBlob('app', blobDigest)).toBe(true);
    expect(await c.hasBlob('app', digestOf('absent'))).toBe(false);
    expect(await c.hasBlob('app', blobDigest)).toBe(true);
    await c.getManifest('app', 'v1');
    expect(plain.length).toBe(opened);
    expect(f.seen.filter((s) => s.method === 'HEAD').every((s) => s.headers.connection === 'keep-alive')).toBe(true);
  });

  it('gives up after retryTimes and reports the registry error as RemoteError', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
    });
    const c = client(f.host, { ctx: { retryTimes: 2 } });
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('RemoteError');
    expect(e.message).toContain('UNAVAILABLE');
    expect(f.seen.filter((s) => s.url.includes('manifests')).length).toBe(3);
  });

  it('honours Retry-After on 429', async () => {
    let n = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (n++ === 0) {
        res.writeHead(429, { 'retry-after': '7' });
        return res.end();
      }
      ok(res, manifest, 'application/vnd.oci.image.manifest.v1+json');
    });
    const sleeps: number[] = [];
    const c = client(f.host, {}, sleeps);
    await c.getManifest('app', manifestDigest);
    expect(sleeps).toEqual([7000]);
  });

  it('maps registry error codes to typed errors', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (req.url?.includes('/manifests/')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      }
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"DENIED","message":"no"}]}');
    });
    const c = client(f.host);
    expect((await failure(c.getManifest('app', 'nope'))).code).toBe('NotFound');
    expect((await failure(c.listTags('app'))).code).toBe('AuthFailed');
    expect(await c.headManifest('app', 'nope')).toBeUndefined();
  });

  it('prepare() meets the registry in the background; its failure is reported by the first request, and close() does not wait for it', async () => {
    const down = await fake(() => undefined);
    const port = down.port;
    down.server.close();
    servers.splice(servers.indexOf(down.server), 1);
    const refused = client(`127.0.0.1:${port}`);
    refused.prepare();
    const e = await failure(refused.getManifest('app', 'latest'));
    expect(e.code).toBe('Network');
    expect(e.message).toMatch(/ECONNREFUSED/);

    let pinged = false;
    const hangs = await fake((req) => {
      if (req.url === '/v2/') pinged = true; // and never answers
    });
    const c = client(hangs.host);
    c.prepare();
    for (let i = 0; i < 100 && !pinged; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pinged).toBe(true);
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
