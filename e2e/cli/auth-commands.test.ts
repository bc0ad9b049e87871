// --authfile and --creds (skopeo's meanings) on the commands that got them after dsv sign/verify/inspect and
// dsv-copy: docker-sign / docker-verify, dsv sync (--src-/--dest-authfile, --src-/--dest-creds, --authfile for
// both, as skopeo sync) and sign / verify --all-tags. Through the BUILT bins against the real docker-registry
// (TLS + htpasswd Basic auth, and token auth), skopeo as the peer; no password in any output, --debug included.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const bins = {
  dsv: launcher('dsv'),
  'docker-sign': launcher('docker-sign'),
  'docker-verify': launcher('docker-verify'),
};

let tls: StartedRegistry;
let tok: StartedRegistry;
let work: string;
let signer: GpgHome;
let baseEnv: NodeJS.ProcessEnv;
/** Auth files: the TLS registry's right and wrong password, the token registry's, and both registries in one. */
let files: { good: string; bad: string; tok: string; both: string };

/** A built bin as a child (no terminal: a --creds USER without a password is a usage error). */
function bin(name: keyof typeof bins, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(bins[name], args, { env: { ...baseEnv, ...env }, cwd: work });
}

/** skopeo, asynchronously: the token registry's issuer runs in this process and must keep answering. */
function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(requireTool('skopeo'), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
function authFile(name: string, entries: Record<string, [string, string]>): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({ auths: Object.fromEntries(Object.entries(entries).map(([host, [u, p]]) => [host, { auth: b64(`${u}:${p}`) }])) }));
  return path;
}

/** The manifest digest a registry serves (skopeo inspect, the peer's view). */
async function digestAt(reg: StartedRegistry, ref: string): Promise<string> {
  return (JSON.parse(await skopeo(['inspect', ...reg.skopeoFlags(''), `docker://${reg.host}/${ref}`])) as { Digest: string }).Digest;
}

/** No password of either registry (nor the wrong ones given) anywhere in the output. */
function expectNoSecrets(r: Ran, ...more: string[]): void {
  for (const s of [tls.password!, tok.password!, ...more]) expect(r.all).not.toContain(s);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [tls, tok] = await Promise.all([startRegistry({ mode: 'tls-htpasswd', username: 'src-user' }), startRegistry({ mode: 'token', username: 'dest-user' })]);
  work = tempDir('dsv-auth-commands-e2e-');
  mkdirSync(join(work, 'home'));
  signer = makeGpgHome({ withKey: { name: 'Auth Commands Signer', email: 'auth-commands@dsv.invalid' } });
  writeFileSync(join(work, 'signer.pub'), signer.exportPublic());
  baseEnv = { PATH: process.env.PATH, HOME: join(work, 'home'), DSV_CERTS_D: tls.certsDir!, DSV_GPG_DATASTORE: signer.home };
  files = {
    good: authFile('good.json', { [tls.host]: [tls.username!, tls.password!] }),
    bad: authFile('bad.json', { [tls.host]: [tls.username!, 'wrong-authfile-pw-1'] }),
    tok: authFile('tok.json', { [tok.host]: [tok.username!, tok.password!] }),
    both: authFile('both.json', { [tls.host]: [tls.username!, tls.password!], [tok.host]: [tok.username!, tok.password!] }),
  };
  for (const v of ['1', '2']) {
    const layout = join(work, `layout-${v}`);
    writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/auth': `auth commands ${v}\n` }] }), tag: v });
    for (const repo of ['legacy/app', 'sync/app', 'fleet/app']) await skopeo(['copy', '--quiet', ...tls.skopeoFlags('dest'), `oci:${layout}:${v}`, `docker://${tls.host}/${repo}:${v}`]);
  }
}, 300_000);

afterAll(async () => {
  await Promise.all([tls?.stop(), tok?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('docker-sign / docker-verify registry', () => {
  it('--creds USER:PASS and --authfile FILE authenticate; refused and anonymous access exit 3; no password in the output', async () => {
    const creds = `${tls.username}:${tls.password}`;
    const s = await bin('docker-sign', ['registry', '--debug', '--creds', creds, '-k', signer.keyId, `${tls.host}/legacy/app:1`, `${tls.host}/legacy/app:signed`]);
    expect(s.code, s.all).toBe(0);
    expectNoSecrets(s);
    const v = await bin('docker-verify', ['registry', '--debug', '--authfile', files.good, `${tls.host}/legacy/app:signed`]);
    expect(v.code, v.all).toBe(0);
    expect(v.all).toContain(signer.keyId);
    expectNoSecrets(v);
    // skopeo sees the signed image the registry now holds.
    expect(await digestAt(tls, 'legacy/app:signed')).toMatch(/^sha256:/);
    // --authfile for docker-sign, --creds for docker-verify too.
    const s2 = await bin('docker-sign', ['registry', '--authfile', files.good, '-k', signer.keyId, `${tls.host}/legacy/app:2`, `${tls.host}/legacy/app:signed2`]);
    expect(s2.code, s2.all).toBe(0);
    const v2 = await bin('docker-verify', ['registry', '--creds', creds, `${tls.host}/legacy/app:signed2`]);
    expect(v2.code, v2.all).toBe(0);
    // Refused: the wrong password, from either flag, named by where it came from and never printed.
    const wrong = await bin('docker-verify', ['registry', '--debug', '--creds', `${tls.username}:wrong-creds-pw-2`, `${tls.host}/legacy/app:signed`]);
    expect(wrong.code, wrong.all).toBe(3);
    expect(wrong.stderr).toContain(`--creds (user ${tls.username})`);
    expectNoSecrets(wrong, 'wrong-creds-pw-2');
    const badFile = await bin('docker-sign', ['registry', '--debug', '--authfile', files.bad, '-k', signer.keyId, `${tls.host}/legacy/app:1`, `${tls.host}/legacy/app:nope`]);
    expect(badFile.code, badFile.all).toBe(3);
    expect(badFile.stderr).toContain(`credentials from ${files.bad}`);
    expectNoSecrets(badFile, 'wrong-authfile-pw-1');
    const anon = await bin('docker-verify', ['registry', `${tls.host}/legacy/app:signed`]);
    expect(anon.code, anon.all).toBe(3);
    const noPass = await bin('docker-verify', ['registry', '--creds', tls.username!, `${tls.host}/legacy/app:signed`]);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain(`--creds ${tls.username} has no password and there is no terminal to ask for it`);
  });
});

describe('dsv sync: each side its own credentials', () => {
  it('--src-creds and --dest-authfile (Basic to token auth); digests as skopeo sees them; no password in --debug output', async () => {
    const r = await bin('dsv', ['--debug', 'sync', '--src-creds', `${tls.username}:${tls.password}`, '--dest-authfile', files.tok, `docker://${tls.host}/sync/app`, `docker://${tok.host}/mirror`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('2 images in 1 repositories: 2 copied');
    expectNoSecrets(r);
    for (const v of ['1', '2']) expect(await digestAt(tok, `mirror/app:${v}`)).toBe(await digestAt(tls, `sync/app:${v}`));
  });

  it('--src-authfile and --dest-creds; --authfile FILE serves both sides', async () => {
    const r = await bin('dsv', ['sync', '--src-authfile', files.good, '--dest-creds', `${tok.username}:${tok.password}`, `docker://${tls.host}/sync/app`, `docker://${tok.host}/mirror2`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('2 copied');
    expectNoSecrets(r);
    const both = await bin('dsv', ['sync', '--json', '--authfile', files.both, `docker://${tls.host}/sync/app`, `docker://${tok.host}/mirror2`]);
    expect(both.code, both.all).toBe(0);
    expect(JSON.parse(both.stdout).summary).toMatchObject({ images: 2, copied: 0, present: 2 });
    // --dest-authfile wins over --authfile for DEST.
    const wins = await bin('dsv', ['sync', '--authfile', files.good, '--dest-authfile', files.tok, `docker://${tls.host}/sync/app`, `docker://${tok.host}/mirror3`]);
    expect(wins.code, wins.all).toBe(0);
  });

  it('SRC credentials never reach DEST, and a refused side is named', async () => {
    // The token registry refuses anonymous pushes: the source's credentials are not tried there.
    const r = await bin('dsv', ['--debug', 'sync', '--src-creds', `${tls.username}:${tls.password}`, `docker://${tls.host}/sync/app`, `docker://${tok.host}/nocreds`]);
    expect(r.code, r.all).toBe(3);
    expect(r.all).toMatch(/^FAILED /m);
    // Different user names on the two registries: a token asked for as SRC's user would show here.
    expect(tok.tokenRequests.some((t) => t.user === tls.username)).toBe(false);
    expectNoSecrets(r);
    const refused = await bin('dsv', ['sync', '--src-creds', `${tls.username}:wrong-src-pw-3`, '--dest-authfile', files.tok, `docker://${tls.host}/sync/app`, `docker://${tok.host}/refused`]);
    expect(refused.code, refused.all).toBe(3);
    expect(refused.stderr).toContain(`--src-creds (user ${tls.username})`);
    expectNoSecrets(refused, 'wrong-src-pw-3');
    const destRefused = await bin('dsv', ['sync', '--src-authfile', files.good, '--dest-creds', `${tok.username}:wrong-dest-pw-4`, `docker://${tls.host}/sync/app`, `docker://${tok.host}/refused`]);
    expect(destRefused.code, destRefused.all).toBe(3);
    expect(destRefused.all).toContain('--dest-creds (user');
    expectNoSecrets(destRefused, 'wrong-dest-pw-4');
  });
});

describe('sign / verify --all-tags', () => {
  it('--authfile and --creds reach the tag listing and every tag; no password in --debug output', async () => {
    const s = await bin('dsv', ['--debug', 'sign', '--all-tags', '--authfile', files.good, '-k', signer.keyId, `docker://${tls.host}/fleet/app`]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toContain('2 tags in 1 repositories: 2 signed');
    expectNoSecrets(s);
    const v = await bin('dsv', ['--debug', 'verify', '--all-tags', '--creds', `${tls.username}:${tls.password}`, '--trust', join(work, 'signer.pub'), `docker://${tls.host}/fleet/app`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('2 tags in 1 repositories: 2 verified');
    expectNoSecrets(v);
    const wrong = await bin('dsv', ['verify', '--all-tags', '--creds', `${tls.username}:wrong-fleet-pw-5`, `docker://${tls.host}/fleet/app`]);
    expect(wrong.code, wrong.all).toBe(3);
    expect(wrong.all).toContain(`--creds (user ${tls.username})`);
    expectNoSecrets(wrong, 'wrong-fleet-pw-5');
    const anon = await bin('dsv', ['verify', '--all-tags', `docker://${tls.host}/fleet/app`]);
    expect(anon.code, anon.all).toBe(3);
  });
});
