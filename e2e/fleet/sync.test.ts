// `dsv sync` against two real docker-registry instances, with `skopeo sync` as the peer: a repository, a
// skopeo-sync YAML file, OCI layouts on disk both ways, idempotent re-runs, --dry-run, --policy (signed-only
// sync, the BUILT dsv signing with a key in a private GnuPG home), and --shard.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { runDsv } from '../helpers/cli.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { expectValidReport } from '../helpers/schemas.js';
import { insecurePolicy, lookasideRegistriesD, skopeoOk } from '../helpers/skopeo.js';

let a: StartedRegistry;
let b: StartedRegistry;
let work: string;
let signer: GpgHome;
let env: NodeJS.ProcessEnv;

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runDsv(args, { ...env, ...extra }, work);
}

/** skopeo with the insecure policy: its stdout; a failure throws with its output. */
const skopeo = (args: string[], extra: NodeJS.ProcessEnv = {}): string => skopeoOk(['--policy', join(work, 'insecure.json'), ...args], extra);

/** The manifest digest a registry serves for a reference (skopeo inspect, the peer's view). */
function digestOf(ref: string): string {
  return JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).Digest;
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [a, b] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-sync-e2e-');
  insecurePolicy(join(work, 'insecure.json'));
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
    expectValidReport('sync', again.stdout);
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
    expectValidReport('sync', r.stdout);
    const j = JSON.parse(r.stdout);
    expect(j.results.map((x: { destination: string }) => x.destination).sort()).toEqual(
      [`docker://${b.host}/fromyaml/one:v2`, `docker://${b.host}/fromyaml/two:v1`, `docker://${b.host}/fromyaml/two:v2`],
    );
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, `${a.host}:\n  imagez: {}\n`);
    const refused = await dsv(['sync', bad, `docker://${b.host}/x`]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown key "imagez"/);
    const refusedJson = await dsv(['sync', '--json', bad, `docker://${b.host}/x`]);
    expect(refusedJson.code).toBe(2);
    expect(expectValidReport('sync', refusedJson.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'Usage' } });
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
    const rj = await dsv(['sync', '--json', '--policy', policy, `docker://${a.host}/app/one`, `docker://${b.host}/signed`]);
    expect(rj.code, rj.all).toBe(0);
    expect(expectValidReport('sync', rj.stdout)).toMatchObject({ policy, summary: { present: 1, rejected: 2 } });
  });

  it('--shard splits the repositories of a sync file between machines, each exactly once', async () => {
    const yaml = join(work, 'shard.yaml');
    writeFileSync(yaml, `${a.host}:\n  images:\n    app/one: []\n    app/two: []\n`);
    const seen: string[] = [];
    for (const i of [0, 1]) {
      const r = await dsv(['sync', '--dry-run', '--json', '--shard', `${i}/2`, yaml, `docker://${b.host}/sharded`]);
      expect(r.code, r.all).toBe(0);
      expect(expectValidReport('sync', r.stdout)).toMatchObject({ dryRun: true, shard: { index: i, count: 2 } });
      seen.push(...new Set((JSON.parse(r.stdout).results as Array<{ repository: string }>).map((x) => x.repository)));
    }
    expect(seen.sort()).toEqual([`${a.host}/app/one`, `${a.host}/app/two`]);
  });

  it('carries simple (skopeo-made) and cosign signatures; skopeo accepts the synced image under signedBy; a re-run sends none again', async () => {
    const regd = lookasideRegistriesD(join(work, 'registries.d'), join(work, 'sigstore'));
    const theirs = makeGpgHome({ withKey: { name: 'Skopeo Signer', email: 'skopeo@dsv.invalid' } });
    writeFileSync(join(work, 'theirs.pub'), theirs.exportPublic());
    skopeo(['--registries.d', regd, 'copy', '--dest-tls-verify=false', '--sign-by', theirs.fingerprint, `oci:${join(work, 'layout-v2')}:v2`, `docker://${a.host}/signed/img:v2`], { GNUPGHOME: theirs.home });
    writeFileSync(join(work, 'pw'), 'cosign-pass\n');
    const keys = await dsv(['generate-key-pair', '--format', 'cosign', '--passphrase-file', join(work, 'pw')]);
    expect(keys.code, keys.all).toBe(0);
    const signed = await dsv(['sign', '--json', '--format', 'cosign', '--key', join(work, 'cosign.key'), '--passphrase-file', join(work, 'pw'), `docker://${a.host}/signed/img:v2`]);
    expect(signed.code, signed.all).toBe(0);
    expect(expectValidReport('detached-sign', signed.stdout)).toMatchObject({ command: 'sign', ok: true, format: 'cosign', imageChanged: false });

    const r = await dsv(['sync', '--json', '--registries.d', regd, `docker://${a.host}/signed/img`, `docker://${b.host}/synced`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).results).toMatchObject([{ tag: 'v2', status: 'copied', signaturesCarried: 2 }]);
    // The identity skopeo signed names the source repository: the mirror verifies with a remap, as skopeo users do.
    const remap = join(work, 'remap-policy.json');
    writeFileSync(remap, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [`${b.host}/synced`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'theirs.pub'),
      signedIdentity: { type: 'remapIdentity', prefix: `${b.host}/synced`, signedPrefix: `${a.host}/signed` } }] } } }));
    skopeoOk(['--policy', remap, '--registries.d', regd, 'copy', '--remove-signatures', '--src-tls-verify=false', `docker://${b.host}/synced/img:v2`, `oci:${join(work, 'check')}:v2`]);
    // dsv judges both formats at the mirror under one policy, with the same remap.
    const both = join(work, 'both-policy.json');
    const remapped = { type: 'remapIdentity', prefix: `${b.host}/synced`, signedPrefix: `${a.host}/signed` };
    writeFileSync(both, JSON.stringify({ default: [
      { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'theirs.pub'), signedIdentity: remapped },
      { type: 'sigstoreSigned', keyPath: join(work, 'cosign.pub'), signedIdentity: remapped },
    ] }));
    const judged = await dsv(['verify', '--policy', both, '--registries.d', regd, `docker://${b.host}/synced/img:v2`]);
    expect(judged.code, judged.all).toBe(0);
    expect(judged.stdout).toMatch(/signedBy: satisfied/);
    expect(judged.stdout).toMatch(/sigstoreSigned: satisfied/);
    const judgedJson = await dsv(['verify', '--json', '--policy', both, '--registries.d', regd, `docker://${b.host}/synced/img:v2`]);
    expect(judgedJson.code, judgedJson.all).toBe(0);
    expect(expectValidReport('policy-verify', judgedJson.stdout)).toMatchObject({ command: 'verify', ok: true, exitCode: 0 });
    const again = await dsv(['sync', '--json', '--registries.d', regd, `docker://${a.host}/signed/img`, `docker://${b.host}/synced`]);
    expect(again.code, again.all).toBe(0);
    expect(JSON.parse(again.stdout).results[0]).toMatchObject({ status: 'present' });
  });

  it('reads each source manifest once per image and only HEADs the destination (request counts from both registries\' logs)', async () => {
    for (const v of ['v1', 'v2', 'v3']) skopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, `layout-${v}`)}:${v}`, `docker://${a.host}/count/app:${v}`]);
    // Requests for the images' manifests (by tag or digest), not the signature lookups (.sig, referrers tags).
    const requests = (log: string, method: string, repo: string) =>
      log.split('\n').filter((l) => l.includes('response completed') && l.includes(`http.request.method=${method} `) && new RegExp(`http\\.request\\.uri="?/v2/${repo}/manifests/(v\\d|sha256:[0-9a-f]{64})[" ]`).test(l)).length;
    const before = { a: a.log().length, b: b.log().length };
    const counts = () => {
      const la = a.log().slice(before.a);
      const lb = b.log().slice(before.b);
      return { srcGet: requests(la, 'GET', 'count/app'), srcHead: requests(la, 'HEAD', 'count/app'), destGet: requests(lb, 'GET', 'counted/app'), destHead: requests(lb, 'HEAD', 'counted/app') };
    };
    const r = await dsv(['sync', `docker://${a.host}/count/app`, `docker://${b.host}/counted`]);
    expect(r.code, r.all).toBe(0);
    const first = counts();
    before.a = a.log().length;
    before.b = b.log().length;
    const again = await dsv(['sync', `docker://${a.host}/count/app`, `docker://${b.host}/counted`]);
    expect(again.code, again.all).toBe(0);
    const second = counts();
    console.log(`sync request counts, 3 images: first run ${JSON.stringify(first)}, re-run ${JSON.stringify(second)}`);
    // Before the source manifest was handed on and DEST asked with HEAD: first run 9 source GETs and 3 DEST
    // GETs (3 + 3 on a re-run); now one source GET and one DEST HEAD per image.
    expect(first).toEqual({ srcGet: 3, srcHead: 0, destGet: 0, destHead: 3 });
    expect(second).toEqual({ srcGet: 3, srcHead: 0, destGet: 0, destHead: 3 });
  });
});
