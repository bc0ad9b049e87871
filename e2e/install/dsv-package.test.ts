// The installable package `dsv` (tools/pack-dsv.mjs): packed, installed globally into a temp prefix with the
// network off and an EMPTY npm cache (so it needs nothing but its tarball), then its commands run from the
// prefix's bin/: sign and verify a sample image with a real GnuPG key, copy it to a docker-save archive and
// verify that with docker-verify, and install the Docker CLI plugin launchers.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, run, tempDir, type Ran } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { offlineNpmEnv } from './offline-install.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

let prefix: string;
let work: string;
let gpgHome: GpgHome;
let env: NodeJS.ProcessEnv;

/** Runs an installed command by its name in the prefix's bin/ (the link npm made), as a shell would. */
function cmd(name: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(join(prefix, 'bin', name), args, { env: { ...env, ...extra }, cwd: work, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr, all: `${stdout}${stderr}` });
    });
  });
}

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  const out = tempDir('dsv-pack-');
  run(process.execPath, [join(root, 'tools/pack-dsv.mjs'), '--out', out], { cwd: root });
  prefix = tempDir('dsv-prefix-');
  run('npm', ['install', '--global', '--prefix', prefix, join(out, `dsv-${version}.tgz`)], {
    cwd: out,
    env: { ...offlineNpmEnv(), npm_config_cache: tempDir('dsv-empty-npm-cache-') },
  });
  work = tempDir('dsv-installed-');
  gpgHome = makeGpgHome({ withKey: { name: 'Install E2E', email: 'install-e2e@dsv.invalid' } });
  env = { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: work, DSV_GPG_DATASTORE: gpgHome.home };
  const image = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'installed\n' }] });
  writeOciLayout(join(work, 'layout'), { image, tag: '1' });
}, 600_000);

afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

describe('npm install -g dsv-<version>.tgz', () => {
  it('links dsv, docker-sign, docker-verify and dsv-copy, from a package that depends on nothing', async () => {
    const installed = join(prefix, 'lib/node_modules/dsv');
    for (const name of ['dsv', 'docker-sign', 'docker-verify', 'dsv-copy', 'dsv-containerd-verifier']) {
      expect(readlinkSync(join(prefix, 'bin', name))).toContain('node_modules/dsv/bin/');
    }
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    for (const name of ['dsv', 'dsv-copy']) {
      const r = await cmd(name, ['--version']);
      expect(r.code, r.all).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
    const verifier = await cmd('dsv-containerd-verifier', ['-version']);
    expect(verifier.code, verifier.all).toBe(0);
    expect(verifier.stdout.trim()).toBe(version);
    const help = await cmd('docker-sign', ['--help']);
    expect(help.code, help.all).toBe(0);
  });

  it('signs and verifies an image; dsv-copy and docker-verify agree on the copy', async () => {
    const layout = join(work, 'layout');
    const s = await cmd('dsv', ['sign', '--key', gpgHome.keyId, `oci:${layout}:1`, `oci:${layout}:signed`]);
    expect(s.code, s.all).toBe(0);
    const v = await cmd('dsv', ['verify', `oci:${layout}:signed`]);
    expect(v.code, v.all).toBe(0);
    const unsigned = await cmd('dsv', ['verify', `oci:${layout}:1`]);
    expect(unsigned.code, unsigned.all).toBe(1);

    const archive = join(work, 'signed.tar');
    const c = await cmd('dsv-copy', [`oci:${layout}:signed`, `docker-archive:${archive}:install/app:signed`]);
    expect(c.code, c.all).toBe(0);
    const dv = await cmd('docker-verify', ['archive', '--archive', archive, 'install/app:signed']);
    expect(dv.code, dv.all).toBe(0);
    expect(dv.stdout).toContain('Signature check passed.');
  });

  it('`dsv docker-plugin install` points the Docker CLI at the installed package\'s launchers', async () => {
    const cfg = tempDir('dsv-installed-docker-config-');
    const dir = join(cfg, 'cli-plugins');
    const r = await cmd('dsv', ['docker-plugin', 'install', '--dir', dir], { DOCKER_CONFIG: cfg });
    expect(r.code, r.all).toBe(0);
    for (const [plugin, launcher] of [['docker-sign', 'docker-cli-plugin-sign.js'], ['docker-verify', 'docker-cli-plugin-verify.js']] as const) {
      const text = readFileSync(join(dir, plugin), 'utf8');
      expect(text).toContain(join(prefix, 'lib/node_modules/dsv/bin', launcher));
      // The Docker CLI's metadata probe: what `docker --help` runs for every plugin.
      const meta = run(join(dir, plugin), ['docker-cli-plugin-metadata'], { env });
      expect(JSON.parse(meta)).toMatchObject({ SchemaVersion: '0.1.0', Vendor: 'dsv', Version: version });
    }
  });
});
