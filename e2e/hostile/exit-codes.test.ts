// One exit-code mapping across every command, through the BUILT bins: the same failure classes (a size
// limit, a refused HTTPS -> HTTP redirect, a network error, an authentication failure, a digest mismatch,
// an unknown key, bad usage, a stalled server past --timeout) run through dsv verify / sign / inspect,
// docker-verify, docker-sign and dsv-copy, and each class ends in the same code everywhere.
// Real docker-registry instances where a real server can produce the failure (auth, digest mismatch via
// its storage, unknown key); in-process fakes only for what no real registry does on purpose: announce a
// 64 MiB manifest, redirect blobs from HTTPS to plain HTTP, trickle an answer one byte at a time.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { freePort, removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { blobDataPath, startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const bins = {
  dsv: launcher('dsv'),
  'docker-sign': launcher('docker-sign'),
  'docker-verify': launcher('docker-verify'),
  'dsv-copy': launcher('dsv-copy'),
};
const PASS = 'exit-codes-pass';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let work: string;
let trusted: GpgHome;
let other: GpgHome;
let certsDir: string;
let baseEnv: NodeJS.ProcessEnv;
let layout: string;
let plain: StartedRegistry;
let secured: StartedRegistry;
const servers: Server[] = [];

type Command = { name: string; bin: keyof typeof bins; args: (image: string, host: string) => string[] };
/** The six commands, each given `HOST/REPO:TAG` (sign and copy also write somewhere). */
const commands = (): Command[] => [
  { name: 'dsv verify', bin: 'dsv', args: (img) => ['verify', `docker://${img}`] },
  { name: 'dsv sign', bin: 'dsv', args: (img, host) => ['sign', '--key', trusted.keyId, `docker://${img}`, `docker://${host}/out/app:signed`] },
  { name: 'dsv inspect', bin: 'dsv', args: (img) => ['inspect', `docker://${img}`] },
  { name: 'docker-verify', bin: 'docker-verify', args: (img) => ['registry', img] },
  { name: 'docker-sign', bin: 'docker-sign', args: (img, host) => ['-k', trusted.keyId, 'registry', img, `${host}/out/app:signed`] },
  { name: 'dsv-copy', bin: 'dsv-copy', args: (img) => [`docker://${img}`, `oci:${join(tempDir('dsv-exit-out-'), 'layout')}:v1`] },
];

/** Runs every command against `image` at once; extra arguments go before the command's own. */
async function everyCommand(image: string, opts: { env?: NodeJS.ProcessEnv; extra?: string[]; only?: Command[] } = {}): Promise<Map<string, Ran & { ms: number }>> {
  const host = image.split('/')[0]!;
  const list = opts.only ?? commands();
  const results = await Promise.all(
    list.map(async (c) => {
      const started = Date.now();
      const r = await runNodeScript(bins[c.bin], [...(opts.extra ?? []), ...c.args(image, host)], { env: { ...baseEnv, ...opts.env }, cwd: work });
      return [c.name, { ...r, ms: Date.now() - started }] as const;
    }),
  );
  return new Map(results);
}

function expectEverywhere(results: Map<string, Ran>, code: number, stderr: RegExp): void {
  for (const [name, r] of results) {
    expect(r.code, `${name}: ${r.all}`).toBe(code);
    expect(r.stderr, `${name}: ${r.all}`).toMatch(stderr);
    // One clear line per failure, not a stack trace.
    expect(r.stderr, `${name}`).not.toMatch(/^\s+at /m);
  }
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** A fake registry: /v2/ answers 200, everything else goes to `handler`. */
async function fakeRegistry(handler: (req: IncomingMessage, res: ServerResponse) => void, tls?: { key: Buffer; cert: Buffer }): Promise<string> {
  const route = (req: IncomingMessage, res: ServerResponse) => (req.url === '/v2/' ? res.writeHead(200, { 'content-type': 'application/json' }).end('{}') : handler(req, res));
  const port = await listen(tls ? createHttpsServer(tls, route) : createHttpServer(route));
  return `127.0.0.1:${port}`;
}

/** `dsv sign` of the sample layout into a registry with the key of `home`. */
function signInto(home: GpgHome, dest: string): void {
  const r = run(process.execPath, [bins.dsv, 'sign', '--key', home.keyId, `oci:${layout}:v1`, `docker://${dest}`], {
    env: { ...baseEnv, DSV_GPG_DATASTORE: home.home },
  });
  expect(r).toContain('Created new image');
}

/** GET a manifest from the plain registry: its bytes and config digest. */
async function manifestOf(repo: string, tag: string): Promise<{ config: string }> {
  const res = await fetch(`http://${plain.host}/v2/${repo}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
  const m = (await res.json()) as { config: { digest: string } };
  return { config: m.config.digest };
}

beforeAll(async () => {
  work = tempDir('dsv-exit-codes-');
  trusted = makeGpgHome({ withKey: { name: 'Trusted Signer', email: 'trusted@dsv.invalid', passphrase: PASS } });
  other = makeGpgHome({ withKey: { name: 'Stranger', email: 'stranger@dsv.invalid', passphrase: PASS } });
  certsDir = join(work, 'certs.d');
  mkdirSync(certsDir);
  const home = join(work, 'home');
  mkdirSync(home);
  baseEnv = { ...process.env, HOME: home, DSV_GPG_DATASTORE: trusted.home, DSV_KEYPASS: PASS, DSV_CERTS_D: certsDir, DSV_CREDENTIALS_STORE: join(work, 'no-config.json') };
  for (const k of ['DSV_SIGNER_PLUGINS', 'DSV_TIMEOUT', 'DSV_INSECURE_REGISTRIES', 'DSV_TRUST', 'DSV_GPG_TRUST', 'DSV_PKI_TRUST', 'DSV_KEYID', 'DSV_KEYTYPE']) delete baseEnv[k];
  layout = join(work, 'layout');
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello exit codes\n' }] }), tag: 'v1' });
  [plain, secured] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'tls-htpasswd' })]);
  for (const f of ['ca.crt']) {
    mkdirSync(join(certsDir, secured.host), { recursive: true });
    copyFileSync(join(secured.certsDir!, secured.host, f), join(certsDir, secured.host, f));
  }
  signInto(other, `${plain.host}/stranger/app:v1`);
  signInto(trusted, `${plain.host}/tampered/app:v1`);
  // The registry's own storage serves different bytes (same length) for the config blob.
  const { config } = await manifestOf('tampered/app', 'v1');
  const data = blobDataPath(plain, config);
  const bytes = readFileSync(data);
  bytes[bytes.length - 2] = bytes[bytes.length - 2] === 0x20 ? 0x09 : 0x20;
  writeFileSync(data, bytes);
}, 240_000);

afterAll(async () => {
  for (const s of servers) {
    (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
  await Promise.all([plain?.stop(), secured?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('one exit code per failure class, in every command', () => {
  it('a size limit (a 64 MiB manifest announced): 3 everywhere', async () => {
    const host = await fakeRegistry((_req, res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(64 * 1024 * 1024) });
      res.write('{');
    });
    expectEverywhere(await everyCommand(`${host}/app:v1`), 3, /error: .*manifest app:v1: 67108864 bytes is over the 4194304-byte limit/);
  }, 120_000);

  it('a refused HTTPS -> plain HTTP redirect of the blobs: 3 everywhere (verify used to say 1), and nothing reaches the HTTP side', async () => {
    const dir = tempDir('dsv-exit-tls-');
    run(requireTool('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE']);
    let hits = 0;
    const httpPort = await listen(createHttpServer((_req, res) => {
      hits++;
      res.writeHead(404).end();
    }));
    const manifest = readFileSync(join(layout, 'blobs', 'sha256', (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest.slice(7)));
    const host = await fakeRegistry(
      (req, res) => {
        if (req.url?.includes('/manifests/')) {
          // The image's tag (or digest); any other tag (signature tags, referrers) is unknown, as a registry says.
          if (!/\/manifests\/(v1|sha256:[0-9a-f]{64})$/.test(req.url)) {
            return res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
          }
          return res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(manifest.length) }).end(req.method === 'HEAD' ? undefined : manifest);
        }
        res.writeHead(302, { location: `http://127.0.0.1:${httpPort}${req.url}` }).end();
      },
      { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
    );
    mkdirSync(join(certsDir, host));
    copyFileSync(join(dir, 'c.pem'), join(certsDir, host, 'ca.crt'));
    expectEverywhere(await everyCommand(`${host}/app:v1`), 3, /refusing redirect from HTTPS to plain HTTP/);
    expect(hits).toBe(0);
  }, 120_000);

  it('a network error (nothing listening): 3 everywhere', async () => {
    const port = await freePort();
    expectEverywhere(await everyCommand(`127.0.0.1:${port}/app:v1`), 3, /ECONNREFUSED|connect|reach/i);
  }, 180_000);

  it('an authentication failure (a real registry, wrong password): 3 everywhere', async () => {
    const config = join(work, 'wrong-auth.json');
    writeFileSync(config, JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${secured.username}:wrong-password`).toString('base64') } } }));
    expectEverywhere(await everyCommand(`${secured.host}/app:v1`, { env: { DSV_CREDENTIALS_STORE: config } }), 3, /error: .*(401|unauthori[sz]ed|auth|credentials)/i);
  }, 120_000);

  it('a digest mismatch (a real registry whose storage holds other bytes for the config): 1 everywhere', async () => {
    expectEverywhere(await everyCommand(`${plain.host}/tampered/app:v1`), 1, /error: .*(digest|hash)/i);
  }, 120_000);

  it('an unknown key: a verdict on the image (1) when it is the image\'s signer; an input error (2) when it is the signing key given; inspect names it and exits 0', async () => {
    const verifiers = commands().filter((c) => c.name === 'dsv verify' || c.name === 'docker-verify');
    expectEverywhere(await everyCommand(`${plain.host}/stranger/app:v1`, { only: verifiers }), 1, /unknown key/);
    // `dsv copy SRC DEST` (the original's verified copy) judges the signatures as verify does.
    const copy = await runNodeScript(bins.dsv, ['copy', `docker://${plain.host}/stranger/app:v1`, `oci:${join(tempDir('dsv-exit-out-'), 'l')}:v1`], { env: baseEnv, cwd: work });
    expect(copy.code, copy.all).toBe(1);
    expect(copy.stderr).toMatch(/unknown key/);
    const inspect = await everyCommand(`${plain.host}/stranger/app:v1`, { only: commands().filter((c) => c.name === 'dsv inspect') });
    expect(inspect.get('dsv inspect')!.code, inspect.get('dsv inspect')!.all).toBe(0);
    const unknownSigningKey = '0123456789ABCDEF0123456789ABCDEF01234567';
    const signers: Command[] = [
      { name: 'dsv sign', bin: 'dsv', args: (img, host) => ['sign', '--key', unknownSigningKey, `docker://${img}`, `docker://${host}/out/app:x`] },
      { name: 'docker-sign', bin: 'docker-sign', args: (img, host) => ['-k', unknownSigningKey, 'registry', img, `${host}/out/app:x`] },
      { name: 'dsv-copy --sign-by', bin: 'dsv-copy', args: (img) => ['--sign-by', unknownSigningKey, `docker://${img}`, `oci:${join(tempDir('dsv-exit-out-'), 'l')}:v1`] },
    ];
    expectEverywhere(await everyCommand(`${plain.host}/stranger/app:v1`, { only: signers }), 2, new RegExp(unknownSigningKey.slice(-16), 'i'));
  }, 120_000);

  it('bad usage (--timeout forever): 2 everywhere, naming the option', async () => {
    expectEverywhere(await everyCommand(`${plain.host}/stranger/app:v1`, { extra: ['--timeout', 'forever'] }), 2, /invalid --timeout "forever": a duration such as 30s/);
  }, 120_000);
});

describe('--timeout against a stalled registry', () => {
  // A real registry cannot stall on purpose: the fake sends the manifest's headers, then one byte every 200 ms.
  async function trickling(): Promise<string> {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] }));
    return fakeRegistry((_req, res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(manifest.length) });
      let i = 0;
      const t = setInterval(() => (i < manifest.length ? res.write(manifest.subarray(i, ++i)) : clearInterval(t)), 200);
      res.on('close', () => clearInterval(t));
    });
  }

  it('--timeout 2s ends every command with 3 within seconds, naming the request', async () => {
    const host = await trickling();
    const results = await everyCommand(`${host}/app:v1`, { extra: ['--timeout', '2s'] });
    expectEverywhere(results, 3, new RegExp(`GET manifest app:v1 on ${host.replace(/\./g, '\\.')}: no complete answer within 2 s \\(request deadline; --timeout\\)`));
    for (const [name, r] of results) expect(r.ms, name).toBeLessThan(30_000);
  }, 120_000);

  it('DSV_TIMEOUT does the same when no --timeout is given', async () => {
    const host = await trickling();
    const results = await everyCommand(`${host}/app:v1`, { env: { DSV_TIMEOUT: '1500ms' }, only: commands().filter((c) => c.name === 'dsv verify' || c.name === 'docker-verify') });
    expectEverywhere(results, 3, /no complete answer within 1\.5 s/);
  }, 120_000);
});
