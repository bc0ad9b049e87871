// dsv-copy (the BUILT bin) between two real docker-registry instances, OCI layouts and docker load.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { blobDataPath, startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { launcher } from '../helpers/cli.js';

const bins = {
  'dsv-copy': launcher('dsv-copy'),
  'docker-verify': launcher('docker-verify'),
  dsv: launcher('dsv'),
};

let a: StartedRegistry;
let b: StartedRegistry;
let work: string;
let gpg: GpgHome;
let env: NodeJS.ProcessEnv;
const PASS = 'copy-e2e-pass';

function bin(name: keyof typeof bins, args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bins[name], ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000, cwd: work });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}
const skopeo = (args: string[]) => run(requireTool('skopeo'), args);
const inspectDigest = (ref: string) => JSON.parse(skopeo(['inspect', '--tls-verify=false', ref])).Digest as string;

async function pushLayout(layoutDir: string, tag: string, dest: string, all = false) {
  skopeo(['copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${layoutDir}:${tag}`, dest]);
}

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-copy-e2e-');
  gpg = makeGpgHome({ withKey: { name: 'Copy Signer', email: 'copy@dsv.invalid', passphrase: PASS } });
  writeFileSync(join(work, 'signer.asc'), gpg.exportPublic());
  env = { ...process.env, DSV_GPG_DATASTORE: gpg.home, DSV_KEYPASS: PASS, DOCKER_CONFIG: join(work, 'docker') };
  delete env.DSV_SIGNER_PLUGINS;
  writeOciLayout(join(work, 'one'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello\n' }, { 'app/data.bin': Buffer.alloc(300_000, 7) }] }), tag: 'v1' });
  await pushLayout(join(work, 'one'), 'v1', `docker://${a.host}/app/one:v1`);
  const platforms = [
    await buildSampleImage({ format: 'oci', layers: [{ 'p/amd64': 'amd64\n' }], platform: 'linux/amd64' }),
    await buildSampleImage({ format: 'oci', layers: [{ 'p/arm64': 'arm64\n' }], platform: 'linux/arm64/v8' }),
  ];
  writeOciLayout(join(work, 'multi'), { image: buildSampleIndex(platforms), tag: 'v1' });
  await pushLayout(join(work, 'multi'), 'v1', `docker://${a.host}/app/multi:v1`, true);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv-copy between real registries', () => {
  it('copies an unsigned image byte for byte: the same manifest digest at DEST (checked with skopeo)', () => {
    const r = bin('dsv-copy', ['--json', `docker://${a.host}/app/one:v1`, `docker://${b.host}/mirror/one:v1`]);
    expect(r.code, r.all).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.sameDigest).toBe(true);
    expect(inspectDigest(`docker://${b.host}/mirror/one:v1`)).toBe(inspectDigest(`docker://${a.host}/app/one:v1`));
    expect(summary.destinationDigest).toBe(inspectDigest(`docker://${b.host}/mirror/one:v1`));
  });

  it('meets each registry once: the signature lookups and the copy share one client per registry', () => {
    const r = bin('dsv-copy', ['--debug', `docker://${a.host}/app/one:v1`, `docker://${b.host}/pinged/one:v1`]);
    expect(r.code, r.all).toBe(0);
    const pings = (host: string) => r.stderr.split('\n').filter((l) => l.includes(`GET http://${host}/v2/ → 200`)).length;
    // The source is asked for the manifest, the .sig tag, the simple-signature tag and the referrers, then copied.
    expect(pings(a.host)).toBe(1);
    expect(pings(b.host)).toBe(1);
  });

  it('signs on the way; the signed copy verifies at DEST with docker-verify and the source is untouched', () => {
    const before = inspectDigest(`docker://${a.host}/app/one:v1`);
    const r = bin('dsv-copy', ['--sign-by', gpg.fingerprint, `docker://${a.host}/app/one:v1`, `docker://${b.host}/prod/one:signed`]);
    expect(r.code, r.all).toBe(0);
    const v = bin('docker-verify', ['registry', `${b.host}/prod/one:signed`]);
    expect(v.code, v.all).toBe(0);
    const config = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--config', `docker://${b.host}/prod/one:signed`]));
    expect(config.config.Labels.signatures).toMatch(/BEGIN PGP SIGNATURE/);
    expect(inspectDigest(`docker://${a.host}/app/one:v1`)).toBe(before);
    // The signature travels with the config on a further unsigned copy.
    const again = bin('dsv-copy', [`docker://${b.host}/prod/one:signed`, `docker://${a.host}/back/one:signed`]);
    expect(again.code, again.all).toBe(0);
    expect(bin('docker-verify', ['registry', `${a.host}/back/one:signed`]).code).toBe(0);
  });

  it('--remove-signatures strips them and says the image changed', () => {
    const r = bin('dsv-copy', ['--remove-signatures', `docker://${b.host}/prod/one:signed`, `docker://${b.host}/prod/one:stripped`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/signatures removed/);
    const v = bin('docker-verify', ['registry', `${b.host}/prod/one:stripped`]);
    expect(v.code).toBe(1);
  });

  it('copies every platform of an index by default, keeping the index digest when unsigned', () => {
    const r = bin('dsv-copy', ['--json', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/mirror/multi:v1`]);
    expect(r.code, r.all).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.kind).toBe('index');
    expect(s.images).toHaveLength(2);
    expect(inspectDigest(`docker://${b.host}/mirror/multi:v1`)).toBe(inspectDigest(`docker://${a.host}/app/multi:v1`));
    const raw = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${b.host}/mirror/multi:v1`]));
    expect(raw.manifests).toHaveLength(2);
  });

  it('--platform copies one image of an index', () => {
    const r = bin('dsv-copy', ['--json', '--platform', 'linux/arm64/v8', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/mirror/arm64:v1`]);
    expect(r.code, r.all).toBe(0);
    const raw = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${b.host}/mirror/arm64:v1`]));
    expect(raw.layers).toBeDefined();
    const cfg = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--config', `docker://${b.host}/mirror/arm64:v1`]));
    expect(cfg.architecture).toBe('arm64');
  });

  it('signs a multi-platform index per platform and verify-same tells signed from unsigned', () => {
    const r = bin('dsv-copy', ['--sign-by', gpg.fingerprint, `docker://${a.host}/app/multi:v1`, `docker://${b.host}/prod/multi:signed`]);
    expect(r.code, r.all).toBe(0);
    const v = bin('dsv', ['verify', '--trust', join(work, 'signer.asc'), `docker://${b.host}/prod/multi:signed`]);
    expect(v.code, v.all).toBe(0);
    const diff = bin('dsv-copy', ['verify-same', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/prod/multi:signed`]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/DIFFERENT/);
  });

  it('verify-same: two lists with different manifests but the same images are the same', async () => {
    // The same two images listed as a Docker manifest list in B (different bytes, different digest) vs the OCI index in A.
    const raw = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/multi:v1`]));
    const dockerList = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [...raw.manifests].reverse(),
    };
    // Children first (by digest), then the list, with plain HTTP PUTs to the real registry.
    bin('dsv-copy', [`docker://${a.host}/app/multi:v1`, `docker://${b.host}/other/multi:v1`]);
    const put = await fetch(`http://${b.host}/v2/other/multi/manifests/v2`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.list.v2+json' },
      body: JSON.stringify(dockerList, null, 3),
    });
    expect(put.status).toBe(201);
    expect(inspectDigest(`docker://${b.host}/other/multi:v2`)).not.toBe(inspectDigest(`docker://${a.host}/app/multi:v1`));
    const same = bin('dsv-copy', ['verify-same', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/other/multi:v2`]);
    expect(same.code, same.all).toBe(0);
    expect(same.stdout).toMatch(/SAME/);
  });

  it('same-registry copies mount blobs instead of uploading them', () => {
    // The repository is new, so every line of the registry's access log that names it belongs to this copy.
    const r = bin('dsv-copy', ['--debug', `docker://${b.host}/mirror/one:v1`, `docker://${b.host}/team/one:v1`]);
    expect(r.code, r.all).toBe(0);
    const log = b.log();
    const mounts = (log.match(/mount=sha256(%3A|:)/g) ?? []).length;
    const uploads = (log.match(/"PATCH \/v2\/team\/one\/blobs\/uploads/g) ?? []).length;
    expect(mounts).toBeGreaterThanOrEqual(3);
    expect(uploads).toBe(0);
    expect(inspectDigest(`docker://${b.host}/team/one:v1`)).toBe(inspectDigest(`docker://${b.host}/mirror/one:v1`));
  });

  it('a corrupted source blob aborts the copy and the DEST tag does not move', () => {
    const ok = bin('dsv-copy', [`docker://${a.host}/app/one:v1`, `docker://${b.host}/guarded/one:v1`]);
    expect(ok.code, ok.all).toBe(0);
    const tagBefore = inspectDigest(`docker://${b.host}/guarded/one:v1`);
    // A different image in A whose layer we corrupt in A's storage.
    const layout = join(work, 'corrupt');
    return buildSampleImage({ format: 'oci', layers: [{ 'x/data': Buffer.alloc(50_000, 3) }] }).then(async (img) => {
      writeOciLayout(layout, { image: img, tag: 'v1' });
      await pushLayout(layout, 'v1', `docker://${a.host}/app/corrupt:v1`);
      const data = blobDataPath(a, img.layers[0]!.descriptor.digest);
      const bytes = readFileSync(data);
      bytes[100] = bytes[100]! ^ 0xff;
      writeFileSync(data, bytes);
      const r = bin('dsv-copy', [`docker://${a.host}/app/corrupt:v1`, `docker://${b.host}/guarded/one:v1`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(img.layers[0]!.descriptor.digest);
      expect(inspectDigest(`docker://${b.host}/guarded/one:v1`)).toBe(tagBefore);
    });
  });

  it('oci -> registry, and a dry run writes nothing', () => {
    const dry = bin('dsv-copy', ['--dry-run', `oci:${join(work, 'one')}:v1`, `docker://${b.host}/fromoci/one:v1`]);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toMatch(/Would copy/);
    expect(() => skopeo(['inspect', '--tls-verify=false', `docker://${b.host}/fromoci/one:v1`])).toThrow();
    const r = bin('dsv-copy', [`oci:${join(work, 'one')}:v1`, `docker://${b.host}/fromoci/one:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(inspectDigest(`docker://${b.host}/fromoci/one:v1`)).toBe(inspectDigest(`docker://${a.host}/app/one:v1`));
  });

  it('bad input: one clear line and exit 2', () => {
    const r = bin('dsv-copy', ['docker://UPPER/Case:1', `docker://${b.host}/x:1`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('dsv-copy to a docker-save archive', () => {
  let d: Dockerd;
  beforeAll(async () => { d = await startDockerd(); });
  afterAll(async () => { await d?.stop(); });

  it('registry -> docker-archive that the real docker load accepts', () => {
    const archive = join(work, 'one.tar');
    const r = bin('dsv-copy', ['--sign-by', gpg.fingerprint, `docker://${a.host}/app/one:v1`, `docker-archive:${archive}:app/one:signed`]);
    expect(r.code, r.all).toBe(0);
    const out = d.docker(['load', '-i', archive]);
    expect(out).toMatch(/app\/one:signed/);
    const id = d.docker(['inspect', '--format', '{{.Id}}', 'app/one:signed']).trim();
    const cfg = JSON.parse(skopeo(['inspect', '--config', `docker-archive:${archive}:app/one:signed`]));
    expect(cfg.config.Labels.signatures).toMatch(/PGP/);
    expect(id).toMatch(/^sha256:/);
    expect(bin('docker-verify', ['archive', '--archive', archive, 'app/one:signed']).code).toBe(0);
  });
});
