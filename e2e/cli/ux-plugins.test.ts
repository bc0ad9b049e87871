// Plugins that are found: the example plugin examples/dsv-signer-shared-key passes the conformance
// kit's signer suite when discovered in ~/.dsv/plugins (no DSV_SIGNER_PLUGINS), is listed by `dsv plugins
// list` with where it came from and its version, gets --signer-opt settings, and its trust files reach it
// through DSV_TRUST=TYPE:FILE (docker-verify) and --trust TYPE:FILE (dsv verify). Plugin-loading mistakes
// are usage errors (exit 2) in one line without bundle paths; a broken executable on PATH is listed, not fatal.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vitest from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { SignerRegistry, type SignerPlugin } from '@dsv/core';
import { loadSignerPlugins } from '@dsv/runtime';
import { buildSampleImage, dockerSaveArchive, registerSuite, signerSuite, writeOciLayout } from '@dsv/conformance';
import { installPlugins } from '@dsv/docker-plugin';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const example = join(root, 'examples', 'dsv-signer-shared-key', 'dsv-signer-shared-key');
const DATA = new TextEncoder().encode(`sha256:${'7'.repeat(64)}`);

/** A home with the example plugin in ~/.dsv/plugins, a secret and a stranger's secret. */
function pluginHome(prefix: string): { home: string; secret: string; stranger: string; env: NodeJS.ProcessEnv } {
  const home = tempDir(prefix);
  mkdirSync(join(home, '.dsv', 'plugins'), { recursive: true });
  copyFileSync(example, join(home, '.dsv', 'plugins', 'dsv-signer-shared-key'));
  chmodSync(join(home, '.dsv', 'plugins', 'dsv-signer-shared-key'), 0o755);
  const secret = join(home, 'team.secret');
  writeFileSync(secret, 'the team shared secret, long enough\n');
  const stranger = join(home, 'stranger.secret');
  writeFileSync(stranger, 'somebody else entirely, also long\n');
  // PATH: node (for the #! line) and the system, nothing else.
  return { home, secret, stranger, env: { PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: home } };
}

let suiteHome: ReturnType<typeof pluginHome>;
let plugin: SignerPlugin;
registerSuite(
  signerSuite('example plugin examples/dsv-signer-shared-key, discovered in ~/.dsv/plugins', {
    async prepare() {
      suiteHome = pluginHome('dsv-ux-plugin-suite-');
      const registry = new SignerRegistry();
      await loadSignerPlugins(registry, { env: suiteHome.env });
      plugin = registry.get('shared-key');
    },
    signer: () => plugin.createSigner({ key: suiteHome.secret }),
    verifier: () => plugin.createVerifier({ trust: [suiteHome.secret] }),
    strangerVerifier: () => plugin.createVerifier({ trust: [suiteHome.stranger] }),
    failures: [
      { name: 'a key file that does not exist', code: 'KeyInvalid', run: async () => (await plugin.createSigner({ key: join(suiteHome.home, 'absent.secret') })).sign(DATA) },
      { name: 'an unknown algorithm setting', code: 'Usage', run: async () => (await plugin.createSigner({ key: suiteHome.secret, settings: { algorithm: 'md5' } })).sign(DATA) },
    ],
    secrets: ['the team shared secret, long enough'],
  }),
  vitest,
);

let h: ReturnType<typeof pluginHome>;
let layout: string;
let archive: string;
/** A registry for `docker sign --remote` (started by the test that uses it). */
let reg: StartedRegistry | undefined;

function bin(name: 'dsv' | 'docker-sign' | 'docker-verify' | 'dsv-copy', args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env: { ...h.env, ...extra }, cwd: h.home });
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  h = pluginHome('dsv-ux-plugins-');
  const image = await buildSampleImage({ format: 'oci', layers: [{ 'etc/plugin': 'found\n' }] });
  layout = writeOciLayout(join(h.home, 'layout'), { image, tag: '1' });
  archive = join(h.home, 'app.tar');
  writeFileSync(archive, dockerSaveArchive([{ image, tags: ['plugins/app:1'] }]));
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('plugins that are found', () => {
  it('dsv plugins list: built-ins, the discovered example (where from, version), a broken executable on PATH with the reason; JSON matches its schema', async () => {
    const bad = tempDir('dsv-ux-badplugin-');
    writeFileSync(join(bad, 'dsv-signer-broken'), '#!/bin/sh\necho not json\n');
    chmodSync(join(bad, 'dsv-signer-broken'), 0o755);
    const extra = { PATH: `${bad}:${h.env.PATH}` };
    const t = await bin('dsv', ['plugins', 'list'], extra);
    expect(t.code, t.all).toBe(0);
    expect(t.stdout).toMatch(/^TYPE +KIND +FROM +VERSION +LOCATION$/m);
    expect(t.stdout).toMatch(/^gpg +builtin +builtin /m);
    expect(t.stdout).toMatch(new RegExp(`^shared-key +executable +plugins directory +1\\.0\\.0 +${h.home}/\\.dsv/plugins/dsv-signer-shared-key$`, 'm'));
    expect(t.stdout).toMatch(new RegExp(`^not loaded: ${bad}/dsv-signer-broken: .*not a JSON object`, 'm'));
    const j = await bin('dsv', ['plugins', 'list', '--json'], extra);
    const report = JSON.parse(j.stdout) as { plugins: Array<Record<string, unknown>> };
    const schema = JSON.parse(readFileSync(join(root, 'schemas', 'plugins-report.schema.json'), 'utf8'));
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.plugins).toContainEqual({ type: 'shared-key', kind: 'executable', from: 'plugins directory', location: join(h.home, '.dsv', 'plugins', 'dsv-signer-shared-key'), version: '1.0.0', error: null });
    // The broken one on PATH does not stop a verify.
    const v = await bin('dsv', ['--no-check-signatures', 'verify', `oci:${layout}:1`], extra);
    expect(v.code, v.all).toBe(0);
  });

  it('dsv sign with the discovered plugin, --signer-opt reaching its settings; dsv verify --trust TYPE:FILE', async () => {
    const s = await bin('dsv', ['sign', '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'algorithm=sha512', `oci:${layout}:1`, `oci:${layout}:signed`]);
    expect(s.code, s.all).toBe(0);
    const i = await bin('dsv', ['inspect', '--json', `oci:${layout}:signed`]);
    expect(i.code, i.all).toBe(0);
    const bad = await bin('dsv', ['sign', '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'algorithm=md5', `oci:${layout}:1`, `oci:${layout}:nope`]);
    expect(bad.code, bad.all).toBe(2);
    expect(bad.stderr).toMatch(/^dsv: error: .*algorithm "md5" is not one of sha256, sha512/m);
    const v = await bin('dsv', ['verify', '--trust', `shared-key:${h.secret}`, `oci:${layout}:signed`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('hmac-sha512');
    const stranger = await bin('dsv', ['verify', '--trust', `shared-key:${h.stranger}`, `oci:${layout}:signed`]);
    expect(stranger.code, stranger.all).toBe(1);
  });

  it('docker-sign / docker-verify: the plugin found, its trust file given as DSV_TRUST=TYPE:FILE (with other entries, ":" or ",")', async () => {
    const s = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'shared-key', '-k', h.secret, 'plugins/app:1', 'plugins/app:signed']);
    expect(s.code, s.all).toBe(0);
    for (const trust of [`shared-key:${h.secret}`, `shared-key:${h.secret},shared-key:${h.stranger}`, `shared-key:${h.stranger}:shared-key:${h.secret}`]) {
      const v = await bin('docker-verify', ['archive', '--archive', archive, 'plugins/app:signed'], { DSV_TRUST: trust });
      expect(v.code, `${trust}: ${v.all}`).toBe(0);
    }
    const untrusted = await bin('docker-verify', ['archive', '--archive', archive, 'plugins/app:signed'], { DSV_TRUST: `shared-key:${h.stranger}` });
    expect(untrusted.code, untrusted.all).toBe(1);
  });

  it('docker-sign --signer-opt reaches the plugin\'s settings, as dsv sign\'s does', async () => {
    const s = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'shared-key:algorithm=sha512', 'plugins/app:1', 'plugins/app:opt']);
    expect(s.code, s.all).toBe(0);
    const v = await bin('dsv', ['verify', '--trust', `shared-key:${h.secret}`, `docker-archive:${archive}:plugins/app:opt`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('hmac-sha512');
    const bad = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'algorithm=md5', 'plugins/app:1', 'plugins/app:nope']);
    expect(bad.code, bad.all).toBe(2);
    expect(bad.stderr).toMatch(/^docker-sign: error: .*algorithm "md5" is not one of sha256, sha512/m);
    const malformed = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'no-equals', 'plugins/app:1', 'plugins/app:nope']);
    expect(malformed.code, malformed.all).toBe(2);
    expect(malformed.stderr).toContain('invalid --signer-opt "no-equals": expected [TYPE:]KEY=VALUE');
  });

  it('docker sign --signer-opt (the real docker CLI running the installed plugin, --remote: no daemon needed)', async () => {
    reg = await startRegistry({ mode: 'http' });
    const dockerConfig = join(h.home, 'docker-config');
    installPlugins({ dir: join(dockerConfig, 'cli-plugins') });
    const env = { ...h.env, DOCKER_CONFIG: dockerConfig, DOCKER_HOST: `unix://${join(h.home, 'no-daemon.sock')}`, DSV_INSECURE_REGISTRIES: reg.host };
    const pushed = await bin('dsv-copy', [`oci:${layout}:1`, `docker://${reg.host}/plugins/app:1`], env);
    expect(pushed.code, pushed.all).toBe(0);
    const docker = (args: string[]) => new Promise<Ran>((resolve) => {
      execFile(requireTool('docker'), args, { env, cwd: h.home, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, all: `${stdout}${stderr}` });
      });
    });
    const help = await docker(['sign', '--help']);
    expect(help.stdout).toMatch(/--signer-opt opt +A setting for the signer plugin, \[TYPE:\]KEY=VALUE \(repeatable\)/);
    const s = await docker(['sign', '--remote', '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'algorithm=sha512', `${reg.host}/plugins/app:1`, `${reg.host}/plugins/app:opt`]);
    expect(s.code, s.all).toBe(0);
    const v = await bin('dsv', ['verify', '--trust', `shared-key:${h.secret}`, `docker://${reg.host}/plugins/app:opt`], env);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('hmac-sha512');
    const bad = await docker(['sign', '--remote', '-t', 'shared-key', '-k', h.secret, '--signer-opt', 'shared-key:algorithm=md5', `${reg.host}/plugins/app:1`, `${reg.host}/plugins/app:nope`]);
    expect(bad.code, bad.all).toBe(2);
    expect(bad.stderr).toMatch(/algorithm "md5" is not one of sha256, sha512/);
  });

  it('plugin-loading mistakes are usage errors: exit 2, one line, no bundle paths', async () => {
    for (const [spec, re] of [
      ['exec:absent', /dsv-signer-absent was not found on PATH or in ~\/\.dsv\/plugins/],
      ['@dsv/definitely-not-installed-plugin', /cannot load signer plugin module @dsv\/definitely-not-installed-plugin: /],
      ['/nonexistent/plugin.mjs', /cannot load signer plugin module \/nonexistent\/plugin\.mjs: /],
    ] as const) {
      const r = await bin('dsv', ['verify', `oci:${layout}:1`], { DSV_SIGNER_PLUGINS: spec });
      expect(r.code, r.all).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/bundle|chunk-|apps\/cli/);
    }
  });
});
