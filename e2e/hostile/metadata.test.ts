// Hostile input, round two, through the BUILT bins: OCI layouts whose index.json names one manifest while
// the blob holds another, invalid `docker save` names and config file names, a signed config shadowing a
// key with a duplicate, and `dsv sign docker-archive:FILE` without NAME:TAG. All real files, no fakes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { launcher } from '../helpers/cli.js';

const bins = {
  'dsv-copy': launcher('dsv-copy'),
  dsv: launcher('dsv'),
};
const PASS = 'hostile-e2e-pass';
let work: string;
let gpg: GpgHome;
let env: NodeJS.ProcessEnv;

function bin(name: keyof typeof bins, args: string[]) {
  const r = spawnSync(process.execPath, [bins[name], ...args], { env, encoding: 'utf8', timeout: 120_000, cwd: work });
  return { code: r.status, all: `${r.stdout}${r.stderr}` };
}
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Extracts a tar, lets `edit` change the files, writes it back (same entry names). */
function rewriteTar(file: string, edit: (dir: string) => void): void {
  const dir = tempDir('dsv-hostile-x-');
  run(requireTool('tar'), ['-xf', file, '-C', dir]);
  edit(dir);
  run(requireTool('tar'), ['-cf', file, '-C', dir, ...readdirSync(dir).sort()]);
}

beforeAll(async () => {
  work = tempDir('dsv-hostile-e2e-');
  gpg = makeGpgHome({ withKey: { name: 'Hostile Signer', email: 'hostile@dsv.invalid', passphrase: PASS } });
  env = { ...process.env, DSV_GPG_DATASTORE: gpg.home, DSV_KEYPASS: PASS };
  delete env.DSV_SIGNER_PLUGINS;
  writeOciLayout(join(work, 'a'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello A\n' }] }), tag: 'v1' });
  writeOciLayout(join(work, 'b'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello B\n' }] }), tag: 'v1' });
  const s = bin('dsv', ['sign', '--key', gpg.keyId, `oci:${join(work, 'b')}:v1`, `oci:${join(work, 'b')}:signed`]);
  expect(s.code, s.all).toBe(0);
});

afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

describe('an OCI layout whose index.json names manifest A while the blob holds signed manifest B', () => {
  function lyingLayout(): { dir: string; digestA: string } {
    const dir = tempDir('dsv-hostile-lie-');
    run('cp', ['-r', `${join(work, 'a')}/.`, dir]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const digestA: string = index.manifests[0].digest;
    // B's blobs join the layout; the file named A now holds B's (signed) manifest
    const bIndex = JSON.parse(readFileSync(join(work, 'b', 'index.json'), 'utf8'));
    const signedB = bIndex.manifests.find((d: { annotations?: Record<string, string> }) => d.annotations?.['org.opencontainers.image.ref.name'] === 'signed');
    for (const f of readdirSync(join(work, 'b', 'blobs', 'sha256'))) copyFileSync(join(work, 'b', 'blobs', 'sha256', f), join(dir, 'blobs', 'sha256', f));
    copyFileSync(join(work, 'b', 'blobs', 'sha256', signedB.digest.slice(7)), join(dir, 'blobs', 'sha256', digestA.slice(7)));
    return { dir, digestA };
  }

  it('verify (oci: and oci-archive:) fails naming the mismatch', () => {
    const { dir, digestA } = lyingLayout();
    const v = bin('dsv', ['verify', `oci:${dir}:v1`]);
    expect(v.code, v.all).not.toBe(0);
    expect(v.all).toMatch(/(?:hash to|bytes, but) .*descriptor|descriptor (?:names|says)/);
    expect(v.all).toContain(digestA.slice(7));
    const tarFile = join(tempDir('dsv-hostile-ociarch-'), 'lie.tar');
    run(requireTool('tar'), ['-cf', tarFile, '-C', dir, 'oci-layout', 'index.json', 'blobs']);
    const va = bin('dsv', ['verify', `oci-archive:${tarFile}:v1`]);
    expect(va.code, va.all).not.toBe(0);
    expect(va.all).toMatch(/descriptor/);
  });

  it('dsv-copy refuses it, and a new destination layout is not left behind', () => {
    const { dir } = lyingLayout();
    const out = join(tempDir('dsv-hostile-out-'), 'layout');
    const c = bin('dsv-copy', [`oci:${dir}:v1`, `oci:${out}:copied`]);
    expect(c.code, c.all).not.toBe(0);
    expect(existsSync(out)).toBe(false);
  });
});

describe('docker save metadata', () => {
  function archive(): string {
    const file = join(tempDir('dsv-hostile-arch-'), 'img.tar');
    const c = bin('dsv-copy', [`oci:${join(work, 'a')}:v1`, `docker-archive:${file}:app:1`]);
    expect(c.code, c.all).toBe(0);
    return file;
  }
  const editManifest = (dir: string, f: (m: Array<Record<string, unknown>>) => void) => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    f(m);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  };

  for (const bad of ['../x:y:z', 'APP:V1']) {
    it(`RepoTags ${bad}: verify and sign refuse it, the archive is not rewritten`, () => {
      const file = archive();
      rewriteTar(file, (d) => editManifest(d, (m) => (m[0]!.RepoTags = [bad])));
      const before = readFileSync(file);
      const v = bin('dsv', ['verify', `docker-archive:${file}`]);
      expect(v.code, v.all).not.toBe(0);
      expect(v.all).toContain('is not a valid image name');
      const s = bin('dsv', ['sign', '--key', gpg.keyId, `docker-archive:${file}`]);
      expect(s.code, s.all).not.toBe(0);
      expect(readFileSync(file).equals(before)).toBe(true);
    });
  }

  it('a config named notahash.json is refused', () => {
    const file = archive();
    rewriteTar(file, (d) =>
      editManifest(d, (m) => {
        renameSync(join(d, m[0]!.Config as string), join(d, 'notahash.json'));
        m[0]!.Config = 'notahash.json';
      }),
    );
    const v = bin('dsv', ['verify', `docker-archive:${file}`]);
    expect(v.code, v.all).not.toBe(0);
    expect(v.all).toContain('is not named by its digest');
  });

  it('a signed config with a shadowing duplicate "Cmd" no longer verifies', () => {
    const file = archive();
    const s = bin('dsv', ['sign', '--key', gpg.keyId, `docker-archive:${file}:app:1`]);
    expect(s.code, s.all).toBe(0);
    expect(bin('dsv', ['verify', `docker-archive:${file}:app:1`]).code).toBe(0);
    rewriteTar(file, (d) =>
      editManifest(d, (m) => {
        const entry = m.find((e) => (e.RepoTags as string[] | null)?.includes('app:1'))!;
        const text = readFileSync(join(d, entry.Config as string), 'utf8');
        expect(text).toContain('"Cmd":["/bin/sh"]');
        const evil = text.replace('"config":{', '"config":{"Cmd":["/evil"],');
        const name = `${sha(evil)}.json`;
        writeFileSync(join(d, name), evil);
        entry.Config = name;
      }),
    );
    const v = bin('dsv', ['verify', `docker-archive:${file}:app:1`]);
    expect(v.code, v.all).not.toBe(0);
    expect(v.all).toMatch(/duplicate key "Cmd"/);
  });

  it('dsv sign docker-archive:FILE (no NAME:TAG) signs the only image and keeps its tag', () => {
    const file = archive();
    const s = bin('dsv', ['sign', '--key', gpg.keyId, `docker-archive:${file}`]);
    expect(s.code, s.all).toBe(0);
    for (const ref of [`docker-archive:${file}`, `docker-archive:${file}:app:1`]) {
      const v = bin('dsv', ['verify', ref]);
      expect(v.code, v.all).toBe(0);
    }
    const dir = tempDir('dsv-hostile-x-');
    mkdirSync(dir, { recursive: true });
    run(requireTool('tar'), ['-xf', file, '-C', dir, 'manifest.json']);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(m).toHaveLength(1);
    expect(m[0].RepoTags).toEqual(['app:1']);
  });
});
