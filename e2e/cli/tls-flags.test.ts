// skopeo's TLS flags on dsv's commands, through the BUILT bins against the real docker-registry serving TLS with
// a certificate from a CA dsv is not given: refused without a flag, accepted with --tls-verify=false or --cert-dir DIR
// (the CA in DIR; sign, verify, inspect, list-tags, login) and their --src-/--dest- forms (dsv-copy, dsv copy, dsv
// sync), each for the side it names only; skopeo accepts what dsv wrote with the same flags.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { launcher } from '../helpers/cli.js';
import { removeTempDirs, runNodeScript, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { skopeoOkAsync as skopeo } from '../helpers/skopeo.js';

let reg: StartedRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let creds: string;
let sample: string;

const run = (name: 'dsv' | 'dsv-copy', args: string[]) => runNodeScript(launcher(name), args, { env, cwd: work });
/** A refusal names the certificate problem, on one line, exit 3. */
function expectTlsRefusal(r: { code: number | null; stderr: string }): void {
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/certificate/i);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'tls-htpasswd' });
  work = tempDir('dsv-tls-verify-e2e-');
  mkdirSync(join(work, 'home'));
  // No certs.d holds the registry's CA: only the flags can make dsv accept it.
  env = { PATH: process.env.PATH, HOME: join(work, 'home'), DSV_CERTS_D: join(work, 'no-certs.d') };
  creds = `${reg.username}:${reg.password}`;
  sample = join(work, 'sample');
  writeOciLayout(sample, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/tls': 'tls-verify e2e\n' }] }), tag: '1' });
  await skopeo(['copy', '--quiet', ...reg.skopeoFlags('dest'), `oci:${sample}:1`, `docker://${reg.host}/tls/app:1`]);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('--tls-verify=false (skopeo\'s flag) on dsv commands', () => {
  it('verify, inspect and list-tags refuse the unknown CA, and accept it with --tls-verify=false', async () => {
    const img = `docker://${reg.host}/tls/app:1`;
    expectTlsRefusal(await run('dsv', ['verify', '--no-check-signatures', '--creds', creds, img]));
    const verified = await run('dsv', ['verify', '--no-check-signatures', '--tls-verify=false', '--creds', creds, img]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect((await run('dsv', ['inspect', '--tls-verify=false', '--creds', creds, img])).code).toBe(0);
    expect((await run('dsv', ['--tls-verify=false', 'inspect', '--creds', creds, img])).code).toBe(0);
    expectTlsRefusal(await run('dsv', ['list-tags', '--creds', creds, `docker://${reg.host}/tls/app`]));
    const tags = await run('dsv', ['list-tags', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/tls/app`]);
    expect(tags.code).toBe(0);
    expect(tags.stdout).toContain('1');
    expect(verified.all).not.toContain(reg.password!);
  });

  it('sign with --tls-verify=false writes an image skopeo reads with --tls-verify=false', async () => {
    const gnupg = tempDir('dsv-tls-gpg-');
    const { execFileSync } = await import('node:child_process');
    execFileSync('gpg', ['--homedir', gnupg, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'tls e2e <tls@dsv.invalid>', 'ed25519', 'sign', '1d'], { stdio: 'ignore' });
    const signEnv = { DSV_GPG_DATASTORE: gnupg, GNUPGHOME: gnupg, DSV_KEYPASS: '' };
    const fpr = execFileSync('gpg', ['--homedir', gnupg, '--batch', '--with-colons', '--list-secret-keys'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').find((l) => l.startsWith('fpr'))!.split(':')[9]!;
    const src = `docker://${reg.host}/tls/app:1`;
    const dst = `docker://${reg.host}/tls/app:signed`;
    const saved = env;
    env = { ...env, ...signEnv };
    try {
      expectTlsRefusal(await run('dsv', ['sign', '--key', fpr, '--creds', creds, src, dst]));
      const signed = await run('dsv', ['sign', '--tls-verify=false', '--key', fpr, '--creds', creds, src, dst]);
      expect(signed.stderr).toBe('');
      expect(signed.code).toBe(0);
    } finally {
      env = saved;
    }
    const inspected = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--creds', creds, dst])) as { Labels?: Record<string, string> };
    expect(Object.keys(inspected.Labels ?? {}).join(' ')).toMatch(/signature/i);
  });

  it('dsv-copy: --src-tls-verify=false covers SRC only, --dest-tls-verify=false DEST only; dsv copy takes the same flags', async () => {
    const img = `docker://${reg.host}/tls/app:1`;
    expectTlsRefusal(await run('dsv-copy', ['--src-creds', creds, img, `oci:${join(work, 'out-refused')}:1`]));
    expectTlsRefusal(await run('dsv-copy', ['--dest-tls-verify=false', '--src-creds', creds, img, `oci:${join(work, 'out-wrong-side')}:1`]));
    const pulled = await run('dsv-copy', ['--src-tls-verify=false', '--src-creds', creds, img, `oci:${join(work, 'out')}:1`]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expectTlsRefusal(await run('dsv-copy', ['--src-tls-verify=false', '--dest-creds', creds, `oci:${sample}:1`, `docker://${reg.host}/tls/pushed:1`]));
    const pushed = await run('dsv-copy', ['--dest-tls-verify=false', '--dest-creds', creds, `oci:${sample}:1`, `docker://${reg.host}/tls/pushed:1`]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const viaDsv = await run('dsv', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${sample}:1`, `docker://${reg.host}/tls/pushed:2`]);
    expect(viaDsv.code).toBe(0);
    const local = JSON.parse(readFileSync(join(sample, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    for (const tag of ['1', '2']) {
      const remote = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/tls/pushed:${tag}`])) as { Digest: string };
      expect(remote.Digest).toBe(local.manifests[0]!.digest);
    }
  });

  it('--cert-dir DIR trusts the CA in DIR for that registry (verify, list-tags, login); --src-/--dest-cert-dir for one side', async () => {
    // skopeo's --cert-dir names the directory itself (certs.d/HOST), as the harness hands skopeo.
    const dir = join(reg.certsDir!, reg.host);
    const img = `docker://${reg.host}/tls/app:1`;
    const verified = await run('dsv', ['verify', '--no-check-signatures', '--cert-dir', dir, '--creds', creds, img]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect((await run('dsv', ['--cert-dir', dir, 'inspect', '--creds', creds, img])).code).toBe(0);
    expect((await run('dsv', ['list-tags', '--cert-dir', dir, '--creds', creds, `docker://${reg.host}/tls/app`])).code).toBe(0);
    // A directory without the CA is no help; a missing one is named.
    expectTlsRefusal(await run('dsv', ['verify', '--no-check-signatures', '--cert-dir', work, '--creds', creds, img]));
    const missing = await run('dsv', ['verify', '--no-check-signatures', '--cert-dir', join(work, 'nowhere'), '--creds', creds, img]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`certificate directory ${join(work, 'nowhere')} (for ${reg.host}): no such directory`);
    expectTlsRefusal(await run('dsv-copy', ['--dest-cert-dir', dir, '--src-creds', creds, img, `oci:${join(work, 'cd-wrong-side')}:1`]));
    const pulled = await run('dsv-copy', ['--src-cert-dir', dir, '--src-creds', creds, img, `oci:${join(work, 'cd-out')}:1`]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    const pushed = await run('dsv-copy', ['--dest-cert-dir', dir, '--dest-creds', creds, `oci:${sample}:1`, `docker://${reg.host}/tls/cd-pushed:1`]);
    expect(pushed.code).toBe(0);
    const synced = await run('dsv', ['sync', '--src-cert-dir', dir, '--src-creds', creds, `docker://${reg.host}/tls/app`, `oci:${join(work, 'cd-synced')}`]);
    expect(synced.code).toBe(0);
    const login = await run('dsv', ['login', '--cert-dir', dir, '--authfile', join(work, 'cd-auth.json'), '-u', reg.username!, '-p', reg.password!, reg.host]);
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
  });

  it('dsv sync --src-tls-verify=false, and login --tls-verify=false', async () => {
    const out = join(work, 'synced');
    expectTlsRefusal(await run('dsv', ['sync', '--src-creds', creds, `docker://${reg.host}/tls/app`, `oci:${out}`]));
    const synced = await run('dsv', ['sync', '--src-tls-verify=false', '--src-creds', creds, `docker://${reg.host}/tls/app`, `oci:${out}`]);
    expect(synced.stderr).toBe('');
    expect(synced.code).toBe(0);
    const authfile = join(work, 'login-auth.json');
    expectTlsRefusal(await run('dsv', ['login', '--authfile', authfile, '-u', reg.username!, '-p', reg.password!, reg.host]));
    const login = await run('dsv', ['login', '--tls-verify=false', '--authfile', authfile, '-u', reg.username!, '-p', reg.password!, reg.host]);
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    expect(login.all).not.toContain(reg.password!);
  });
});
