// The registry signature extension API through dsv's commands and skopeo. No installable server here speaks
// the API (distribution 2.8 answers 404), so an in-process server implements exactly it — `GET /v2/` with
// `X-Registry-Supports-Signatures: 1`, `GET`/`PUT /extensions/v2/<repo>/signatures/<digest>` — in front of a
// REAL docker-registry, to which it proxies every other request. skopeo 1.9 (containers/image) writes and
// reads signatures through it too, so the fake is checked against the real client.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { runDsv, writeIn } from '../helpers/cli.js';
// skopeo asynchronously: the proxy serving it runs in this process, so its event loop must stay free.
import { skopeoAsync as skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';

let reg: StartedRegistry;
let server: Server;
let host: string;
let work: string;
let noLookaside: string;
let ours: GpgHome;
let theirs: GpgHome;
let env: NodeJS.ProcessEnv;
/** The extension's store: "<repo>@<digest>" -> signature objects, as PUT. */
const stored = new Map<string, Array<Record<string, unknown>>>();
const puts: Array<{ path: string; body: unknown }> = [];

const EXT = /^\/extensions\/v2\/(.+)\/signatures\/(sha256:[0-9a-f]{64})$/;

function proxy(req: IncomingMessage, res: ServerResponse): void {
  const [rhost, rport] = reg.host.split(':');
  const up = httpRequest({ host: rhost, port: Number(rport), method: req.method, path: req.url, headers: req.headers }, (ur) => {
    const headers = { ...ur.headers };
    if (req.url === '/v2/' || req.url === '/v2') headers['x-registry-supports-signatures'] = '1';
    res.writeHead(ur.statusCode ?? 502, headers);
    ur.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

function extension(req: IncomingMessage, res: ServerResponse, repo: string, digest: string): void {
  const key = `${repo}@${digest}`;
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ signatures: stored.get(key) ?? [] }));
    return;
  }
  if (req.method !== 'PUT') {
    res.writeHead(405).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      res.writeHead(400).end();
      return;
    }
    puts.push({ path: req.url!, body });
    // Exactly one signature object, as containers/image sends it (not a list).
    const ok = body && !Array.isArray(body) && body.schemaVersion === 2 && body.type === 'atomic' && typeof body.content === 'string'
      && typeof body.name === 'string' && new RegExp(`^${digest}@[0-9a-f]{32}$`).test(body.name);
    if (!ok) {
      res.writeHead(400).end();
      return;
    }
    stored.set(key, [...(stored.get(key) ?? []), body]);
    res.writeHead(201).end();
  });
}

const dsv = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => runDsv(args, { ...env, ...extra }, work);

const file = (name: string, body: unknown): string => writeIn(work, name, body);

async function push(repo: string, content: string): Promise<void> {
  const layout = join(work, `layout-${repo.replace(/\W/g, '_')}`);
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/ext': `${content}\n` }] }), tag: 'v1' });
  const r = await skopeo(['--insecure-policy', '--registries.d', noLookaside, 'copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host}/${repo}:v1`]);
  expect(r.code, r.out).toBe(0);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  server = createServer((req, res) => {
    const m = EXT.exec(req.url ?? '');
    if (m) extension(req, res, m[1]!, m[2]!);
    else proxy(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  work = tempDir('dsv-ext-e2e-');
  noLookaside = join(work, 'registries.d');
  mkdirSync(noLookaside);
  ours = makeGpgHome({ withKey: { name: 'Ext Signer', email: 'ext@dsv.invalid' } });
  theirs = makeGpgHome({ withKey: { name: 'Skopeo Ext Signer', email: 'skopeo-ext@dsv.invalid' } });
  file('ours.pub', ours.exportPublic());
  file('theirs.pub', theirs.exportPublic());
  file('ours.sec.asc', ours.gpg(['--armor', '--export-secret-keys', '--', ours.fingerprint]));
  env = { PATH: process.env.PATH, HOME: work };
}, 300_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

const signedBy = (key: string) => ({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, key) }] });

describe('the signature extension API', () => {
  it('dsv sign --format simple PUTs one signature object; dsv verify and skopeo read it back through GET', async () => {
    await push('app/ext', 'extension api');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--registries.d', noLookaside, `docker://${host}/app/ext:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Signature stored in the signature extension API of ${host}`);
    expect(puts).toHaveLength(1);
    expect(Object.keys(puts[0]!.body as object)).toEqual(['schemaVersion', 'name', 'type', 'content']);
    const v = await dsv(['verify', '--policy', file('ours.json', signedBy('ours.pub')), '--registries.d', noLookaside, `docker://${host}/app/ext:v1`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('signedBy: satisfied: simple signature 1 accepted');
    const sk = await skopeo(['--policy', join(work, 'ours.json'), '--registries.d', noLookaside, 'copy', '--src-tls-verify=false', `docker://${host}/app/ext:v1`, `dir:${tempDir('dsv-ext-pull-')}`]);
    expect(sk.code, sk.out).toBe(0);
    const other = await dsv(['verify', '--policy', file('theirs.json', signedBy('theirs.pub')), '--registries.d', noLookaside, `docker://${host}/app/ext:v1`]);
    expect(other.code).toBe(1);
  });

  it('skopeo copy --sign-by stores through the API (our server accepts what containers/image sends); dsv verify accepts it', async () => {
    const layout = join(work, 'layout-skopeo');
    writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/ext': 'skopeo signed\n' }] }), tag: 'v1' });
    const before = puts.length;
    const r = await skopeo(['--insecure-policy', '--registries.d', noLookaside, 'copy', '--dest-tls-verify=false', '--sign-by', theirs.fingerprint, `oci:${layout}:v1`, `docker://${host}/app/skopeo:v1`], { GNUPGHOME: theirs.home });
    expect(r.code, r.out).toBe(0);
    expect(puts.length).toBe(before + 1);
    const v = await dsv(['verify', '--policy', join(work, 'theirs.json'), '--registries.d', noLookaside, `docker://${host}/app/skopeo:v1`]);
    expect(v.code, v.all).toBe(0);
  });
});
