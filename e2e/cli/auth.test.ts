// Registry credentials as docker and skopeo users expect them, through the BUILT bins against the real
// docker-registry (TLS + htpasswd Basic auth, and token auth) and the real skopeo: DOCKER_CONFIG,
// REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR/containers/auth.json, --authfile, --creds, dsv-copy's --src-/--dest-
// forms, dsv login / logout (file and a docker-credential-<name> helper script on PATH: the credential
// helper protocol has no server of its own here, the script is a real program speaking it).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { skopeoOkAsync as skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const bins = { dsv: launcher('dsv'), 'dsv-copy': launcher('dsv-copy') };

let tls: StartedRegistry;
let tok: StartedRegistry;
let work: string;
let baseEnv: NodeJS.ProcessEnv;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  all: string;
}

/** A built bin as a child, with `input` on stdin (no terminal). */
function bin(name: keyof typeof bins, args: string[], env: NodeJS.ProcessEnv = {}, input = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bins[name], ...args], { env: { ...baseEnv, ...env }, cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, all: `${stdout}${stderr}` });
    });
    child.stdin.end(input);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** A docker config.json / auth.json with one auths entry. */
function authFile(path: string, host: string, user: string, pass: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${pass}`) } } }));
  return path;
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [tls, tok] = await Promise.all([startRegistry({ mode: 'tls-htpasswd' }), startRegistry({ mode: 'token' })]);
  work = tempDir('dsv-auth-e2e-');
  baseEnv = { PATH: process.env.PATH, HOME: join(work, 'home'), DSV_CERTS_D: tls.certsDir! };
  mkdirSync(join(work, 'home'));
  const sample = join(work, 'sample-oci');
  writeOciLayout(sample, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/auth': 'auth e2e\n' }] }), tag: '1' });
  await skopeo(['copy', '--quiet', ...tls.skopeoFlags('dest'), `oci:${sample}:1`, `docker://${tls.host}/auth/app:1`]);
  await skopeo(['copy', '--quiet', ...tok.skopeoFlags('dest'), `oci:${sample}:1`, `docker://${tok.host}/auth/app:1`]);
}, 300_000);

afterAll(async () => {
  await Promise.all([tls?.stop(), tok?.stop()]);
  removeTempDirs();
});

describe('credentials from the environment and flags (skopeo\'s order)', () => {
  it('honours DOCKER_CONFIG, and an anonymous refusal names the files it looked in', async () => {
    const dc = join(work, 'dc1');
    authFile(join(dc, 'config.json'), tls.host, tls.username!, tls.password!);
    const ok = await bin('dsv', ['inspect', `${tls.host}/auth/app:1`], { DOCKER_CONFIG: dc });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const anon = await bin('dsv', ['inspect', `${tls.host}/auth/app:1`]);
    expect(anon.code).toBe(3);
    expect(anon.stderr).toContain(`refused anonymous access (no credentials for ${tls.host} in ${join(work, 'home', '.config', 'containers', 'auth.json')}, ${join(work, 'home', '.docker', 'config.json')})`);
    const copied = await bin('dsv-copy', [`docker://${tls.host}/auth/app:1`, `oci:${join(work, 'out-dc')}:1`], { DOCKER_CONFIG: dc });
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
  });

  it('REGISTRY_AUTH_FILE is the only file asked; --authfile wins over it; --creds over both; refused credentials name their source', async () => {
    const good = authFile(join(work, 'good-auth.json'), tls.host, tls.username!, tls.password!);
    const bad = authFile(join(work, 'bad-auth.json'), tls.host, tls.username!, 'wrong-password-1');
    const dc = join(work, 'dc2');
    authFile(join(dc, 'config.json'), tls.host, tls.username!, tls.password!);
    const img = `${tls.host}/auth/app:1`;
    expect((await bin('dsv', ['inspect', img], { REGISTRY_AUTH_FILE: good })).code).toBe(0);
    const exclusive = await bin('dsv', ['inspect', img], { REGISTRY_AUTH_FILE: bad, DOCKER_CONFIG: dc });
    expect(exclusive.code).toBe(3);
    expect(exclusive.stderr).toContain(`refused the credentials (credentials from ${bad})`);
    expect(exclusive.all).not.toContain('wrong-password-1');
    expect((await bin('dsv', ['inspect', '--authfile', good, img], { REGISTRY_AUTH_FILE: bad })).code).toBe(0);
    const creds = await bin('dsv', ['verify', '--no-check-signatures', '--authfile', bad, '--creds', `${tls.username}:${tls.password}`, img]);
    expect(creds.stderr).toBe('');
    expect(creds.code).toBe(0);
    const wrong = await bin('dsv', ['inspect', '--creds', `${tls.username}:not-the-password-2`, img], { DOCKER_CONFIG: dc });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`(credentials from --creds (user ${tls.username}))`);
    expect(wrong.all).not.toContain('not-the-password-2');
    const noPass = await bin('dsv', ['inspect', '--creds', tls.username!, img]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toBe(`dsv: error: --creds ${tls.username} has no password and there is no terminal to ask for it: give --creds USER:PASSWORD\n`);
  });

  it('${XDG_RUNTIME_DIR}/containers/auth.json comes before DOCKER_CONFIG', async () => {
    const xdg = join(work, 'xdg');
    authFile(join(xdg, 'containers', 'auth.json'), tls.host, tls.username!, tls.password!);
    const dc = join(work, 'dc3');
    authFile(join(dc, 'config.json'), tls.host, tls.username!, 'stale-password-3');
    const r = await bin('dsv', ['inspect', `${tls.host}/auth/app:1`], { XDG_RUNTIME_DIR: xdg, DOCKER_CONFIG: dc });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('dsv-copy: --src-creds and --dest-authfile for two registries (Basic and token auth), --digestfile as skopeo writes it', async () => {
    const destAuth = authFile(join(work, 'tok-auth.json'), tok.host, tok.username!, tok.password!);
    const digestFile = join(work, 'copy.digest');
    const r = await bin('dsv-copy', [
      '--src-creds', `${tls.username}:${tls.password}`,
      '--dest-authfile', destAuth,
      '--digestfile', digestFile,
      `docker://${tls.host}/auth/app:1`, `docker://${tok.host}/auth/copied:1`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.all).not.toContain(tls.password!);
    const inspected = JSON.parse(await skopeo(['inspect', ...tok.skopeoFlags(''), `docker://${tok.host}/auth/copied:1`])) as { Digest: string };
    expect(readFileSync(digestFile, 'utf8')).toBe(inspected.Digest);
    // skopeo writes the same file for the same copy.
    const skopeoDigest = join(work, 'skopeo.digest');
    await skopeo(['copy', '--quiet', ...tls.skopeoFlags('src'), ...tok.skopeoFlags('dest'), '--digestfile', skopeoDigest, `docker://${tls.host}/auth/app:1`, `docker://${tok.host}/auth/copied:2`]);
    expect(readFileSync(skopeoDigest, 'utf8')).toBe(readFileSync(digestFile, 'utf8'));
    // The destination refuses the wrong credentials, and says where they came from.
    const refused = await bin('dsv-copy', ['--src-creds', `${tls.username}:${tls.password}`, '--dest-creds', `${tok.username}:bad-dest-pw`, `docker://${tls.host}/auth/app:1`, `docker://${tok.host}/auth/copied:3`]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('--dest-creds (user');
    expect(refused.all).not.toContain('bad-dest-pw');
    expect(refused.all).not.toContain(tls.password!);
  });
});

describe('dsv login / dsv logout', () => {
  it('checks the password against the registry (Basic), then writes $DOCKER_CONFIG/config.json 0600 that skopeo reads; logout removes it', async () => {
    const dc = join(work, 'login-dc');
    const r = await bin('dsv', ['login', tls.host, '-u', tls.username!, '--password-stdin'], { DOCKER_CONFIG: dc }, `${tls.password}\n`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Credentials for ${tls.host} stored in ${join(dc, 'config.json')}\nLogin Succeeded\n`);
    expect(r.code).toBe(0);
    const file = join(dc, 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { [tls.host]: { auth: b64(`${tls.username}:${tls.password}`) } } });
    // The file is docker's format: skopeo reads it, and dsv finds it through DOCKER_CONFIG.
    await skopeo(['inspect', '--authfile', file, '--cert-dir', join(tls.certsDir!, tls.host), `docker://${tls.host}/auth/app:1`]);
    expect((await bin('dsv', ['inspect', `${tls.host}/auth/app:1`], { DOCKER_CONFIG: dc })).code).toBe(0);
    // Without -u: the stored credentials are checked again (as docker login does).
    const again = await bin('dsv', ['login', tls.host], { DOCKER_CONFIG: dc });
    expect(again.stderr).toBe(`Authenticating with existing credentials (${file})...\n`);
    expect(again.code).toBe(0);
    const out = await bin('dsv', ['logout', tls.host], { DOCKER_CONFIG: dc });
    expect(out.stdout).toBe(`Removing login credentials for ${tls.host} (${file})\n`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: {} });
    expect((await bin('dsv', ['logout', tls.host], { DOCKER_CONFIG: dc })).stdout).toBe(`Not logged in to ${tls.host} (${file})\n`);
  });

  it('a refused login writes nothing and says which credential sources were tried', async () => {
    const dc = join(work, 'refused-dc');
    const r = await bin('dsv', ['login', '-u', tls.username!, '--password-stdin', tls.host], { DOCKER_CONFIG: dc }, 'wrong-login-pw\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^dsv login: error: login to ${tls.host.replace(/\./g, '\\.')} refused: .*refused the credentials.*; tried: -u ${tls.username} with --password-stdin\\n$`));
    expect(r.all).not.toContain('wrong-login-pw');
    expect(existsSync(join(dc, 'config.json'))).toBe(false);
    const none = await bin('dsv', ['login', tls.host], { DOCKER_CONFIG: dc });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no credentials for ${tls.host}: give -u USER with --password-stdin or -p (tried: no stored credentials in `);
    expect(none.stderr).toContain(join(dc, 'config.json'));
  });

  it('token auth: a token asked for without a scope, as docker login does; -p is scrubbed from output; --authfile is the file written', async () => {
    const file = join(work, 'tok-login', 'auth.json');
    const bad = await bin('dsv', ['login', tok.host, '-u', tok.username!, '-p', 'bad-token-pw']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('the token server refused the credentials');
    expect(bad.all).not.toContain('bad-token-pw');
    const before = tok.tokenRequests.length;
    const ok = await bin('dsv', ['login', '--authfile', file, '-u', tok.username!, '-p', tok.password!, `https://${tok.host}/`]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(tok.tokenRequests.slice(before)).toEqual([{ scopes: [], user: tok.username, granted: true }]);
    expect(JSON.parse(readFileSync(file, 'utf8')).auths[tok.host]).toEqual({ auth: b64(`${tok.username}:${tok.password}`) });
    expect((await bin('dsv', ['inspect', '--authfile', file, `${tok.host}/auth/app:1`])).code).toBe(0);
  });

  it('stores through the credsStore helper (docker-credential-<name> store / get / erase), leaving no secret in the file', async () => {
    const helperDir = join(work, 'helper-bin');
    const vault = join(work, 'helper-vault');
    mkdirSync(helperDir);
    mkdirSync(vault);
    // A credential helper speaking docker's protocol: store reads {ServerURL,Username,Secret}, get/erase the URL.
    const script = join(helperDir, 'docker-credential-e2evault');
    writeFileSync(
      script,
      `#!/bin/sh
set -e
input=$(cat)
case "$1" in
  store) url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p'); key=$(printf '%s' "$url" | tr '/:' '__'); printf '%s' "$input" > "${vault}/$key"; echo "store $url" >> "${vault}/log";;
  get) key=$(printf '%s' "$input" | tr '/:' '__'); if [ -f "${vault}/$key" ]; then cat "${vault}/$key"; else echo "credentials not found in native keychain"; exit 1; fi;;
  erase) key=$(printf '%s' "$input" | tr '/:' '__'); echo "erase $input" >> "${vault}/log"; if [ -f "${vault}/$key" ]; then rm "${vault}/$key"; else echo "credentials not found in native keychain"; exit 1; fi;;
  *) exit 2;;
esac
`,
    );
    chmodSync(script, 0o755);
    const dc = join(work, 'helper-dc');
    mkdirSync(dc);
    writeFileSync(join(dc, 'config.json'), JSON.stringify({ credsStore: 'e2evault', currentContext: 'default' }));
    const env = { DOCKER_CONFIG: dc, PATH: `${helperDir}:${process.env.PATH}` };
    const r = await bin('dsv', ['login', '-u', tls.username!, '--password-stdin', tls.host], env, tls.password!);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Credentials for ${tls.host} stored by docker-credential-e2evault (credsStore in ${join(dc, 'config.json')})\nLogin Succeeded\n`);
    const config = readFileSync(join(dc, 'config.json'), 'utf8');
    expect(JSON.parse(config)).toEqual({ credsStore: 'e2evault', currentContext: 'default', auths: { [tls.host]: {} } });
    expect(config).not.toContain(tls.password!);
    expect(readFileSync(join(vault, 'log'), 'utf8')).toBe(`store ${tls.host}\n`);
    // The registry transport gets them back through the same helper.
    const inspected = await bin('dsv', ['inspect', `${tls.host}/auth/app:1`], env);
    expect(inspected.stderr).toBe('');
    expect(inspected.code).toBe(0);
    const out = await bin('dsv', ['logout', tls.host], env);
    expect(out.code).toBe(0);
    expect(readFileSync(join(vault, 'log'), 'utf8')).toBe(`store ${tls.host}\nerase ${tls.host}\n`);
    expect(JSON.parse(readFileSync(join(dc, 'config.json'), 'utf8'))).toEqual({ credsStore: 'e2evault', currentContext: 'default', auths: {} });
    expect((await bin('dsv', ['inspect', `${tls.host}/auth/app:1`], env)).code).toBe(3);
  });
});
