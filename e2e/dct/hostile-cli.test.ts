// Hostile trust servers through the built dsv: faults no real notary-server produces, so the server here is
// an in-process HTTPS server (a test CA made with openssl, trusted through $DOCKER_CONFIG/tls/<host:port>/ca.crt
// as the docker CLI trusts it). A redirect to another host, a root whose signature does not verify, a key id
// that is not its key's: each one clear line, exit 1, and nothing pinned in the trust dir. A root.json over
// the size cap: one line, nothing pinned, exit 3 (every command's mapping: a size limit is operational).
import { createServer, type Server } from 'node:https';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { makeTestTls } from '../helpers/tls.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const GUN = 'registry.invalid:5000/app/hostile';
let server: Server;
let url: string;
let work: string;
let dockerConfig: string;
/** What the fake serves for the next request: a status, headers and a body. */
let answer: (path: string) => { status: number; headers?: Record<string, string>; body?: string | Buffer } = () => ({ status: 404 });

function dsv(args: string[]): Promise<Ran> {
  return runNodeScript(join(root, 'apps/cli/bin/dsv.js'), args, { env: { PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: dockerConfig }, cwd: work });
}
const pinned = () => existsSync(join(dockerConfig, 'trust', 'tuf', GUN, 'metadata', 'root.json'));

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-dct-hostile-');
  const tls = makeTestTls(work, { cn: 'dsv hostile trust CA', digitalSignature: false });
  server = createServer({ key: readFileSync(tls.serverKey), cert: readFileSync(tls.serverCert) }, (req, res) => {
    const a = answer(req.url ?? '/');
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  url = `https://${host}`;
  dockerConfig = join(work, 'docker');
  mkdirSync(join(dockerConfig, 'tls', host), { recursive: true });
  writeFileSync(join(dockerConfig, 'tls', host, 'ca.crt'), readFileSync(tls.caCert));
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  removeTempDirs();
});

describe('hostile trust servers: one line, nothing pinned', () => {
  it('a redirect to another host is refused', async () => {
    answer = () => ({ status: 307, headers: { location: 'https://evil.invalid/v2/x/_trust/tuf/root.json' } });
    const r = await dsv(['verify', '--dct', '--server', url, `${GUN}:1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`dsv: error: ${GUN}:1: trust server redirected ${GUN} root to another host (evil.invalid); refused`]);
    expect(pinned()).toBe(false);
  });

  it('a root.json over the size cap is refused before it is read whole (exit 3, as every size limit)', async () => {
    answer = (p) => (p.endsWith('/root.json') ? { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(600 * 1024, 0x20) } : { status: 404 });
    const r = await dsv(['trust', 'inspect', '--server', url, GUN]);
    expect(r.code, r.all).toBe(3);
    expect(r.stderr.trim()).toBe(`dsv: error: ${GUN} root is larger than 524288 bytes`);
    expect(pinned()).toBe(false);
  });

  it('a root whose signature does not verify (threshold not met), and a key id that is not its key\'s', async () => {
    // notary's canonical JSON of a key: sorted keys, no spaces, the private part null.
    const key = { keytype: 'ed25519', keyval: { private: null, public: Buffer.alloc(32, 1).toString('base64') } };
    const { createHash } = await import('node:crypto');
    const canon = JSON.stringify(key);
    const id = createHash('sha256').update(canon).digest('hex');
    const signed = {
      _type: 'Root', consistent_snapshot: false, expires: '2099-01-01T00:00:00Z', version: 1,
      keys: { [id]: key },
      roles: { root: { keyids: [id], threshold: 1 }, targets: { keyids: [id], threshold: 1 }, snapshot: { keyids: [id], threshold: 1 }, timestamp: { keyids: [id], threshold: 1 } },
    };
    const body = JSON.stringify({ signed, signatures: [{ keyid: id, method: 'eddsa', sig: Buffer.alloc(64, 2).toString('base64') }] });
    answer = (p) => (p.endsWith('/root.json') ? { status: 200, headers: { 'content-type': 'application/json' }, body } : { status: 404 });
    const r = await dsv(['verify', '--dct', '--json', '--server', url, `${GUN}:1`]);
    expect(r.code, r.all).toBe(1);
    expect(JSON.parse(r.stdout).results[0].error.code).toMatch(/SignatureInvalid|Untrusted/);
    expect(r.stderr).toMatch(/root/);
    expect(pinned()).toBe(false);
    // The same root naming its key by an id that is not that key's.
    const forged = body.replaceAll(id, 'ab'.repeat(32));
    answer = (p) => (p.endsWith('/root.json') ? { status: 200, headers: { 'content-type': 'application/json' }, body: forged } : { status: 404 });
    const f = await dsv(['verify', '--dct', '--server', url, `${GUN}:1`]);
    expect(f.code, f.all).toBe(1);
    expect(f.stderr).toContain(`key id ${'ab'.repeat(32)} does not match its key`);
    expect(pinned()).toBe(false);
  });
});
