// A fault-injecting in-process registry for the client's unit tests: faults a real registry cannot produce.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { digestOf, isDsvError } from '@dsv/core/formats';
import { RegistryClient, type RegistryClientOptions } from '../client.js';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, seen: Seen[]) => unknown;

export interface Fake {
  server: Server;
  port: number;
  host: string;
  seen: Seen[];
}

/** Servers to close after each test. */
export const servers: Server[] = [];
const clients: RegistryClient[] = [];

export async function fake(handler: Handler, opts: { streamBody?: boolean } = {}): Promise<Fake> {
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
export const lookupLoopback: LookupFunction = ((_host: string, options: unknown, cb: unknown) => {
  const callback = (typeof options === 'function' ? options : cb) as (...a: unknown[]) => void;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
  if (all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as LookupFunction;

export function client(host: string, extra: Partial<RegistryClientOptions> = {}, sleeps: number[] = [], debug: string[] = []): RegistryClient {
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

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isDsvError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

/** Closes every client and server the test made (call from afterEach). */
export async function cleanup(): Promise<void> {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

export const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
export const manifestDigest = digestOf(manifest);
export const blob = Buffer.alloc(300_000);
for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
export const blobDigest = digestOf(blob);

export function ok(res: ServerResponse, body: Buffer, type = 'application/octet-stream'): void {
  res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
  res.end(body);
}

/** A small in-memory upload endpoint: POST/PATCH/PUT/DELETE, recording what happened. */
export function uploadServer(state: { data: Buffer[]; puts: Seen[]; deletes: number; patches: Seen[] }): Handler {
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
