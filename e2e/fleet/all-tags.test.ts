// `dsv verify --all-tags` / `dsv sign --all-tags` (embedded, and detached --format simple|cosign) and `--shard`
// against a real docker-registry: images pushed by skopeo from OCI layouts, signed by the BUILT dsv with a key
// in a private GnuPG home (simple: a file:// lookaside store) and a cosign key pair it generates.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { expectValidReport } from '../helpers/schemas.js';
import { launcher } from '../helpers/cli.js';

const TEAM = ['team/alpha', 'team/beta', 'team/gamma', 'team/delta', 'team/epsilon', 'team/zeta'];
let reg: StartedRegistry;
let work: string;
let signer: GpgHome;
let env: NodeJS.ProcessEnv;

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env: { ...env, ...extra }, cwd: work });
}

function push(layout: string, tag: string, dest: string): void {
  execFileSync(requireTool('skopeo'), ['--policy', join(work, 'insecure.json'), 'copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${reg.host}/${dest}`], { stdio: 'pipe', timeout: 120_000 });
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-fleet-e2e-');
  writeFileSync(join(work, 'insecure.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  signer = makeGpgHome({ withKey: { name: 'Fleet Signer', email: 'fleet@dsv.invalid' } });
  writeFileSync(join(work, 'signer.pub'), signer.exportPublic());
  for (const v of ['v1', 'v2', 'v3']) {
    const layout = join(work, `layout-${v}`);
    writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/version': `${v}\n` }] }), tag: v });
    push(layout, v, `app/fleet:${v}`);
  }
  for (const repo of TEAM) push(join(work, 'layout-v1'), 'v1', `${repo}:v1`);
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: signer.home };
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv verify --all-tags / dsv sign --all-tags', () => {
  it('verifies every tag, one line each and a summary; unsigned tags fail with exit 1', async () => {
    const r = await dsv(['verify', '--all-tags', '--trust', join(work, 'signer.pub'), `docker://${reg.host}/app/fleet`]);
    expect(r.code, r.all).toBe(1);
    for (const v of ['v1', 'v2', 'v3']) expect(r.stderr).toMatch(new RegExp(`^FAILED  ${reg.host}/app/fleet:${v} sha256:[0-9a-f]{64}: .*no signatures`, 'm'));
    expect(r.stdout).toContain('3 tags in 1 repositories: 0 verified, 3 failed');
  });

  it('signs every tag in place, then a second run skips them all (resumable), and every tag verifies', async () => {
    const s = await dsv(['sign', '--all-tags', '--jobs', '2', '--key', signer.fingerprint, `docker://${reg.host}/app/fleet`]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout.match(/^SIGNED  /gm)).toHaveLength(3);
    expect(s.stdout).toContain('3 tags in 1 repositories: 3 signed, 0 already signed, 0 failed');
    const again = await dsv(['sign', '--all-tags', '--key', signer.fingerprint, `docker://${reg.host}/app/fleet`]);
    expect(again.code, again.all).toBe(0);
    expect(again.stdout.match(/^SKIPPED /gm)).toHaveLength(3);
    expect(again.stdout).toContain('0 signed, 3 already signed');
    const signJson = await dsv(['sign', '--all-tags', '--json', '--key', signer.fingerprint, `docker://${reg.host}/app/fleet`]);
    expect(signJson.code, signJson.all).toBe(0);
    expect(expectValidReport('all-tags', signJson.stdout)).toMatchObject({ command: 'sign', allTags: true, ok: true, summary: { tags: 3, skipped: 3 } });
    const v = await dsv(['verify', '--all-tags', '--json', '--trust', join(work, 'signer.pub'), `docker://${reg.host}/app/fleet`]);
    expect(v.code, v.all).toBe(0);
    expectValidReport('all-tags', v.stdout);
    const j = JSON.parse(v.stdout);
    expect(j).toMatchObject({ command: 'verify', allTags: true, ok: true, exitCode: 0, summary: { tags: 3, verified: 3, failed: 0 } });
    expect(j.results.map((x: { tag: string }) => x.tag)).toEqual(['v1', 'v2', 'v3']);
  });

  it('leaves the .sig-style attachment tags out of the tag list', async () => {
    push(join(work, 'layout-v1'), 'v1', `app/fleet:sha256-${'a'.repeat(64)}.sig`);
    const r = await dsv(['verify', '--all-tags', '--json', '--trust', join(work, 'signer.pub'), `docker://${reg.host}/app/fleet`]);
    expect(JSON.parse(r.stdout).summary.tags).toBe(3);
  });

  it('refuses a tagged reference, a destination, and --shard without --all-tags (exit 2)', async () => {
    const tagged = await dsv(['verify', '--all-tags', `docker://${reg.host}/app/fleet:v1`]);
    expect(tagged.code).toBe(2);
    expect(tagged.stderr).toMatch(/--all-tags takes a repository without a tag or digest/);
    const taggedJson = await dsv(['verify', '--all-tags', '--json', `docker://${reg.host}/app/fleet:v1`]);
    expect(taggedJson.code).toBe(2);
    expect(expectValidReport('all-tags', taggedJson.stdout)).toMatchObject({ command: 'verify', ok: false, error: { exitCode: 2 } });
    const dest = await dsv(['sign', '--all-tags', '--key', signer.fingerprint, `docker://${reg.host}/app/fleet`, `docker://${reg.host}/other`]);
    expect(dest.code).toBe(2);
    const noAll = await dsv(['verify', '--shard', '0/2', `docker://${reg.host}/app/fleet:v1`]);
    expect(noAll.code).toBe(2);
    expect(noAll.stderr).toMatch(/--shard needs --all-tags/);
  });
});

describe('dsv sign --all-tags --format simple|cosign (detached)', () => {
  let regd: string;
  const repo = () => `docker://${reg.host}/app/detached`;
  beforeAll(async () => {
    for (const v of ['v1', 'v2', 'v3']) push(join(work, `layout-${v}`), v, `app/detached:${v}`);
    // "same" names v1's image.
    push(join(work, 'layout-v1'), 'v1', 'app/detached:same');
    regd = join(work, 'registries.d');
    mkdirSync(regd, { recursive: true });
    const store = pathToFileURL(join(work, 'sigstore')).href;
    writeFileSync(join(regd, 'default.yaml'), `default-docker:\n  lookaside: ${store}\n  lookaside-staging: ${store}\n`);
    writeFileSync(join(work, 'pw'), 'fleet-pass\n');
    const k = await dsv(['generate-key-pair', '--format', 'cosign', '--output-prefix', join(work, 'fleet'), '--passphrase-file', join(work, 'pw')]);
    expect(k.code, k.all).toBe(0);
  }, 300_000);

  it('simple: signs every tag (one signed before is skipped: resumable), --jobs 2; a second run skips all; the images are unchanged and every tag passes a signedBy policy', async () => {
    const before = await dsv(['inspect', '--json', `${repo()}:v2`]);
    const first = await dsv(['sign', '--format', 'simple', '--registries.d', regd, '--key', signer.fingerprint, `${repo()}:v2`]);
    expect(first.code, first.all).toBe(0);
    const s = await dsv(['sign', '--all-tags', '--jobs', '2', '--format', 'simple', '--registries.d', regd, '--key', signer.fingerprint, repo()]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toMatch(new RegExp(`^SKIPPED ${reg.host}/app/detached:v2 sha256:[0-9a-f]{64}: already signed by this key \\(simple signing\\)`, 'm'));
    // "same" and v1 name one image: a simple signature names one identity (the tag), so each gets its own.
    expect(s.stdout).toContain('4 tags in 1 repositories: 3 signed, 1 already signed, 0 failed');
    const again = await dsv(['sign', '--all-tags', '--json', '--format', 'simple', '--registries.d', regd, '--key', signer.fingerprint, repo()]);
    expect(again.code, again.all).toBe(0);
    expect(expectValidReport('all-tags', again.stdout)).toMatchObject({ command: 'sign', ok: true, summary: { tags: 4, signed: 0, skipped: 4 } });
    expect(JSON.parse((await dsv(['inspect', '--json', `${repo()}:v2`])).stdout).digest).toBe(JSON.parse(before.stdout).digest);
    const policy = join(work, 'signedby.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'signer.pub') }] }));
    const v = await dsv(['verify', '--all-tags', '--policy', policy, '--registries.d', regd, repo()]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('4 tags in 1 repositories: 4 verified, 0 failed');
  });

  it('cosign: a .sig per tag (it names the tag), resumable, every tag verifies with the public key; a bundle (naming the repository) once per image', async () => {
    const args = ['sign', '--all-tags', '--format', 'cosign', '--key', join(work, 'fleet.key'), '--passphrase-file', join(work, 'pw')];
    const s = await dsv([...args, '--jobs', '3', repo()]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout.match(/^SIGNED  .*stored in .*\.sig/gm)).toHaveLength(4);
    const again = await dsv([...args, repo()]);
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toContain('0 signed, 4 already signed, 0 failed');
    for (const tag of ['v1', 'v2', 'v3', 'same']) {
      const v = await dsv(['verify', '--trust', `cosign:${join(work, 'fleet.pub')}`, `${repo()}:${tag}`]);
      expect(v.code, `${tag}: ${v.all}`).toBe(0);
    }
    // A .sig does not count as a bundle; "same" and v1 share one.
    const bundles = await dsv([...args, '--cosign-bundle', repo()]);
    expect(bundles.code, bundles.all).toBe(0);
    expect(bundles.stdout).toContain('3 signed, 1 already signed, 0 failed');
  });

  it('refuses --dry-run with a detached format (exit 2, one line)', async () => {
    const r = await dsv(['sign', '--all-tags', '--dry-run', '--format', 'cosign', '--key', join(work, 'fleet.key'), repo()]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('--dry-run is not supported with --format cosign');
  });
});

describe('--shard INDEX/COUNT and JOB_COMPLETION_INDEX', () => {
  const repos = () => TEAM.map((r) => `docker://${reg.host}/${r}`);
  const covered = (r: Ran) => (JSON.parse(r.stdout).results as Array<{ repository: string }>).map((x) => x.repository);

  it('puts every repository in exactly one of the shards, the same on every run', async () => {
    const seen: string[] = [];
    for (const index of [0, 1, 2]) {
      const r = await dsv(['verify', '--all-tags', '--json', '--no-check-signatures', '--shard', `${index}/3`, ...repos()]);
      expect(r.code, r.all).toBe(0);
      const mine = covered(r);
      const again = await dsv(['verify', '--all-tags', '--json', '--no-check-signatures', '--shard', `${index}/3`, ...repos()]);
      expect(covered(again)).toEqual(mine);
      seen.push(...mine);
    }
    expect(seen.sort()).toEqual(TEAM.map((r) => `${reg.host}/${r}`).sort());
  });

  it('reads the shard of a Kubernetes Indexed Job from JOB_COMPLETION_INDEX and DSV_SHARD_COUNT', async () => {
    const flag = await dsv(['verify', '--all-tags', '--json', '--no-check-signatures', '--shard', '1/3', ...repos()]);
    const fromEnv = await dsv(['verify', '--all-tags', '--json', '--no-check-signatures', ...repos()], { JOB_COMPLETION_INDEX: '1', DSV_SHARD_COUNT: '3' });
    expect(fromEnv.code, fromEnv.all).toBe(0);
    expect(covered(fromEnv)).toEqual(covered(flag));
    expectValidReport('all-tags', fromEnv.stdout);
    expect(JSON.parse(fromEnv.stdout).shard).toEqual({ index: 1, count: 3, source: 'JOB_COMPLETION_INDEX/DSV_SHARD_COUNT' });
    const half = await dsv(['verify', '--all-tags', ...repos()], { JOB_COMPLETION_INDEX: '1' });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/JOB_COMPLETION_INDEX is set but DSV_SHARD_COUNT is not/);
  });
});
