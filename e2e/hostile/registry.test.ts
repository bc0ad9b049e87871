// Regression tests for hostile registries (round two), through the docker transport as `dsv verify` and `dsv copy` use it: a manifest trickled byte by byte, an hour-long Retry-After, a connection reset mid-answer, token realms and redirects aimed at loopback and link-local addresses. In-process fake servers on loopback: no real registry can be made to misbehave like this. A registry "on the internet" is a loopback fake declared public through the transport's classifyAddress option (production classifies strictly).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf, isDsvError, type ImageSource, type SystemContext } from '@dsv/core';
import { classifyAddress, createDockerTransport } from '@dsv/source-registry';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 },
    layers: [],
  }),
);
const layer = Buffer.alloc(4096, 7);
const layerDigest = digestOf(layer);

async function registry(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A listener on another loopback address that counts connections: proof nothing was sent there. */
async function tripwire(): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server = createNetServer((s) => {
    hits++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', () => r()));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

const ctx: SystemContext = { certsDirs: [], insecureRegistries: [], credentialsStore: '/nonexistent/config.json', retryTimes: 2 };

async function source(host: string, extra: Partial<SystemContext> = {}, asPublic = false): Promise<ImageSource> {
  const transport = createDockerTransport({
    credentials: { username: 'alice', password: 'pa55-secret' },
    // The fake registry's own address, 127.0.0.1, counts as public; every other address as in production.
    ...(asPublic ? { classifyAddress: (ip: string) => (ip === '127.0.0.1' ? 'public' : classifyAddress(ip)) } : {}),
  });
  const src = await transport.parseReference(`//${host}/app:v1`).newSource({ ...ctx, ...extra });
  closers.push(() => src.close());
  return src;
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

describe('hostile registry: deadlines and waits', () => {
  it('a manifest sent one byte at a time ends at --timeout (requestTimeoutMs), naming the request', async () => {
    const reg = await registry((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(manifest.length) });
      let i = 0;
      const t = setInterval(() => (i < manifest.length ? res.write(manifest.subarray(i, ++i)) : clearInterval(t)), 100);
      res.on('close', () => clearInterval(t));
    });
    const src = await source(reg.host, { requestTimeoutMs: 1500 });
    const started = Date.now();
    const e = await failure(src.getManifest());
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.code).toBe('Network');
    expect(e.message).toBe(`GET manifest app:v1 on ${reg.host}: no complete answer within 1.5 s (request deadline; --timeout)`);
  });

  it('a 429 with Retry-After: 3600 fails at once, saying so', async () => {
    const reg = await registry((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      res.writeHead(429, { 'retry-after': '3600' }).end();
    });
    const src = await source(reg.host);
    const started = Date.now();
    const e = await failure(src.getManifest());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.code).toBe('RemoteError');
    expect(e.message).toContain('answered 429 and asks to wait 3600 s (Retry-After); dsv waits at most 30 s');
    expect(reg.seen.filter((s) => s.includes('/manifests/'))).toHaveLength(1);
  });

  it('a connection reset mid-blob names the request (method, blob digest, host)', async () => {
    const reg = await registry((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      res.writeHead(200, { 'content-length': String(layer.length) });
      res.write(layer.subarray(0, 100));
      setTimeout(() => res.socket?.resetAndDestroy(), 20);
    });
    const src = await source(reg.host, { retryTimes: 0 });
    const stream = await src.getBlob({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length });
    const e = await failure((async () => {
      for await (const _ of stream) void _;
    })());
    expect(e.code).toBe('Network');
    expect(e.message).toContain(`blob ${layerDigest} in app: download broke off after 100 bytes: GET http://${reg.host}/v2/app/blobs/${layerDigest}`);
  });
});

describe('hostile registry: where it may send dsv', () => {
  it('a plain-HTTP realm on another host never receives the credentials', async () => {
    const realm = await registry((_req, res) => res.writeHead(200).end('{"token":"t"}'));
    const port = realm.host.split(':')[1];
    const reg = await registry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${port}/token",service="r"` }).end();
    });
    const src = await source(reg.host);
    const e = await failure(src.getManifest());
    expect(e.code).toBe('AuthFailed');
    expect(e.message).not.toContain('pa55-secret');
    expect(realm.seen).toHaveLength(0);
  });

  it('a public registry naming a link-local realm (169.254.169.254) is refused without contacting it', async () => {
    const reg = await registry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://169.254.169.254/latest/api/token",service="r"' }).end();
    });
    const src = await source(reg.host, {}, true);
    const started = Date.now();
    const e = await failure(src.getManifest());
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toBe(`registry ${reg.host}: refusing token realm on 169.254.169.254: it is a link-local address, and the registry is not (nothing was sent there)`);
  });

  it('a public registry naming a loopback realm is refused; nothing reaches it', async () => {
    const wire = await tripwire();
    const reg = await registry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="https://127.0.0.2:${wire.port}/token",service="r"` }).end();
    });
    const e = await failure((await source(reg.host, {}, true)).getManifest());
    expect(e.code).toBe('AuthFailed');
    expect(e.message).toContain('it is a loopback address');
    expect(wire.hits()).toBe(0);
  });

  it('a public registry redirecting a blob to loopback is refused; nothing reaches it', async () => {
    const wire = await tripwire();
    const reg = await registry((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      res.writeHead(302, { location: `http://127.0.0.2:${wire.port}/layer` }).end();
    });
    const src = await source(reg.host, {}, true);
    const e = await failure(src.getBlob({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }));
    expect(e.code).toBe('RemoteError');
    expect(e.message).toContain(`refusing redirect of blob ${layerDigest} in app on 127.0.0.2:${wire.port}: it is a loopback address`);
    expect(wire.hits()).toBe(0);
  });
});
