// An in-process registry signature extension API (as OpenShift's registry and Pulp serve it) in front of a
// real docker-registry: no installable server here speaks it. `GET /v2/` answers with
// `X-Registry-Supports-Signatures: 1`; GET / PUT `/extensions/v2/<repo>/signatures/<digest>` are served
// from memory (PUT: one signature object per request, as containers/image sends it); every other request is
// proxied unchanged (Host kept, so upload Locations point back here) to the real registry.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ExtensionServer {
  /** host:port of the proxy (loopback, plain HTTP). */
  host: string;
  /** Signatures stored per `<repo>@<digest>` (decoded contents). */
  signatures: Map<string, Buffer[]>;
  /** Every PUT body received, as JSON. */
  puts: unknown[];
  stop(): Promise<void>;
}

const EXT = /^\/extensions\/v2\/(.+)\/signatures\/(sha256:[0-9a-f]{64})$/;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startExtensionServer(upstream: string): Promise<ExtensionServer> {
  const signatures = new Map<string, Buffer[]>();
  const puts: unknown[] = [];
  const [upHost, upPort] = upstream.split(':');
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const ext = EXT.exec(path);
    if (ext) {
      const key = `${ext[1]}@${ext[2]}`;
      if (req.method === 'GET') {
        const list = (signatures.get(key) ?? []).map((c, i) => ({ schemaVersion: 2, name: `${ext[2]}@${String(i).padStart(32, '0')}`, type: 'atomic', content: c.toString('base64') }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signatures: list }));
        return;
      }
      if (req.method === 'PUT') {
        const body = JSON.parse((await readBody(req)).toString('utf8')) as { schemaVersion: number; type: string; content: string };
        puts.push(body);
        if (body.schemaVersion !== 2 || body.type !== 'atomic' || typeof body.content !== 'string') {
          res.writeHead(400).end();
          return;
        }
        signatures.set(key, [...(signatures.get(key) ?? []), Buffer.from(body.content, 'base64')]);
        res.writeHead(201).end();
        return;
      }
      res.writeHead(405).end();
      return;
    }
    const up = request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers }, (r) => {
      const headers = { ...r.headers };
      if (path === '/v2/' || path === '/v2') headers['x-registry-supports-signatures'] = '1';
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    signatures,
    puts,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
