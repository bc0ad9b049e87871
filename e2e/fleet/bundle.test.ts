// `dsv bundle create / verify / push` with real components: two docker-registry instances, skopeo 1.9
// (a --sign-by simple signature in a lookaside store per a temp registries.d; `skopeo copy oci-archive:`
// reading the bundle), the BUILT dsv signing with cosign (a .sig tag; a Sigstore bundle referrer on a
// multi-platform image) and embedded (gpg), a private dockerd for `docker load`, and
// `bundle verify` offline (the source registry stopped, HOME empty) — a tampered blob fails it naming the blob;
// bundles made from an OCI layout and a docker-save archive (written by skopeo).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { insecurePolicy, perRegistryLookaside, skopeoOk } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { expectValidReport } from '../helpers/schemas.js';
import { launcher } from '../helpers/cli.js';

const PASS = 'bundle-pass';
let a: StartedRegistry;
let b: StartedRegistry;
let work: string;
let regd: string;
let signer: GpgHome;
let env: NodeJS.ProcessEnv;
let bundle: string;
const digests: Record<string, string> = {};

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}, base: NodeJS.ProcessEnv = env): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env: { ...base, ...extra }, cwd: work });
}

function skopeo(args: string[], extra: NodeJS.ProcessEnv = {}): string {
  return skopeoOk(['--policy', join(work, 'insecure.json'), '--registries.d', regd, ...args], extra);
}

/** The [name, data offset, size] of every entry of a tar (ustar headers; names under 100 bytes). */
function tarEntries(buf: Buffer): [string, number, number][] {
  const out: [string, number, number][] = [];
  let off = 0;
  while (off + 512 <= buf.length && buf[off] !== 0) {
    const short = buf.subarray(off, off + 100).toString('latin1').replace(/\0.*$/s, '');
    const prefix = buf.subarray(off + 345, off + 500).toString('latin1').replace(/\0.*$/s, '');
    const name = prefix ? `${prefix}/${short}` : short;
    const size = parseInt(buf.subarray(off + 124, off + 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push([name, off + 512, size]);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [a, b] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-bundle-e2e-');
  regd = perRegistryLookaside(join(work, 'registries.d'), { [a.host]: join(work, 'sigstore-a'), [b.host]: join(work, 'sigstore-b') });
  insecurePolicy(join(work, 'insecure.json'));
  signer = makeGpgHome({ withKey: { name: 'Bundle Signer', email: 'bundle@dsv.invalid' } });
  mkdirSync(join(work, 'keys'));
  writeFileSync(join(work, 'keys', 'signer.pub'), signer.exportPublic());
  env = { PATH: process.env.PATH, HOME: work };
  for (const [repo, text] of [['simple', 'signed by skopeo'], ['cosign', 'signed by dsv with cosign']] as const) {
    const layout = join(work, `layout-${repo}`);
    writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': `${text}\n` }, { 'app/data.bin': Buffer.alloc(50_000, repo.length) }] }), tag: 'v1' });
    skopeo(['copy', '--dest-tls-verify=false', ...(repo === 'simple' ? ['--sign-by', signer.fingerprint] : []), `oci:${layout}:v1`, `docker://${a.host}/app/${repo}:v1`], repo === 'simple' ? { GNUPGHOME: signer.home } : {});
    digests[repo] = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${a.host}/app/${repo}:v1`])).Digest;
  }
  // A multi-platform image (an index of amd64 and arm64), pushed whole, signed with cosign below.
  const multi = join(work, 'layout-multi');
  writeOciLayout(multi, { image: buildSampleIndex([
    await buildSampleImage({ format: 'oci', layers: [{ 'p/amd64': 'amd64\n' }], platform: 'linux/amd64' }),
    await buildSampleImage({ format: 'oci', layers: [{ 'p/arm64': 'arm64\n' }], platform: 'linux/arm64/v8' }),
  ]), tag: 'v1' });
  skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${multi}:v1`, `docker://${a.host}/app/multi:v1`]);
  digests.multi = `sha256:${createHash('sha256').update(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/multi:v1`])).digest('hex')}`;
  const keygen = await dsv(['generate-key-pair', '--format', 'cosign', '--output-prefix', 'keys/cosign'], { COSIGN_PASSWORD: PASS });
  expect(keygen.code, keygen.all).toBe(0);
  for (const repo of ['cosign', 'multi']) {
    // multi: a Sigstore bundle referrer (referrers tag schema) instead of the .sig tag.
    const signed = await dsv(['sign', '--format', 'cosign', ...(repo === 'multi' ? ['--cosign-bundle'] : []), '--key', 'keys/cosign.key', `docker://${a.host}/app/${repo}:v1`], { COSIGN_PASSWORD: PASS });
    expect(signed.code, signed.all).toBe(0);
  }
  // An embedded (docker-sign-verify) signature: dsv signs the skopeo-signed image into a new tag.
  const embedded = await dsv(['sign', '--key', signer.fingerprint, `docker://${a.host}/app/simple:v1`, `docker://${a.host}/app/embedded:v1`], { GNUPGHOME: signer.home });
  expect(embedded.code, embedded.all).toBe(0);
  digests.embedded = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${a.host}/app/embedded:v1`])).Digest;
  // Each image must carry its own format: the policy per repository, relative key paths.
  writeFileSync(join(work, 'policy.json'), JSON.stringify({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        [`${a.host}/app/simple`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'keys/signer.pub' }],
        [`${a.host}/app/cosign`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'keys', 'cosign.pub'), signedIdentity: { type: 'matchRepoDigestOrExact' } }],
        [`${a.host}/app/embedded`]: [{ type: 'dsvSigned', keyPath: 'keys/signer.pub' }],
        // A Sigstore bundle names the repository only.
        [`${a.host}/app/multi`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'keys', 'cosign.pub'), signedIdentity: { type: 'matchRepository' } }],
      },
    },
  }));
  bundle = join(work, 'bundle.tar');
}, 300_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv bundle', () => {
  it('create: one tar with the docker-save and OCI layouts sharing blobs, every signature, the trust files and the policy', async () => {
    const r = await dsv(['bundle', 'create', '--registries.d', regd, '--out', bundle, '--policy', 'policy.json', '--trust', 'keys/signer.pub', '--trust', 'cosign:keys/cosign.pub',
      `docker://${a.host}/app/simple:v1`, `docker://${a.host}/app/cosign:v1`, `docker://${a.host}/app/multi:v1`, `docker://${a.host}/app/embedded:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`ADDED ${a.host}/app/simple:v1 ${digests.simple} (+1 detached signature)`);
    expect(r.stdout).toContain(`ADDED ${a.host}/app/cosign:v1 ${digests.cosign} (+1 detached signature)`);
    expect(r.stdout).toContain(`ADDED ${a.host}/app/multi:v1 ${digests.multi} (+1 detached signature)`);
    const one = join(work, 'one.tar');
    const rj = await dsv(['bundle', 'create', '--json', '--registries.d', regd, '--out', one, '--policy', 'policy.json', '--trust', 'keys/signer.pub', `docker://${a.host}/app/simple:v1`]);
    expect(rj.code, rj.all).toBe(0);
    expect(expectValidReport('bundle-create', rj.stdout)).toMatchObject({ command: 'bundle create', ok: true, out: one });
    const missing = await dsv(['bundle', 'create', '--json', '--registries.d', regd, '--out', join(work, 'none.tar'), `docker://${a.host}/app/absent:v1`]);
    expect(missing.code).toBeGreaterThan(1);
    expect(expectValidReport('bundle-create', missing.stdout)).toMatchObject({ ok: false });
    const buf = readFileSync(bundle);
    const names = tarEntries(buf).map(([n]) => n);
    for (const n of ['oci-layout', 'index.json', 'manifest.json', 'repositories', 'dsv-bundle/manifest.json', 'dsv-bundle/policy.json']) expect(names).toContain(n);
    expect(names.filter((n) => n.startsWith('blobs/sha256/')).length).toBeGreaterThan(6);
    const entry = (name: string) => {
      const [, off, size] = tarEntries(buf).find(([n]) => n === name)!;
      return JSON.parse(buf.subarray(off, off + size).toString('utf8'));
    };
    const save = entry('manifest.json');
    expect(save.map((e: { RepoTags: string[] }) => e.RepoTags[0])).toEqual([`${a.host}/app/simple:v1`, `${a.host}/app/cosign:v1`, `${a.host}/app/multi:v1`, `${a.host}/app/embedded:v1`]);
    for (const e of save) for (const p of [e.Config, ...e.Layers]) expect(names).toContain(p);
    const refNames = entry('index.json').manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
    expect(refNames).toEqual(expect.arrayContaining([`${a.host}/app/simple:v1`, `${a.host}/app/cosign:v1`, `${a.host}/app/cosign:${digests.cosign!.replace(':', '-')}.sig`]));
    const m = entry('dsv-bundle/manifest.json');
    expect(m.images.map((i: { digest: string }) => i.digest)).toEqual([digests.simple, digests.cosign, digests.multi, digests.embedded]);
    expect(m.images[2].manifests).toHaveLength(3);
    expect(m.images[2].signatures).toMatchObject({ cosign: 0, referrers: 1 });
    expect(refNames).toContain(`${a.host}/app/multi:${digests.multi!.replace(':', '-')}`);
    expect(m.images[2].dockerLoad.platform).toBe('linux/amd64');
    expect(m.images[0].signatures.simple).toHaveLength(1);
    expect(names).toContain(m.images[0].signatures.simple[0].file);
    expect(m.images[1].signatures.cosign).toBe(1);
    expect(m.trust.map((t: { type: string }) => t.type)).toEqual(['gpg', 'cosign']);
    // The policy's key files travel with it and it points at the copies.
    const policy = entry('dsv-bundle/policy.json');
    const keyPath = policy.transports.docker[`${a.host}/app/cosign`][0].keyPath;
    expect(names).toContain(`dsv-bundle/${keyPath}`);
    // Without --policy: the trust files alone judge the signatures.
    const t = await dsv(['bundle', 'create', '--registries.d', regd, '--out', 'trust-only.tar', '--trust', 'keys/signer.pub', '--trust', 'keys/cosign.pub',
      `docker://${a.host}/app/simple:v1`, `docker://${a.host}/app/cosign:v1`]);
    expect(t.code, t.all).toBe(0);
  });

  it('skopeo copy oci-archive:FILE:REF reads it, digests unchanged', () => {
    for (const repo of ['simple', 'cosign']) {
      const info = JSON.parse(skopeo(['inspect', `oci-archive:${bundle}:${a.host}/app/${repo}:v1`]));
      expect(info.Digest).toBe(digests[repo]);
      skopeo(['copy', `oci-archive:${bundle}:${a.host}/app/${repo}:v1`, `dir:${tempDir('dsv-bundle-dir-')}`]);
    }
    const raw = skopeo(['inspect', '--raw', `oci-archive:${bundle}:${a.host}/app/multi:v1`]);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digests.multi);
    skopeo(['copy', '--all', `oci-archive:${bundle}:${a.host}/app/multi:v1`, `oci:${tempDir('dsv-bundle-oci-')}:multi`]);
  });

  it('create from an OCI layout (oci:DIR:NAME) and a docker-save archive (docker-archive:FILE, named by its RepoTags): skopeo, docker load and bundle verify read it', async () => {
    const layoutDir = join(work, 'from-oci');
    const named = `${a.host}/app/embedded:v1`;
    skopeo(['copy', '--src-tls-verify=false', `docker://${named}`, `oci:${layoutDir}:${named}`]);
    const archive = join(work, 'from-archive.tar');
    skopeo(['copy', '--src-tls-verify=false', `docker://${named}`, `docker-archive:${archive}:localhost/app/archived:v1`]);
    const out = join(work, 'local-sources.tar');
    const r = await dsv(['bundle', 'create', '--json', '--out', out, '--trust', 'keys/signer.pub', `oci:${layoutDir}:${named}`, `docker-archive:${archive}`]);
    expect(r.code, r.all).toBe(0);
    const images = expectValidReport('bundle-create', r.stdout).images as Array<{ reference: string; digest: string }>;
    expect(images.map((i) => i.reference)).toEqual([named, 'localhost/app/archived:v1']);
    expect(images[0]!.digest).toBe(digests.embedded);
    // skopeo reads it as an OCI archive: the layout's image keeps its digest.
    expect(JSON.parse(skopeo(['inspect', `oci-archive:${out}:${named}`])).Digest).toBe(digests.embedded);
    skopeo(['copy', `oci-archive:${out}:${named}`, `dir:${tempDir('dsv-bundle-dir-')}`]);
    // The archive's image keeps the Docker schema 2 manifest the archive gives (its digest is what dsv verifies);
    // skopeo 1.9 lists only OCI manifests in a layout, so it does not see that one (docker load does, below).
    expect(() => skopeo(['inspect', `oci-archive:${out}:localhost/app/archived:v1`])).toThrow(/no descriptor found for reference/);
    // Offline, judged by the trust file: the embedded signature rides in both configs.
    const v = await dsv(['bundle', 'verify', out], {}, { PATH: process.env.PATH, HOME: tempDir('dsv-bundle-home-') });
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain(`VERIFIED ${named} ${digests.embedded}`);
    expect(v.stdout).toMatch(/VERIFIED localhost\/app\/archived:v1 sha256:[0-9a-f]{64}/);
    expect(v.stdout).toContain('2 verified, 0 failed');
    let d: Dockerd | undefined;
    try {
      d = await startDockerd();
      const loaded = d.docker(['load', '-i', out]);
      expect(loaded).toContain(`Loaded image: ${named}`);
      expect(loaded).toContain('Loaded image: localhost/app/archived:v1');
    } finally {
      await d?.stop();
    }
    // A layout image named by a bare tag names no repository: one line, exit 2, nothing written.
    const bare = await dsv(['bundle', 'create', '--out', join(work, 'bare.tar'), `oci:${join(work, 'layout-simple')}:v1`]);
    expect(bare.code, bare.all).toBe(2);
    expect(bare.stderr.trim().split('\n')).toHaveLength(1);
    expect(bare.stderr).toContain('names no repository');
  }, 240_000);

  it('docker load accepts it (a private dockerd): every image loaded under its name, a multi-platform one as linux/amd64, the configs unchanged', async () => {
    let d: Dockerd | undefined;
    try {
      d = await startDockerd();
      const out = d.docker(['load', '-i', bundle]);
      expect(out).toContain(`Loaded image: ${a.host}/app/simple:v1`);
      expect(out).toContain(`Loaded image: ${a.host}/app/cosign:v1`);
      expect(out).toContain(`Loaded image: ${a.host}/app/multi:v1`);
      expect(d.docker(['image', 'inspect', '--format', '{{.Architecture}}', `${a.host}/app/multi:v1`]).trim()).toBe('amd64');
      const save = JSON.parse(execFileSync('tar', ['-xOf', bundle, 'manifest.json'], { encoding: 'utf8' }));
      const id = d.docker(['image', 'inspect', '--format', '{{.Id}}', `${a.host}/app/simple:v1`]).trim();
      expect(id).toBe(save[0].Config.replace('blobs/sha256/', 'sha256:'));
    } finally {
      await d?.stop();
    }
  }, 180_000);

  it('verify: offline (the source registry stopped, HOME empty), every image judged by the bundled policy', async () => {
    await a.stop();
    const home = tempDir('dsv-bundle-home-');
    const offline = { PATH: process.env.PATH, HOME: home };
    const r = await dsv(['bundle', 'verify', bundle], {}, offline);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`VERIFIED ${a.host}/app/simple:v1 ${digests.simple}`);
    expect(r.stdout).toContain(`VERIFIED ${a.host}/app/cosign:v1 ${digests.cosign}`);
    expect(r.stdout).toContain(`VERIFIED ${a.host}/app/multi:v1 ${digests.multi}`);
    expect(r.stdout).toContain(`VERIFIED ${a.host}/app/embedded:v1 ${digests.embedded}`);
    expect(r.stdout).toContain('4 images judged by the bundled policy dsv-bundle/policy.json: 4 verified, 0 failed');
    const j = await dsv(['bundle', 'verify', '--json', bundle], {}, offline);
    expect(j.code, j.all).toBe(0);
    expect(JSON.parse(j.stdout).results.map((x: { ok: boolean }) => x.ok)).toEqual([true, true, true, true]);
    expectValidReport('bundle-verify', j.stdout);
  });

  it('verify: a tampered layer blob fails with exit 1 naming the blob', async () => {
    const buf = readFileSync(bundle);
    const save = JSON.parse(execFileSync('tar', ['-xOf', bundle, 'manifest.json'], { encoding: 'utf8' }));
    const layer = save[0].Layers[0] as string;
    const [, off, size] = tarEntries(buf).find(([n]) => n === layer)!;
    const bad = Buffer.from(buf);
    bad[off + Math.floor(size / 2)] ^= 0xff;
    const tampered = join(work, 'tampered.tar');
    writeFileSync(tampered, bad);
    const r = await dsv(['bundle', 'verify', tampered], {}, { PATH: process.env.PATH, HOME: tempDir('dsv-bundle-home-') });
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`blob ${layer.replace('blobs/sha256/', 'sha256:')}`);
    expect(r.stderr).toContain(`FAILED   ${a.host}/app/simple:v1`);
    expect(r.stdout).toContain(`VERIFIED ${a.host}/app/cosign:v1`);
    const j = await dsv(['bundle', 'verify', '--json', tampered], {}, { PATH: process.env.PATH, HOME: tempDir('dsv-bundle-home-') });
    expect(j.code, j.all).toBe(1);
    expect(expectValidReport('bundle-verify', j.stdout)).toMatchObject({ ok: false, exitCode: 1 });
  });

  it('verify: without a policy, judged by the bundled trust files (any one format); a file that is not a bundle is a usage error', async () => {
    const r = await dsv(['bundle', 'verify', 'trust-only.tar'], {}, { PATH: process.env.PATH, HOME: tempDir('dsv-bundle-home-') });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('2 images judged by the bundled trust files');
    expect(r.stdout).toContain('2 verified, 0 failed');
    const bad = await dsv(['bundle', 'verify', join(work, 'keys', 'signer.pub')]);
    expect(bad.code, bad.all).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const badJson = await dsv(['bundle', 'verify', '--json', join(work, 'keys', 'signer.pub')]);
    expect(badJson.code).toBe(2);
    expect(expectValidReport('bundle-verify', badJson.stdout)).toMatchObject({ ok: false, exitCode: 2 });
  });

  it('push: images and detached signatures restored under a registry prefix; dsv verify --policy accepts them there', async () => {
    const r = await dsv(['bundle', 'push', '--registries.d', regd, bundle, `docker://${b.host}/mirror`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`PUSHED ${a.host}/app/simple:v1 -> docker://${b.host}/mirror/app/simple:v1 ${digests.simple} (+1 signature)`);
    expect(r.stdout).toContain(`PUSHED ${a.host}/app/cosign:v1 -> docker://${b.host}/mirror/app/cosign:v1 ${digests.cosign} (+1 signature)`);
    expect(r.stdout).toContain(`PUSHED ${a.host}/app/multi:v1 -> docker://${b.host}/mirror/app/multi:v1 ${digests.multi} (+1 signature)`);
    expect(r.stdout).toContain(`PUSHED ${a.host}/app/embedded:v1 -> docker://${b.host}/mirror/app/embedded:v1 ${digests.embedded}\n`);
    const pj = await dsv(['bundle', 'push', '--json', '--registries.d', regd, join(work, 'one.tar'), `docker://${b.host}/json`]);
    expect(pj.code, pj.all).toBe(0);
    expect(expectValidReport('bundle-push', pj.stdout)).toMatchObject({ command: 'bundle push', ok: true, results: [{ ok: true, signatures: 1 }] });
    writeFileSync(join(work, 'policy-b.json'), JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          [`${b.host}/mirror/app/simple`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'keys/signer.pub', signedIdentity: { type: 'remapIdentity', prefix: `${b.host}/mirror/app`, signedPrefix: `${a.host}/app` } }],
          [`${b.host}/mirror/app/cosign`]: [{ type: 'sigstoreSigned', keyPath: 'keys/cosign.pub', signedIdentity: { type: 'remapIdentity', prefix: `${b.host}/mirror/app`, signedPrefix: `${a.host}/app` } }],
          [`${b.host}/mirror/app/embedded`]: [{ type: 'dsvSigned', keyPath: 'keys/signer.pub' }],
          [`${b.host}/mirror/app/multi`]: [{ type: 'sigstoreSigned', keyPath: 'keys/cosign.pub', signedIdentity: { type: 'exactRepository', dockerRepository: `${a.host}/app/multi` } }],
        },
      },
    }));
    const v = await dsv(['verify', '--registries.d', regd, '--policy', 'policy-b.json', `docker://${b.host}/mirror/app/simple:v1`, `docker://${b.host}/mirror/app/cosign:v1`, `docker://${b.host}/mirror/app/multi:v1`, `docker://${b.host}/mirror/app/embedded:v1`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout.match(/^Verified: /gm)).toHaveLength(4);
    const vj = await dsv(['verify', '--json', '--registries.d', regd, '--policy', 'policy-b.json', `docker://${b.host}/mirror/app/simple:v1`, `docker://${b.host}/mirror/app/multi:v1`, `docker://${b.host}/json/app/simple:v1`]);
    expect(vj.code).toBe(1);
    expect(expectValidReport('policy-verify', vj.stdout)).toMatchObject({ ok: false, exitCode: 1, results: [{ ok: true }, { ok: true }, { ok: false }] });
    // skopeo reads the restored simple signature from the destination's lookaside.
    skopeo(['inspect', '--tls-verify=false', `docker://${b.host}/mirror/app/simple:v1`]);
  });
});
