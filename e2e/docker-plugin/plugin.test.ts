// `docker sign` / `docker verify` as Docker CLI plugins: the real docker 28 CLI runs the installed
// launchers against the real dockerd (private root and socket) and the real docker-registry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core';
import { installPlugins, uninstallPlugins } from '@dsv/docker-plugin';
import { importImage, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const GPG_PASS = 'plugin-e2e-passphrase';

let d: Dockerd;
let reg: StartedRegistry;
let gpg: GpgHome;
let work: string;
let passFile: string;
let baseEnv: NodeJS.ProcessEnv;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  all: string;
}

/** The real docker CLI with the plugins installed in its (private) DOCKER_CONFIG. */
function docker(args: string[], env: NodeJS.ProcessEnv = baseEnv): Ran {
  const r = spawnSync(requireTool('docker'), args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 170_000, cwd: work });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}

const imageId = (name: string) => d.docker(['image', 'inspect', '--format', '{{.Id}}', name]).trim();

/** The overlay2 directory holding the files of an image's layer. */
function layerDiffDir(name: string, layer = 0): string {
  const info = JSON.parse(d.docker(['image', 'inspect', name]))[0];
  const diffIds: string[] = info.RootFS.Layers;
  let chain = diffIds[0]!;
  for (let i = 1; i <= layer; i++) chain = digestOf(`${chain} ${diffIds[i]}`);
  const cacheId = readFileSync(join(d.dataRoot, 'image', d.driver, 'layerdb', 'sha256', chain.slice(7), 'cache-id'), 'utf8').trim();
  return join(d.dataRoot, d.driver, cacheId, 'diff');
}

beforeAll(async () => {
  // The plugins run the built code: build it (incremental, serialised with other builders).
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  [d, reg] = await Promise.all([startDockerd(), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-plugin-e2e-');
  gpg = makeGpgHome({ withKey: { name: 'Plugin E2E Signer', email: 'plugin-e2e@dsv.invalid', passphrase: GPG_PASS } });
  passFile = join(work, 'passphrase');
  writeFileSync(passFile, `${GPG_PASS}\n`, { mode: 0o600 });
  // No DSV_DOCKER_ROOT: the plugin asks the daemon (GET /info) where its store is.
  baseEnv = {
    PATH: process.env.PATH,
    HOME: work,
    DOCKER_HOST: d.host,
    DOCKER_CONFIG: d.env.DOCKER_CONFIG,
    DSV_GPG_DATASTORE: gpg.home,
  };
  installPlugins({ dir: join(d.env.DOCKER_CONFIG!, 'cli-plugins') });
  importImage(d, 'dsv-plugin/app:1', { 'etc/app.conf': 'answer=42\n', 'bin/app': '#!/bin/sh\necho plugin e2e\n' });
  importImage(d, 'dsv-plugin/tamper:1', { 'etc/tamper.txt': 'original content of the file\n' });
}, 300_000);

afterAll(async () => {
  await Promise.all([d?.stop(), reg?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('discovery and help', () => {
  it('docker --help lists sign and verify as plugin commands', () => {
    const r = docker(['--help']);
    expect(r.code, r.all).toBe(0);
    // The CLI may append "(vendor, version)".
    expect(r.stdout, r.all).toMatch(/^\s+sign\*\s+Sign an image with an embedded dsv signature( \(dsv, [0-9.]+\))?$/m);
    expect(r.stdout).toMatch(/^\s+verify\*\s+Verify an image's integrity and embedded dsv signatures( \(dsv, [0-9.]+\))?$/m);
  });

  it('docker sign --help / docker help verify read like Docker\'s own help', () => {
    const s = docker(['sign', '--help']);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toContain('Usage:  docker sign [OPTIONS] IMAGE [DEST]');
    expect(s.stdout).toMatch(/\nOptions:\n/);
    expect(s.stdout).toMatch(/-k, --key string/);
    const v = docker(['help', 'verify']);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('Usage:  docker verify [OPTIONS] IMAGE [IMAGE...]');
  });

  it('a usage error exits 2 with a pointer at --help', () => {
    const r = docker(['verify', '--no-such-flag', 'x']);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('unknown flag: --no-such-flag');
    expect(r.stderr).toContain("Run 'docker verify --help'");
  });
});

describe('local images (the daemon the CLI points at)', () => {
  it('docker sign signs a loaded image under a new tag; docker images shows the new id', () => {
    const before = imageId('dsv-plugin/app:1');
    const r = docker(['sign', '-k', gpg.keyId, '--passphrase-file', passFile, 'dsv-plugin/app:1', 'dsv-plugin/app:signed']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Signing (sign): docker-daemon:dsv-plugin/app:1 -> docker-daemon:dsv-plugin/app:signed');
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.all).not.toContain(GPG_PASS);
    const after = imageId('dsv-plugin/app:signed');
    expect(after).not.toBe(before);
    expect(r.stdout).toContain(`Image ID: ${after}`);
    const listed = docker(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', 'dsv-plugin/app']);
    expect(listed.stdout).toContain(`dsv-plugin/app:signed ${after}`);
    expect(listed.stdout).toContain(`dsv-plugin/app:1 ${before}`);
  });

  it('--dry-run --json writes nothing and reports what it would sign', () => {
    const r = docker(['sign', '--dry-run', '--json', '-k', gpg.keyId, '--passphrase-file', passFile, 'dsv-plugin/app:1', 'dsv-plugin/app:dry']);
    expect(r.code, r.all).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ command: 'sign', ok: true, dryRun: true, source: 'docker-daemon:dsv-plugin/app:1', destination: 'docker-daemon:dsv-plugin/app:dry' });
    expect(report.images[0].signature.signature).toContain('BEGIN PGP SIGNATURE');
    expect(docker(['image', 'inspect', 'dsv-plugin/app:dry']).code).not.toBe(0);
  });

  it('docker verify checks the store on disk and the signature', () => {
    const r = docker(['verify', 'dsv-plugin/app:signed']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.stdout).toContain('Signature check passed.');
    expect(r.stdout).toContain(gpg.signingKeyId);
    // Read on disk (docker-storage:), the store found through the daemon's /info.
    expect(r.stdout).toContain('Verified: docker-storage:dsv-plugin/app:signed');
  });

  it('an unsigned image is not trusted (exit 1); --json reports it', () => {
    const r = docker(['verify', 'dsv-plugin/app:1']);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('no signatures');
    const j = docker(['verify', '--json', 'dsv-plugin/app:1', 'dsv-plugin/app:signed']);
    expect(j.code, j.all).toBe(1);
    const report = JSON.parse(j.stdout);
    expect(report).toMatchObject({ command: 'verify', ok: false, exitCode: 1 });
    expect(report.results.map((x: { ok: boolean }) => x.ok)).toEqual([false, true]);
  });

  it('--trust names the trusted key when the GnuPG home does not hold it', () => {
    const env = { ...baseEnv, DSV_GPG_DATASTORE: makeGpgHome().home };
    const untrusted = docker(['verify', 'dsv-plugin/app:signed'], env);
    expect(untrusted.code, untrusted.all).toBe(1);
    const pub = join(work, 'signer.asc');
    writeFileSync(pub, gpg.exportPublic());
    const trusted = docker(['verify', '--trust', pub, 'dsv-plugin/app:signed'], env);
    expect(trusted.code, trusted.all).toBe(0);
    expect(trusted.stdout).toContain('valid, trusted');
  });

  it('signs and verifies with the GnuPG home named by GNUPGHOME alone', () => {
    const env: NodeJS.ProcessEnv = { ...baseEnv, GNUPGHOME: gpg.home };
    delete env.DSV_GPG_DATASTORE;
    const s = docker(['sign', '-k', gpg.keyId, '--passphrase-file', passFile, 'dsv-plugin/app:1', 'dsv-plugin/app:gnupghome'], env);
    expect(s.code, s.all).toBe(0);
    const v = docker(['verify', 'dsv-plugin/app:gnupghome'], env);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain(gpg.signingKeyId);
  });

  it('a missing local image is named, with a hint at --remote', () => {
    const r = docker(['verify', 'dsv-plugin/none:1']);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(/dsv-plugin\/none:1.*--remote/);
  });

  it('follows -H and --context like the docker CLI, with DOCKER_HOST unset', () => {
    const env = { ...baseEnv };
    delete env.DOCKER_HOST;
    const h = docker(['-H', d.host, 'verify', 'dsv-plugin/app:signed'], env);
    expect(h.code, h.all).toBe(0);
    const created = docker(['context', 'create', 'dsv-e2e', '--docker', `host=${d.host}`], env);
    expect(created.code, created.all).toBe(0);
    const c = docker(['--context', 'dsv-e2e', 'verify', '--debug', 'dsv-plugin/app:signed'], env);
    expect(c.code, c.all).toBe(0);
    expect(c.stderr).toContain(`Docker endpoint ${d.host} (from context dsv-e2e`);
  });

  it('fails (exit 1) after a byte of a layer file in the store is changed', () => {
    const s = docker(['sign', '-k', gpg.keyId, '--passphrase-file', passFile, 'dsv-plugin/tamper:1', 'dsv-plugin/tamper:signed']);
    expect(s.code, s.all).toBe(0);
    expect(docker(['verify', 'dsv-plugin/tamper:signed']).code).toBe(0);
    const file = join(layerDiffDir('dsv-plugin/tamper:signed'), 'etc', 'tamper.txt');
    const bytes = readFileSync(file);
    bytes[0] = bytes[0]! ^ 0x01;
    writeFileSync(file, bytes);
    const r = docker(['verify', 'dsv-plugin/tamper:signed']);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('Integrity check FAILED.');
    expect(r.stderr).toMatch(/docker verify: error: .*layer/i);
  });
});

describe('registry images', () => {
  const repo = () => `${reg.host}/e2e/app`;

  beforeAll(() => {
    // The real dockerd pushes to the loopback registry (127.0.0.0/8 is insecure by default) and the
    // local tag is removed, so only the registry holds the image.
    d.docker(['tag', 'dsv-plugin/app:1', `${repo()}:1`]);
    d.docker(['push', `${repo()}:1`]);
    d.docker(['rmi', `${repo()}:1`]);
  });

  it('docker sign --remote signs in the registry; docker verify --remote verifies it', () => {
    const s = docker(['sign', '--remote', '--insecure-registry', reg.host, '-k', gpg.keyId, '--passphrase-file', passFile, `${repo()}:1`, `${repo()}:signed`]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toContain(`docker://${repo()}:1 -> docker://${repo()}:signed`);
    const v = docker(['verify', '--remote', '--insecure-registry', reg.host, `${repo()}:signed`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('Signature check passed.');
    const unsigned = docker(['verify', '--remote', '--insecure-registry', reg.host, `${repo()}:1`]);
    expect(unsigned.code, unsigned.all).toBe(1);
  });

  it('an image not in the local store is signed in its registry', () => {
    const s = docker(['sign', '--insecure-registry', reg.host, '-k', gpg.keyId, '--passphrase-file', passFile, `${repo()}:1`, `${repo()}:fallback`]);
    expect(s.code, s.all).toBe(0);
    expect(s.stderr).toContain('is not in the local image store');
    expect(docker(['verify', '--remote', '--insecure-registry', reg.host, `${repo()}:fallback`]).code).toBe(0);
  });

  it('the signed image pulled by docker verifies locally', () => {
    d.docker(['pull', `${repo()}:signed`]);
    const r = docker(['verify', `${repo()}:signed`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Signature check passed.');
  });
});

describe('install / uninstall', () => {
  it('`dsv docker-plugin install` installs the cli\'s own launchers, which need no other app', () => {
    const cfg = tempDir('dsv-plugin-cli-install-');
    const dir = join(cfg, 'cli-plugins');
    const env = { ...baseEnv, DOCKER_CONFIG: cfg };
    const dsv = join(root, 'apps/cli/bin/dsv.js');
    expect(run(process.execPath, [dsv, 'docker-plugin', 'install', '--dir', dir], { env })).toContain(join(dir, 'docker-verify'));
    const launcher = readFileSync(join(dir, 'docker-verify'), 'utf8');
    expect(launcher).toContain(join(root, 'apps/cli/bin/docker-cli-plugin-verify.js'));
    expect(launcher).not.toContain('apps/docker-plugin');
    const r = docker(['verify', 'dsv-plugin/app:signed'], env);
    expect(r.code, r.all).toBe(0);
    expect(run(process.execPath, [dsv, 'docker-plugin', 'uninstall', '--dir', dir], { env })).toContain('Removed');
  });

  it('installing twice is harmless; uninstall removes the plugins', () => {
    const cfg = tempDir('dsv-plugin-install-');
    const dir = join(cfg, 'cli-plugins');
    mkdirSync(dir);
    const env = { ...baseEnv, DOCKER_CONFIG: cfg };
    installPlugins({ dir });
    installPlugins({ dir });
    expect(readdirSync(dir).sort()).toEqual(['docker-sign', 'docker-verify']);
    expect(statSync(join(dir, 'docker-sign')).mode & 0o111).not.toBe(0);
    const listed = docker(['--help'], env).stdout;
    expect(listed.match(/^\s+sign\*/gm)).toHaveLength(1);
    expect(docker(['verify', 'dsv-plugin/app:signed'], env).code).toBe(0);
    expect(uninstallPlugins({ dir }).length).toBe(2);
    expect(existsSync(join(dir, 'docker-sign'))).toBe(false);
    expect(docker(['--help'], env).stdout).not.toMatch(/^\s+sign\*/m);
    const gone = docker(['sign', 'x'], env);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/'sign' is not a docker command/);
  });
});
