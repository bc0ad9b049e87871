// Hostile registries, round two: request deadlines, capped Retry-After, errors naming the request, and the address rules for token realms and redirects. In-process fake servers: the only way to make a server trickle bytes, reset mid-answer or name a realm on a forbidden address.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyAddress, type AddressClass } from './addresses.js';
import { blob, blobDigest, cleanup, client, collect, failure, fake, manifest, manifestDigest, ok } from './__tests__/fake-registry.js';

afterEach(cleanup);

const rawServers: Server[] = [];
afterEach(async () => {
  for (const s of rawServers.splice(0)) await new Promise((r) => s.close(r));
});

/** A TCP listener on another loopback address that only counts connections: proof that nothing went there. */
async function tripwire(host = '127.0.0.2'): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets: Socket[] = [];
  const s = createServer((sock) => {
    n++;
    sockets.push(sock);
    sock.destroy();
  });
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  rawServers.push(s);
  return { port: (s.address() as AddressInfo).port, connections: () => n };
}

/** The fake registry on 127.0.0.1 declared a public address, as a registry on the internet would be. */
const asPublic = (ip: string): AddressClass => (ip === '127.0.0.1' ? 'public' : classifyAddress(ip));

describe('address classes', () => {
  it('classifies loopback, link-local, private, unspecified and public addresses (v4, v6, v4-mapped)', () => {
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('127.9.9.9')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('169.254.169.254')).toBe('link-local');
    expect(classifyAddress('fe80::1')).toBe('link-local');
    expect(classifyAddress('10.1.2.3')).toBe('private');
    expect(classifyAddress('172.16.0.1')).toBe('private');
    expect(classifyAddress('172.32.0.1')).toBe('public');
    expect(classifyAddress('192.168.1.1')).toBe('private');
    expect(classifyAddress('100.64.0.1')).toBe('private');
    expect(classifyAddress('fd00::1')).toBe('private');
    expect(classifyAddress('0.0.0.0')).toBe('unspecified');
    expect(classifyAddress('::')).toBe('unspecified');
    expect(classifyAddress('8.8.8.8')).toBe('public');
    expect(classifyAddress('2001:db8::1')).toBe('public');
    expect(classifyAddress('::ffff:8.8.8.8')).toBe('public');
  });
});

describe('request deadlines', () => {
  it('ends a manifest trickled a byte at a time at the deadline, naming the request', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(manifest.length) });
      let i = 0;
      const t = setInterval(() => (i < manifest.length ? res.write(manifest.subarray(i, ++i)) : clearInterval(t)), 50);
      res.on('close', () => clearInterval(t));
    });
    // The idle timeout (1 s) never fires: a byte comes every 50 ms. The deadline does.
    const c = client(f.host, { timeoutMs: 1000, requestTimeoutMs: 600 });
    const started = Date.now();
    const e = await failure(c.getManifest('app', 'v1'));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e.code).toBe('Network');
    expect(e.message).toContain(`GET manifest app:v1 on ${f.host}`);
    expect(e.message).toContain('0.6 s');
  });

  it('takes the deadline from SystemContext.requestTimeoutMs (the --timeout flag)', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': '100' });
      res.write('{');
    });
    const c = client(f.host, { timeoutMs: 5000, ctx: { requestTimeoutMs: 300 } });
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('Network');
    expect(e.message).toMatch(/manifest app:v1 .*0\.3 s/);
  });

  it('ends a trickled blob at its size-scaled deadline, naming the blob', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': String(blob.length) });
      const t = setInterval(() => res.write(blob.subarray(0, 1)), 50);
      res.on('close', () => clearInterval(t));
    });
    const c = client(f.host, { timeoutMs: 1000, requestTimeoutMs: 300 });
    const started = Date.now();
    const e = await failure(collect(await c.getBlob('app', blobDigest, { size: blob.length })));
    // 300 ms + 300 000 bytes at 64 KiB/s ≈ 4.9 s: the blob's own deadline, not the manifest's.
    expect(Date.now() - started).toBeGreaterThan(4000);
    expect(e.code).toBe('Network');
    expect(e.message).toContain(`GET blob ${blobDigest} in app on ${f.host}`);
  }, 15_000);

  it('names the request when the connection breaks off mid-manifest', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': String(manifest.length) });
      res.write(manifest.subarray(0, 10));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const c = client(f.host, { ctx: { retryTimes: 0 } });
    const e = await failure(c.getManifest('app', 'v1'));
    expect(e.code).toBe('Network');
    expect(e.message).toContain(`manifest app:v1: GET http://${f.host}/v2/app/manifests/v1`);
  });
});

describe('Retry-After', () => {
  it('fails at once, saying so, when a registry asks to wait an hour', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(429, { 'retry-after': '3600' }).end();
    });
    const sleeps: number[] = [];
    const c = client(f.host, {}, sleeps);
    const e = await failure(c.getManifest('app', manifestDigest));
    expect(e.code).toBe('RemoteError');
    expect(e.message).toMatch(/429 and asks to wait 3600 s \(Retry-After\); dsv waits at most 30 s/);
    expect(sleeps).toEqual([]);
  });

  it('shows a wait it honours through debug and onProgress', async () => {
    let n = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (n++ === 0) return res.writeHead(503, { 'retry-after': '2' }).end();
      ok(res, manifest, 'application/vnd.oci.image.manifest.v1+json');
    });
    const sleeps: number[] = [];
    const debug: string[] = [];
    const progress: string[] = [];
    const c = client(f.host, { ctx: { onProgress: (p) => progress.push(p.id) } }, sleeps, debug);
    await c.getManifest('app', manifestDigest);
    expect(sleeps).toEqual([2000]);
    expect(debug.some((m) => /503; retry 1\/\d+ in 2000 ms \(Retry-After\)/.test(m))).toBe(true);
    expect(progress).toEqual([`manifest app@${manifestDigest}: registry asked to wait 2 s (Retry-After)`]);
  });

  it('does not wait past the request deadline', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(503, { 'retry-after': '20' }).end();
    });
    const sleeps: number[] = [];
    const c = client(f.host, { requestTimeoutMs: 5000 }, sleeps);
    const e = await failure(c.getManifest('app', manifestDigest));
    expect(e.code).toBe('Network');
    expect(e.message).toMatch(/waiting 20 s to retry would pass the 5 s request deadline/);
    expect(sleeps).toEqual([]);
  });
});

describe('token realms', () => {
  const creds = { username: 'u', password: 'secret-pw' };

  it('sends credentials over plain HTTP only to the registry\'s own host: not to another loopback name', async () => {
    const realm = await fake((_req, res) => ok(res, Buffer.from('{"token":"t"}')));
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${realm.port}/token",service="reg"` }).end();
    });
    const e = await failure(client(f.host, { credentials: creds }).listTags('app'));
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toContain("plain HTTP only on the registry's own host");
    expect(e.message).not.toContain('secret-pw');
    expect(realm.seen).toHaveLength(0);
  });

  it('a public registry may not name a link-local realm (cloud metadata): refused, nothing sent', async () => {
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://169.254.169.254/latest/token",service="reg"' }).end();
    });
    const started = Date.now();
    const e = await failure(client(f.host, { credentials: creds, classifyAddress: asPublic }).listTags('app'));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toBe(`registry ${f.host}: refusing token realm on 169.254.169.254: it is a link-local address, and the registry is not (nothing was sent there)`);
  });

  it('a public registry may not name a loopback realm, even over HTTPS', async () => {
    const wire = await tripwire();
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="https://127.0.0.2:${wire.port}/token",service="reg"` }).end();
    });
    const e = await failure(client(f.host, { credentials: creds, classifyAddress: asPublic }).listTags('app'));
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toContain('it is a loopback address');
    expect(wire.connections()).toBe(0);
  });

  it('a public registry may not name a host that resolves to a private address', async () => {
    const f = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.internal.test/token",service="reg"' }).end();
    });
    const c = client(f.host, {
      credentials: creds,
      classifyAddress: asPublic,
      lookup: ((host: string, _o: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) =>
        cb(null, [{ address: host === 'auth.internal.test' ? '10.0.0.7' : '127.0.0.1', family: 4 }])) as never,
    });
    const e = await failure(c.listTags('app'));
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toContain('refusing token realm on auth.internal.test: it is a private address');
  });
});

describe('redirects', () => {
  it('a public registry may not redirect a blob to loopback: refused (RemoteError), nothing sent there', async () => {
    const wire = await tripwire();
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(307, { location: `http://127.0.0.2:${wire.port}/blob` }).end();
    });
    const c = client(f.host, { classifyAddress: asPublic });
    const e = await failure(c.getBlob('app', blobDigest));
    expect(e.code).toBe('RemoteError');
    expect(e.message).toContain(`refusing redirect of blob ${blobDigest} in app on 127.0.0.2:${wire.port}: it is a loopback address`);
    expect(wire.connections()).toBe(0);
  });

  it('a redirect host that resolves public when checked and loopback when connecting (DNS rebinding) is refused', async () => {
    const wire = await tripwire();
    let asked = 0;
    const rebinding = ((host: string, _o: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) => {
      const address = host === 'cdn.rebind.test' && asked++ > 0 ? '127.0.0.2' : '127.0.0.1';
      cb(null, [{ address, family: 4 }]);
    }) as never;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(307, { location: `http://cdn.rebind.test:${wire.port}/blob` }).end();
    });
    const c = client(f.host, { classifyAddress: asPublic, lookup: rebinding, ctx: { retryTimes: 0 } });
    const e = await failure(c.getBlob('app', blobDigest));
    expect(e.code).toBe('RemoteError');
    expect(e.message).toContain('refusing to connect to cdn.rebind.test: it now resolves to a loopback address');
    expect(asked).toBe(2);
    expect(wire.connections()).toBe(0);
  });

  it('a loopback registry may redirect to another loopback address', async () => {
    const cdn = await fake((_req, res) => ok(res, blob));
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(307, { location: `http://localhost:${cdn.port}/blob` }).end();
    });
    const got = await collect(await client(f.host).getBlob('app', blobDigest));
    expect(got.equals(blob)).toBe(true);
  });
});
