// Auth and redirects against fault-injecting servers: token realms, the Bearer flow, scopes, 401 loops, Authorization never following a redirect off-origin.
import { afterEach, describe, expect, it } from 'vitest';
import { blob, blobDigest, cleanup, client, collect, failure, fake, manifest, ok } from './__tests__/fake-registry.js';

afterEach(cleanup);

describe('RegistryClient auth and redirects', () => {
  it('refuses an http token realm on a foreign host and sends the credentials nowhere', async () => {
    const realm = await fake((_req, res) => ok(res, Buffer.from('{"token":"t0k3n"}')));
    const f = await fake((req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://auth.foreign.test:${realm.port}/token",service="reg"` });
      res.end();
    });
    const debug: string[] = [];
    const c = client(f.host, { credentials: { username: 'alice', password: 's3cret-pw' } }, [], debug);
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toContain('refusing token realm');
    expect(realm.seen).toHaveLength(0);
    expect(f.seen.every((s) => s.headers.authorization === undefined)).toBe(true);
    expect(JSON.stringify([e, debug])).not.toContain('s3cret-pw');
  });

  it('runs the Bearer flow against a loopback realm: Basic to the realm, token cached per scope', async () => {
    const realm = await fake((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const scopes = url.searchParams.getAll('scope').join(' ');
      ok(res, Buffer.from(JSON.stringify({ access_token: `tok-${scopes.length}`, expires_in: 300 })), 'application/json');
    });
    const f = await fake((req, res) => {
      if (!String(req.headers.authorization ?? '').startsWith('Bearer tok-')) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token",service="reg"` });
        return res.end();
      }
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      ok(res, manifest, 'application/vnd.oci.image.manifest.v1+json');
    });
    const debug: string[] = [];
    const c = client(f.host, { credentials: { username: 'alice', password: 's3cret-pw' } }, [], debug);
    await c.getManifest('app', 'v1');
    await c.getManifest('app', 'v2');
    expect(c.stats.tokenFetches).toBe(1);
    const tokenReq = realm.seen[0]!;
    expect(tokenReq.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
    const q = new URL(tokenReq.url, 'http://x').searchParams;
    expect(q.get('service')).toBe('reg');
    expect(q.getAll('scope')).toEqual(['repository:app:pull']);
    // Another repository needs another scope, hence another token.
    await c.getManifest('other', 'v1');
    expect(c.stats.tokenFetches).toBe(2);
    expect(debug.join('\n')).not.toMatch(/s3cret-pw|tok-/);
  });

  it('asks for several scopes for a cross-repository mount', async () => {
    const realm = await fake((_req, res) => ok(res, Buffer.from('{"token":"tk"}'), 'application/json'));
    const f = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer tk') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token",service="reg"` });
        return res.end();
      }
      if (req.method === 'POST') {
        res.writeHead(201, { location: `/v2/dst/blobs/${blobDigest}` });
        return res.end();
      }
      ok(res, Buffer.from('{}'));
    });
    const c = client(f.host);
    expect(await c.mountBlob('dst', blobDigest, 'src')).toBe(true);
    expect(c.stats.mounts).toBe(1);
    const last = realm.seen[realm.seen.length - 1]!;
    expect(new URL(last.url, 'http://x').searchParams.getAll('scope').sort()).toEqual(['repository:dst:pull,push', 'repository:src:pull']);
    const post = f.seen.find((s) => s.method === 'POST' && s.headers.authorization)!;
    expect(post.url).toBe(`/v2/dst/blobs/uploads/?mount=${encodeURIComponent(blobDigest)}&from=src`);
  });

  it('ends a 401 loop with AuthFailed after a bounded number of attempts', async () => {
    const realm = await fake((_req, res) => ok(res, Buffer.from('{"token":"useless"}'), 'application/json'));
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token",service="reg",scope="repository:app:pull"` });
      res.end();
    });
    const c = client(f.host);
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('AuthFailed');
    expect(f.seen.length).toBeLessThanOrEqual(5);
    expect(realm.seen.length).toBeLessThanOrEqual(3);
    expect(e.message).not.toContain('useless');
  });

  it('follows a blob redirect to another host without the Authorization header', async () => {
    const cdn = await fake((_req, res) => ok(res, blob));
    const f = await fake((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="reg"' });
        return res.end();
      }
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(307, { location: `http://cdn.foreign.test:${cdn.port}/data?sig=1` });
      res.end();
    });
    const c = client(f.host, { credentials: { username: 'u', password: 'p' } });
    const got = await collect(await c.getBlob('app', blobDigest));
    expect(got.equals(blob)).toBe(true);
    expect(f.seen.some((s) => s.headers.authorization?.startsWith('Basic '))).toBe(true);
    expect(cdn.seen).toHaveLength(1);
    expect(cdn.seen[0]!.headers.authorization).toBeUndefined();
    expect(cdn.seen[0]!.headers.host).toBe(`cdn.foreign.test:${cdn.port}`);
  });

  it('fails with AuthFailed, not a loop, when Basic credentials are refused', async () => {
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="reg"' });
      res.end();
    });
    const c = client(f.host, { credentials: { username: 'u', password: 'wrong-pass' } });
    const e = await failure(c.listTags('app'));
    expect(e.code).toBe('AuthFailed');
    expect(e.message).not.toContain('wrong-pass');
    expect(f.seen.length).toBeLessThanOrEqual(3);
  });
});
