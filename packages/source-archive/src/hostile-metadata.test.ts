// Hostile metadata, round two: layouts whose index.json lies about a manifest, invalid names and config
// file names in `docker save` archives, duplicate JSON keys, and signing an archive's only image in place.
import { describe, expect, test } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerSaveArchive, dockerArchiveTransport, ociArchiveTransport, ociTransport, scanDockerArchiveStream } from './index.js';
import { buildTar, configFor, fakeSign, hex, layerTar, legacyArchive, ociSaveArchive, sha, simpleCopy, tempDir, writeTemp } from './__tests__/support.js';
import { Readable } from 'node:stream';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A layout with manifests A and B stored; index.json names A (digest and size) — or whatever `lie` says. */
async function lyingLayout(dir: string) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer, as?: string) => { writeFileSync(join(dir, 'blobs', 'sha256', (as ?? sha(b)).slice(7)), b); return { digest: sha(b), size: b.length }; };
  const mk = async (text: string) => {
    const l = await layerTar({ 'f.txt': text });
    const c = configFor([l]);
    return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(c) }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(l) }] }));
  };
  const a = await mk('A');
  const b = await mk('B, a little longer');
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const index = (d: { digest: string; size: number }) => writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, ...d, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
  return { a, b, put, index };
}

describe('OCI layouts are not believed', () => {
  test('the blob file named A holds manifest B: DigestMismatch (oci: and oci-archive:)', async () => {
    const dir = tempDir();
    const { a, b, put, index } = await lyingLayout(dir);
    expect(b.length).toBe(a.length); // only the digest tells them apart
    index({ digest: sha(a), size: a.length });
    put(b, sha(a)); // file blobs/sha256/<A> holds B
    const src = await ociTransport.parseReference(`${dir}:v1`).newSource();
    await expect(src.getManifest()).rejects.toMatchObject({ code: 'DigestMismatch', message: expect.stringContaining(`not the ${sha(a)} its descriptor names`) });
    // a longer B: the size tells first
    const longer = Buffer.concat([b, Buffer.from('  ')]);
    put(longer, sha(a));
    await expect((await ociTransport.parseReference(`${dir}:v1`).newSource()).getManifest()).rejects.toMatchObject({ code: 'SizeMismatch' });
    // oci-archive: the same lie in a tar
    const items = [{ name: 'oci-layout', data: readFileSync(join(dir, 'oci-layout')) }, { name: 'index.json', data: readFileSync(join(dir, 'index.json')) }, { name: `blobs/sha256/${hex(a)}`, data: b }];
    const tar = writeTemp(await buildTar(items), 'x.tar');
    await expect((await ociArchiveTransport.parseReference(`${tar}:v1`).newSource()).getManifest()).rejects.toMatchObject({ code: 'DigestMismatch' });
  });

  test('index.json states the wrong size for the right digest: SizeMismatch; blobs too', async () => {
    const dir = tempDir();
    const { a, put, index } = await lyingLayout(dir);
    put(a);
    index({ digest: sha(a), size: a.length + 1 });
    const src = await ociTransport.parseReference(`${dir}:v1`).newSource();
    await expect(src.getManifest()).rejects.toMatchObject({ code: 'SizeMismatch' });
    index({ digest: sha(a), size: a.length });
    const ok = await ociTransport.parseReference(`${dir}:v1`).newSource();
    const m = JSON.parse(Buffer.from((await ok.getManifest()).bytes).toString());
    await expect(ok.getBlob({ ...m.layers[0], size: m.layers[0].size + 5 })).rejects.toMatchObject({ code: 'SizeMismatch' });
  });

  test('an index.json with a duplicate key is refused', async () => {
    const dir = tempDir();
    const { a } = await lyingLayout(dir);
    writeFileSync(join(dir, 'index.json'), `{"schemaVersion":2,"manifests":[],"manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${sha(a)}","size":${a.length}}]}`);
    await expect(ociTransport.parseReference(dir).newSource()).rejects.toMatchObject({ code: 'ArchiveInvalid', message: expect.stringMatching(/duplicate key "manifests"/) });
  });
});

describe('docker save metadata is validated', () => {
  async function archiveWith(patch: (m: Array<Record<string, unknown>>) => void, extra: Array<{ name: string; data: Buffer | string }> = []) {
    const l = await layerTar({ 'a.txt': 'a\n' });
    const c = configFor([l]);
    const good = await legacyArchive([{ config: c, layers: [l], tags: ['app:1'] }]);
    const { TarIndex } = await import('./index.js');
    const t = await TarIndex.open(writeTemp(good));
    const items: Array<{ name: string; data: Buffer | string }> = [];
    let manifest: Array<Record<string, unknown>> = [];
    for (const e of t.entries) {
      if (e.type !== 'file') continue;
      const data = await t.readEntry(e.name, 1 << 24);
      if (e.name === 'manifest.json') manifest = JSON.parse(data.toString());
      else if (e.name !== 'repositories') items.push({ name: e.name, data });
    }
    patch(manifest);
    for (const x of extra) {
      const i = items.findIndex((y) => y.name === x.name);
      if (i >= 0) items.splice(i, 1);
      items.push(x);
    }
    items.push({ name: 'manifest.json', data: JSON.stringify(manifest) });
    return { data: await buildTar(items), c };
  }

  async function refused(data: Buffer, pattern: RegExp) {
    const path = writeTemp(data);
    const e1 = await dockerArchiveTransport.parseReference(path).newSource().catch((e) => e);
    expect(e1.code, String(e1)).toBe('ArchiveInvalid');
    expect(e1.message).toMatch(pattern);
    const e2 = await dockerArchiveTransport.parseReference(`${path}:x:1`).newDestination().catch((e) => e);
    expect(e2.code).toBe('ArchiveInvalid');
    const e3 = await scanDockerArchiveStream(Readable.from([data])).catch((e) => e);
    expect(e3.code).toBe('ArchiveInvalid');
  }

  test('RepoTags that are not NAME:TAG references', async () => {
    for (const bad of ['../x:y:z', 'APP:V1', 'app:', 'a b:1', 'app:1@sha256:' + 'a'.repeat(64)]) {
      await refused((await archiveWith((m) => { m[0]!.RepoTags = [bad]; })).data, /RepoTags: ".*" is not a valid image name/);
    }
  });

  test('a config not named by its digest', async () => {
    const { data } = await archiveWith((m) => { m[0]!.Config = 'notahash.json'; }, [{ name: 'notahash.json', data: configFor([]) }]);
    await refused(data, /config "notahash\.json" is not named by its digest/);
  });

  test('repositories naming an invalid repo:tag', async () => {
    const { data } = await archiveWith(() => undefined, [{ name: 'repositories', data: JSON.stringify({ '../x': { 'y:z': 'a'.repeat(64) } }) }]);
    await refused(data, /repositories: "\.\.\/x:y:z" is not a valid image name/);
  });

  test('a manifest.json with a duplicate key', async () => {
    const l = await layerTar({ 'a.txt': 'a\n' });
    const c = configFor([l]);
    const good = await legacyArchive([{ config: c, layers: [l], tags: ['app:1'] }]);
    const path = writeTemp(good);
    const a = await DockerSaveArchive.open(path);
    const text = JSON.stringify(a.manifest).replace('"RepoTags"', '"RepoTags":["evil:1"],"RepoTags"');
    const items = [{ name: 'manifest.json', data: text }, { name: a.images[0]!.configPath, data: c }, ...a.images[0]!.layers.map((x) => ({ name: x.path, data: l }))];
    await refused(await buildTar(items), /duplicate key "RepoTags"/);
  });
});

describe('signing an archive\'s only image without NAME:TAG', () => {
  for (const kind of ['legacy', 'oci'] as const) {
    test(`${kind} layout: the signed image replaces it and takes its tags`, async () => {
      const l = await layerTar({ 'a.txt': 'a\n' });
      const c = configFor([l]);
      const build = kind === 'legacy' ? legacyArchive : ociSaveArchive;
      const path = writeTemp(await build([{ config: c, layers: [l], tags: ['app:1', 'app:latest'] }]));
      const src = await dockerArchiveTransport.parseReference(path).newSource();
      const dest = await dockerArchiveTransport.parseReference(path).newDestination();
      const { config, manifest } = await simpleCopy(src, dest, fakeSign);
      await dest.close();
      const after = await DockerSaveArchive.open(path);
      expect(after.images).toHaveLength(1);
      expect(after.images[0]!.configDigest).toBe(config.digest);
      expect(after.images[0]!.repoTags).toEqual(['app:1', 'app:latest']);
      // verify without a name finds the signed image; so does the tag
      for (const ref of [path, `${path}:app:1`]) {
        const s = await dockerArchiveTransport.parseReference(ref).newSource();
        const m = JSON.parse(Buffer.from((await s.getManifest()).bytes).toString());
        expect(m.config.digest).toBe(config.digest);
      }
      if (kind === 'oci') {
        const index = JSON.parse((await after.tar.readEntry('index.json', 1 << 20)).toString());
        expect(index.manifests.length).toBeGreaterThan(0);
        for (const d of index.manifests) expect(d.digest).toBe(sha(manifest));
      }
    });
  }

  test('ambiguous (two images with the same layers): refused, archive untouched', async () => {
    const l = await layerTar({ 'a.txt': 'a\n' });
    const c1 = configFor([l]);
    const c2 = configFor([l], { created: '2021-01-01T00:00:00Z' });
    const path = writeTemp(await legacyArchive([{ config: c1, layers: [l], tags: ['a:1'] }, { config: c2, layers: [l], tags: ['b:1'] }]));
    const original = readFileSync(path);
    const src = await dockerArchiveTransport.parseReference(`${path}:a:1`).newSource();
    const dest = await dockerArchiveTransport.parseReference(path).newDestination();
    await expect(simpleCopy(src, dest, fakeSign)).rejects.toMatchObject({ code: 'Usage' });
    await dest.close();
    expect(readFileSync(path).equals(original)).toBe(true);
  });
});
