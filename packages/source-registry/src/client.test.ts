// Fault injection against an in-process node:http server: faults a real registry cannot produce.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf, isDsvError } from '@dsv/core';
import { RegistryClient, nextLink, type RegistryClientOptions } from './client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, seen: Seen[]) => unknown;

interface Fake {
  server: Server;
  port: number;
  host: string;
  seen: Seen[];
}

const servers: Server[] = [];
const clients: RegistryClient[] = [];

async function fake(handler: Handler, opts: { streamBody?: boolean } = {}): Promise<Fake> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const done = () => {
      const body = Buffer.concat(chunks);
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      Promise.resolve(handler(req, res, body, seen)).catch((e) => {
        res.statusCode = 599;
        res.end(String(e));
      });
    };
    if (opts.streamBody) return done();
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', done);
    req.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  return { server, port, host: `127.0.0.1:${port}`, seen };
}

/** Resolves every name to 127.0.0.1, so "foreign" hosts are other in-process servers. */
const lookupLoopback: LookupFunction = ((_host: string, options: unknown, cb: unknown) => {
  const callback = (typeof options === 'function' ? options : cb) as (...a: unknown[]) => void;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
  if (all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as LookupFunction;

function client(host: string, extra: Partial<RegistryClientOptions> = {}, sleeps: number[] = [], debug: string[] = []): RegistryClient {
  const c = new RegistryClient({
    registry: host,
    credentials: null,
    retryBaseDelayMs: 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    lookup: lookupLoopback,
    ...extra,
    ctx: { certsDirs: [], insecureRegistries: [], debug: (m) => debug.push(m), ...extra.ctx },
  });
  clients.push(c);
  return c;
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isDsvError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
const manifestDigest = digestOf(manifest);
const blob = Buffer.alloc(300_000);
for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
const blobDigest = digestOf(blob);

function ok(res: ServerResponse, body: Buffer, type = 'application/octet-stream'): void {
  res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
  res.end(body);
}

describe('RegistryClient against a fault-injecting server', () => {
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

  it('resumes a blob download that breaks off mid-way with a Range request', async () => {
    let calls = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      if (!m) return ok(res, blob);
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': String(blob.length - start), 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
      res.end(blob.subarray(start));
    });
    const c = client(f.host);
    const got = await collect(await c.getBlob('app', blobDigest, { size: blob.length }));
    expect(got.equals(blob)).toBe(true);
    expect(c.stats.resumes).toBe(1);
    const second = f.seen.filter((s) => s.url.includes('/blobs/'))[1]!;
    expect(second.headers.range).toMatch(/^bytes=\d+-$/);
  });

  it('restarts a broken download when the server ignores Range, skipping what was delivered', async () => {
    let calls = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (++calls === 1) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 120_000), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      ok(res, blob);
    });
    const c = client(f.host);
    const got = await collect(await c.getBlob('app', blobDigest));
    expect(got.equals(blob)).toBe(true);
  });

  it('fails the stream (no clean end) when blob bytes do not match the digest', async () => {
    const bad = Buffer.from(blob);
    bad[1000] ^= 1;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      ok(res, bad);
    });
    const c = client(f.host);
    const s = await c.getBlob('app', blobDigest, { size: blob.length });
    const e = await failure(collect(s));
    expect(e.code).toBe('DigestMismatch');
    expect(e.message).toContain(blobDigest);
  });

  it('refuses a blob longer than its descriptor before reading it all', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      ok(res, blob);
    });
    const c = client(f.host);
    const e = await failure(collect(await c.getBlob('app', blobDigest, { size: 10 })));
    expect(e.code).toBe('SizeMismatch');
  });

  it('a blob download is paced by its reader: a reader that stops stops the transfer, and destroying it ends the request', async () => {
    let written = 0;
    let closed = false;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': String(1 << 30) });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && written < 1 << 30) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => (closed = true));
      pump();
    });
    const c = client(f.host);
    const s = await c.getBlob('app', blobDigest, { verify: false });
    const first = await new Promise<Buffer>((r) => s.once('data', (d: Buffer) => (s.pause(), r(d))));
    expect(first.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    // What the socket buffers and one stream buffer hold, not the gigabyte on offer.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(s.readableLength).toBeLessThanOrEqual(128 * 1024);
    s.destroy();
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
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

  it('follows Link pagination for tags and refuses a link to another origin', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    let foreign = false;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      const u = new URL(req.url!, 'http://x');
      const n = Number(u.searchParams.get('n') ?? 100);
      const last = u.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start + n < all.length) {
        headers.link = foreign
          ? `<http://elsewhere.test/v2/app/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`
          : `</v2/app/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: 'app', tags: page }));
    });
    const c = client(f.host);
    expect(await c.listTags('app', { pageSize: 2 })).toEqual(all);
    expect(f.seen.filter((s) => s.url.includes('tags/list'))).toHaveLength(3);
    foreign = true;
    expect((await failure(c.listTags('app', { pageSize: 2 }))).code).toBe('RemoteError');
  });
});

/** A small in-memory upload endpoint: POST/PATCH/PUT/DELETE, recording what happened. */
function uploadServer(state: { data: Buffer[]; puts: Seen[]; deletes: number; patches: Seen[] }): Handler {
  return (req, res, body) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/v2/') return ok(res, Buffer.from('{}'));
    if (req.method === 'POST') {
      state.data = [];
      res.writeHead(202, { location: `/v2/app/blobs/uploads/u1?_state=abc` });
      return res.end();
    }
    if (req.method === 'PATCH') {
      state.patches.push({ method: 'PATCH', url: req.url!, headers: req.headers, body });
      state.data.push(body);
      res.writeHead(202, { location: `/v2/app/blobs/uploads/u1?_state=abc${state.patches.length}`, range: `0-${Buffer.concat(state.data).length - 1}` });
      return res.end();
    }
    if (req.method === 'PUT') {
      state.puts.push({ method: 'PUT', url: req.url!, headers: req.headers, body });
      state.data.push(body);
      res.writeHead(201, { location: `/v2/app/blobs/${u.searchParams.get('digest')}` });
      return res.end();
    }
    if (req.method === 'DELETE') {
      state.deletes++;
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(405).end();
  };
}

describe('RegistryClient uploads', () => {
  const small = Buffer.from('hello layer');
  const cases: Array<{ name: string; data: Buffer; opts: (d: Buffer) => { size?: number; chunkSize?: number }; stat: 'monolithicUploads' | 'streamedUploads' | 'chunkedUploads'; client?: Partial<RegistryClientOptions> }> = [
    { name: 'monolithic', data: small, opts: (d) => ({ size: d.length }), stat: 'monolithicUploads' },
    { name: 'streamed PATCH (size unknown)', data: blob, opts: () => ({}), stat: 'streamedUploads' },
    { name: 'streamed PUT (size known)', data: blob, opts: (d) => ({ size: d.length }), stat: 'streamedUploads', client: { monolithicMaxBytes: 1024 } },
    { name: 'chunked', data: blob, opts: (d) => ({ size: d.length, chunkSize: 65_536 }), stat: 'chunkedUploads' },
  ];
  for (const tc of cases) {
    it(`${tc.name}: stores the bytes and commits with ?digest=`, async () => {
      const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
      const f = await fake(uploadServer(state));
      const c = client(f.host, tc.client);
      await c.uploadBlob('app', digestOf(tc.data), Readable.from([tc.data.subarray(0, 5), tc.data.subarray(5)]), tc.opts(tc.data));
      expect(Buffer.concat(state.data).equals(tc.data)).toBe(true);
      expect(state.puts).toHaveLength(1);
      expect(new URL(state.puts[0]!.url, 'http://x').searchParams.get('digest')).toBe(digestOf(tc.data));
      expect(state.deletes).toBe(0);
      expect(c.stats[tc.stat]).toBe(1);
      if (tc.name.startsWith('streamed PUT')) {
        expect(state.patches).toHaveLength(0);
        expect(state.puts[0]!.headers['content-length']).toBe(String(tc.data.length));
      }
      if (tc.name === 'chunked') {
        expect(state.patches.length).toBe(Math.ceil(blob.length / 65_536));
        expect(state.patches[1]!.headers['content-range']).toBe(`65536-131071`);
      }
    });

    it(`${tc.name}: cancels the upload and never sends the final PUT when the bytes do not match`, async () => {
      const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
      const f = await fake(uploadServer(state));
      const c = client(f.host, tc.client);
      const wrong = Buffer.from(tc.data);
      wrong[3] ^= 0xff;
      const e = await failure(c.uploadBlob('app', digestOf(tc.data), Readable.from([wrong]), tc.opts(tc.data)));
      expect(e.code).toBe('DigestMismatch');
      expect(state.puts).toHaveLength(0);
      expect(state.deletes).toBe(1);
    });
  }

  it('treats a commit whose answer was lost as done when the registry has the blob', async () => {
    let stored = false;
    const data = Buffer.from('lost answer');
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (req.method === 'POST') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1' }).end();
      if (req.method === 'PUT' && !stored) {
        stored = true;
        return res.socket?.destroy();
      }
      if (req.method === 'PUT') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
      }
      if (req.method === 'HEAD') return res.writeHead(stored ? 200 : 404).end();
      res.writeHead(204).end();
    });
    const c = client(f.host);
    await c.uploadBlob('app', digestOf(data), Readable.from([data]), { size: data.length });
    expect(f.seen.filter((s) => s.method === 'PUT')).toHaveLength(2);
    expect(f.seen.some((s) => s.method === 'DELETE')).toBe(false);
  });

  it('cancels when the source is longer than the descriptor says', async () => {
    const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
    const f = await fake(uploadServer(state));
    const c = client(f.host);
    const e = await failure(c.uploadBlob('app', digestOf(blob), Readable.from([blob]), { size: 1000, chunkSize: 4096 }));
    expect(e.code).toBe('SizeMismatch');
    expect(state.puts).toHaveLength(0);
    expect(state.deletes).toBe(1);
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

describe('nextLink', () => {
  it('parses rel="next" among several links', () => {
    const base = new URL('http://r:5000/v2/a/tags/list?n=2');
    expect(nextLink(['</v2/a/tags/list?last=b&n=2>; rel="next"'], base)?.href).toBe('http://r:5000/v2/a/tags/list?last=b&n=2');
    expect(nextLink(['<http://r:5000/x>; rel="prev", </y?a=1>; rel=next'], base)?.href).toBe('http://r:5000/y?a=1');
    expect(nextLink(['</z>; rel="prev"'], base)).toBeUndefined();
  });
});
