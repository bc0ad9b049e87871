// `dsv sync` against two real docker-registry instances, with `skopeo sync` as the peer: a repository, a
// skopeo-sync YAML file, OCI layouts on disk both ways, idempotent re-runs, --dry-run, --policy (signed-only
// sync, the BUILT dsv signing with a key in a private GnuPG home), and --shard.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let a: StartedRegistry;
let b: StartedRegistry;
let work: string;
let signer: GpgHome;
let env: NodeJS.ProcessEnv;

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(join(root, 'apps', 'cli', 'bin', 'dsv.js'), args, { env: { ...env, ...extra }, cwd: work });
}

function skopeo(args: string[]): string {
  return execFileSync(requireTool('skopeo'), ['--policy', join(work, 'insecure.json'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** The manifest digest a registry serves for a reference (skopeo inspect, the peer's view). */
function digestOf(ref: string): string {
  return JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).Digest;
}

beforeAll(async () => {
  if (!process.env.DSV_E2E_PREBUILT) run('flock', ['/tmp/dsv-build.lock', 'npm', 'run', 'build'], { cwd: root });
  [a, b] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-sync-e2e-');
  writeFileSync(join(work, 'insecure.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  signer = makeGpgHome({ withKey: { name: 'Sync Signer', email: 'sync@dsv.invalid' } });
  writeFileSync(join(work, 'signer.pub'), signer.exportPublic());
  for (const v of ['v1', 'v2', 'v3']) {
    const layout = join(work, `layout-${v}`);
    writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/version': `sync ${v}\n` }, { [`etc/${v}`]: v }] }), tag: v });
    skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:${v}`, `docker://${a.host}/app/one:${v}`]);
    if (v !== 'v3') skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:${v}`, `docker://${a.host}/app/two:${v}`]);
  }
  skopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, 'layout-v1')}:v1`, `docker://${a.host}/app/two:other`]);
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: signer.home };
}, 300_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv sync', () => {
  it('copies every tag of a repository to a registry prefix, named as skopeo sync names it, digests kept', async () => {
    const r = await dsv(['sync', `docker://${a.host}/app/one`, `docker://${b.host}/mirror`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout.match(/^COPIED /gm)).toHaveLength(3);
    expect(r.stdout).toContain('3 images in 1 repositories: 3 copied, 0 already there, 0 failed');
    skopeo(['sync', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false', `${a.host}/app/one`, `${b.host}/peer`]);
    for (const v of ['v1', 'v2', 'v3']) {
      expect(digestOf(`${b.host}/mirror/one:${v}`)).toBe(digestOf(`${a.host}/app/one:${v}`));
      expect(digestOf(`${b.host}/mirror/one:${v}`)).toBe(digestOf(`${b.host}/peer/one:${v}`));
    }
  });

  it('is idempotent: a second run sends nothing; --dry-run writes nothing', async () => {
    const again = await dsv(['sync', '--json', `docker://${a.host}/app/one`, `docker://${b.host}/mirror`]);
    expect(again.code, again.all).toBe(0);
    expect(JSON.parse(again.stdout).summary).toMatchObject({ images: 3, copied: 0, present: 3 });
    const dry = await dsv(['sync', '--dry-run', `docker://${a.host}/app/two`, `docker://${b.host}/dry`]);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain('3 images in 1 repositories: 3 to copy');
    expect(() => digestOf(`${b.host}/dry/two:v1`)).toThrow();
  });

  it('reads a skopeo-sync YAML file: tag lists and tag patterns', async () => {
    const yaml = join(work, 'sync.yaml');
    writeFileSync(yaml, `${a.host}:\n  images:\n    app/one: ["v2"]\n  images-by-tag-regex:\n    app/two: ^v[0-9]+$\n  tls-verify: false\n`);
    const r = await dsv(['sync', '--json', yaml, `docker://${b.host}/fromyaml`]);
    expect(r.code, r.all).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.results.map((x: { destination: string }) => x.destination).sort()).toEqual(
      [`docker://${b.host}/fromyaml/one:v2`, `docker://${b.host}/fromyaml/two:v1`, `docker://${b.host}/fromyaml/two:v2`],
    );
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, `${a.host}:\n  imagez: {}\n`);
    const refused = await dsv(['sync', bad, `docker://${b.host}/x`]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown key "imagez"/);
  });

  it('syncs to a directory of OCI layouts and back (the air gap), digests kept', async () => {
    const disk = join(work, 'disk');
    const out = await dsv(['sync', `docker://${a.host}/app/two`, `oci:${disk}`]);
    expect(out.code, out.all).toBe(0);
    expect(existsSync(join(disk, 'two', 'index.json'))).toBe(true);
    const back = await dsv(['sync', `oci:${disk}`, `docker://${b.host}/restored`]);
    expect(back.code, back.all).toBe(0);
    for (const t of ['v1', 'v2', 'other']) expect(digestOf(`${b.host}/restored/two:${t}`)).toBe(digestOf(`${a.host}/app/two:${t}`));
  });

  it('--policy copies only what the policy accepts and lists what it skipped and why', async () => {
    const s = await dsv(['sign', '--key', signer.fingerprint, `docker://${a.host}/app/one:v1`]);
    expect(s.code, s.all).toBe(0);
    const policy = join(work, 'signed-only.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'dsvSigned', keyPath: join(work, 'signer.pub') }] }));
    const r = await dsv(['sync', '--policy', policy, `docker://${a.host}/app/one`, `docker://${b.host}/signed`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/^COPIED +docker:\/\/.*\/app\/one:v1 -> /m);
    expect(r.stderr).toMatch(/^REJECTED docker:\/\/.*\/app\/one:v2 -> .*: dsvSigned: /m);
    expect(r.stdout).toContain('1 copied, 0 already there, 2 rejected by the policy, 0 failed');
    expect(() => digestOf(`${b.host}/signed/one:v2`)).toThrow();
  });

  it('--shard splits the repositories of a sync file between machines, each exactly once', async () => {
    const yaml = join(work, 'shard.yaml');
    writeFileSync(yaml, `${a.host}:\n  images:\n    app/one: []\n    app/two: []\n`);
    const seen: string[] = [];
    for (const i of [0, 1]) {
      const r = await dsv(['sync', '--dry-run', '--json', '--shard', `${i}/2`, yaml, `docker://${b.host}/sharded`]);
      expect(r.code, r.all).toBe(0);
      seen.push(...new Set((JSON.parse(r.stdout).results as Array<{ repository: string }>).map((x) => x.repository)));
    }
    expect(seen.sort()).toEqual([`${a.host}/app/one`, `${a.host}/app/two`]);
  });
});
