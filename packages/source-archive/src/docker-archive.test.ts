import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDsvError, type Descriptor } from '@dsv/core/formats';
import { DockerSaveArchive, TarIndex, dockerArchiveTransport } from './index.js';
import { configFor, fakeSign, layerTar, legacyArchive, ociSaveArchive, readAll, sha, simpleCopy, tempDir, writeTemp } from './__tests__/support.js';

async function twoImages() {
  const l1 = await layerTar({ 'a.txt': 'one\n' });
  const l2 = await layerTar({ 'b.txt': 'two\n' });
  const l3 = await layerTar({ 'c.txt': 'three\n' });
  const c1 = configFor([l1, l2]);
  const c2 = configFor([l1, l3], { created: '2020-01-01T00:00:00Z' });
  return { l1, l2, l3, c1, c2 };
}

describe('docker-archive source', () => {
  test('reads a legacy archive: several images, selection by NAME:TAG, @N and normalised names', async () => {
    const { l1, l2, l3, c1, c2 } = await twoImages();
    const path = writeTemp(await legacyArchive([{ config: c1, layers: [l1, l2], tags: ['app:1', 'app:latest'] }, { config: c2, layers: [l1, l3], tags: ['localhost:5000/team/x:y'] }]));
    const src = await dockerArchiveTransport.parseReference(`${path}:docker.io/library/app`).newSource();
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(m.config).toEqual({ mediaType: 'application/vnd.docker.container.image.v1+json', size: c1.length, digest: sha(c1) });
    expect(m.layers).toEqual([l1, l2].map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: l.length, digest: sha(l) })));
    expect(await readAll(await src.getBlob(m.config))).toEqual(c1);
    expect(await readAll(await src.getBlob(m.layers[1]))).toEqual(l2);
    expect((await src.listTags!()).sort()).toEqual(['app:1', 'app:latest', 'localhost:5000/team/x:y']);
    const byIndex = await dockerArchiveTransport.parseReference(`${path}:@1`).newSource();
    const m2 = JSON.parse(Buffer.from((await byIndex.getManifest()).bytes).toString());
    expect(m2.config.digest).toBe(sha(c2));
    const byName = await dockerArchiveTransport.parseReference(`${path}:localhost:5000/team/x:y`).newSource();
    expect(JSON.parse(Buffer.from((await byName.getManifest()).bytes).toString()).config.digest).toBe(sha(c2));
    // deterministic synthesised manifest
    const again = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    expect(Buffer.from((await again.getManifest()).bytes)).toEqual(Buffer.from((await src.getManifest()).bytes));
    await expect(dockerArchiveTransport.parseReference(path).newSource()).rejects.toMatchObject({ code: 'Usage' });
    await expect(dockerArchiveTransport.parseReference(`${path}:app:2`).newSource()).rejects.toMatchObject({ code: 'NotFound' });
    await expect(dockerArchiveTransport.parseReference(`${path}:@2`).newSource()).rejects.toMatchObject({ code: 'NotFound' });
    await expect(src.getBlob({ mediaType: 'x', digest: sha('nope'), size: 4 } as Descriptor)).rejects.toMatchObject({ code: 'NotFound' });
  });

  test('gzip layer files: descriptor = the file\'s exact bytes, gzip media type', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const c = configFor([l1]);
    const path = writeTemp(await legacyArchive([{ config: c, layers: [l1], tags: ['z:1'], gzip: true }]));
    const src = await dockerArchiveTransport.parseReference(path).newSource();
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    const blob = await readAll(await src.getBlob(m.layers[0]));
    expect(m.layers[0]).toEqual({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: blob.length, digest: sha(blob) });
    expect(blob.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  test('Docker 25+ OCI layout: the real manifest blob is used', async () => {
    const { l1, l2, c1 } = await twoImages();
    const path = writeTemp(await ociSaveArchive([{ config: c1, layers: [l1, l2], tags: ['app:1'] }]));
    const src = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    const got = await src.getManifest();
    expect(got.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const m = JSON.parse(Buffer.from(got.bytes).toString());
    expect(m.config.digest).toBe(sha(c1));
    expect(await readAll(await src.getBlob(m.layers[0]))).toEqual(l1);
  });

  test('a config whose file name is not its digest is refused', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const c = configFor([l1]);
    const good = await legacyArchive([{ config: c, layers: [l1], tags: ['z:1'] }]);
    const idx = good.indexOf(Buffer.from('"architecture":"amd64"'));
    const bad = Buffer.from(good);
    bad.write('"architecture":"arm64"', idx);
    // fix the tar checksum is unnecessary: only data changed
    const path = writeTemp(bad);
    const e = await dockerArchiveTransport.parseReference(path).newSource().catch((x) => x);
    expect(isDsvError(e, 'DigestMismatch')).toBe(true);
    expect(e.message).toContain(`${sha(c).slice(7)}.json`);
  });
});

function temps(path: string): string[] {
  return readdirSync(dirname(path)).filter((f) => f.includes('.dsv-'));
}

describe('docker-archive destination', () => {
  test('signs in place (legacy): new config entry, tag moved, other entries copied verbatim', async () => {
    const { l1, l2, l3, c1, c2 } = await twoImages();
    const path = writeTemp(await legacyArchive([{ config: c1, layers: [l1, l2], tags: ['app:1', 'app:latest'] }, { config: c2, layers: [l1, l3], tags: ['other:1'] }]));
    const before = await TarIndex.open(path);
    const original = readFileSync(path);
    const src = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    const dest = await dockerArchiveTransport.parseReference(`${path}:app:signed`).newDestination();
    // layers are already there
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    for (const l of m.layers) expect(await dest.hasBlob(l)).toBe(true);
    const { config } = await simpleCopy(src, dest, fakeSign);
    expect(temps(path)).toEqual([]);
    const after = await DockerSaveArchive.open(path);
    expect(after.images).toHaveLength(3);
    const signed = after.select({ name: (await import('./index.js')).parseTaggedName('app:signed') });
    expect(signed.configDigest).toBe(config.digest);
    expect(signed.configPath).toBe(`${config.digest.slice(7)}.json`);
    expect(signed.layers.map((l) => l.path)).toEqual(after.images[0]!.layers.map((l) => l.path));
    expect(after.images[0]!.repoTags).toEqual(['app:1', 'app:latest']);
    // every original entry except manifest.json/repositories is byte-identical
    for (const e of before.entries) {
      if (e.name === 'manifest.json' || e.name === 'repositories') continue;
      const ne = after.tar.get(e.name)!;
      expect(ne.size).toBe(e.size);
      expect(await readAll(after.tar.openEntry(ne))).toEqual(original.subarray(e.dataOffset, e.dataOffset + e.size));
    }
    const repos = JSON.parse((await after.tar.readEntry('repositories', 1 << 20)).toString());
    expect(Object.keys(repos.app).sort()).toEqual(['1', 'latest', 'signed']);

    // moving an existing tag: re-sign app:1 in place with the tag itself
    const src2 = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    const dest2 = await dockerArchiveTransport.parseReference(`${path}:app:1`).newDestination();
    const r2 = await simpleCopy(src2, dest2, (c) => fakeSign(Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(c).toString()), x: 1 }))));
    const after2 = await DockerSaveArchive.open(path);
    expect(after2.images[0]!.repoTags).toEqual(['app:latest']);
    const moved = after2.images.find((i) => i.configDigest === r2.config.digest)!;
    expect(moved.repoTags).toEqual(['app:1']);
  });

  test('signs in place (Docker 25+ layout): blobs/sha256 entries and index.json updated', async () => {
    const { l1, l2, c1 } = await twoImages();
    const path = writeTemp(await ociSaveArchive([{ config: c1, layers: [l1, l2], tags: ['app:1'] }]));
    const src = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    const dest = await dockerArchiveTransport.parseReference(`${path}:app:1`).newDestination();
    const { config, manifest } = await simpleCopy(src, dest, fakeSign);
    const after = await DockerSaveArchive.open(path);
    expect(after.layout).toBe('oci');
    const img = after.images.find((i) => i.configDigest === config.digest)!;
    expect(img.configPath).toBe(`blobs/sha256/${config.digest.slice(7)}`);
    expect(img.repoTags).toEqual(['app:1']);
    expect(after.images.find((i) => i.configDigest === sha(c1))!.repoTags).toEqual([]);
    const index = JSON.parse((await after.tar.readEntry('index.json', 1 << 20)).toString());
    const named = index.manifests.filter((d: { annotations?: Record<string, string> }) => d.annotations?.['io.containerd.image.name'] === 'docker.io/library/app:1');
    expect(named).toHaveLength(1);
    expect(named[0].digest).toBe(sha(manifest));
    expect(after.tar.has(`blobs/sha256/${sha(manifest).slice(7)}`)).toBe(true);
    const src2 = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    expect(Buffer.from((await src2.getManifest()).bytes)).toEqual(manifest);
  });

  test('close() without commit leaves the archive untouched and removes temp files', async () => {
    const { l1, l2, c1 } = await twoImages();
    const path = writeTemp(await legacyArchive([{ config: c1, layers: [l1, l2], tags: ['app:1'] }]));
    const original = readFileSync(path);
    const dest = await dockerArchiveTransport.parseReference(`${path}:app:2`).newDestination();
    const c = fakeSign(c1);
    const { Readable } = await import('node:stream');
    await dest.putBlob({ mediaType: 'x', digest: sha(c), size: c.length }, Readable.from([c]));
    expect(temps(path).length).toBe(1);
    await dest.close();
    expect(readFileSync(path).equals(original)).toBe(true);
    expect(temps(path)).toEqual([]);
  });

  test('putBlob refuses bytes that do not match the descriptor', async () => {
    const dir = tempDir();
    const dest = await dockerArchiveTransport.parseReference(`${join(dir, 'n.tar')}:x:1`).newDestination();
    const { Readable } = await import('node:stream');
    await expect(dest.putBlob({ mediaType: 'x', digest: sha('abc'), size: 3 }, Readable.from([Buffer.from('abd')]))).rejects.toMatchObject({ code: 'DigestMismatch' });
    expect(await dest.hasBlob({ mediaType: 'x', digest: sha('abc'), size: 3 })).toBe(false);
    await dest.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  test('creates a new archive that reads back (from a gzip-layer source)', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const c = configFor([l1]);
    const srcPath = writeTemp(await legacyArchive([{ config: c, layers: [l1], tags: ['z:1'], gzip: true }]));
    const out = join(tempDir(), 'new.tar');
    await simpleCopy(await dockerArchiveTransport.parseReference(srcPath).newSource(), await dockerArchiveTransport.parseReference(`${out}:localhost:5000/n/m:2`).newDestination());
    const a = await DockerSaveArchive.open(out);
    expect(a.images).toHaveLength(1);
    expect(a.images[0]!.repoTags).toEqual(['localhost:5000/n/m:2']);
    expect(a.images[0]!.layers[0]!.compression).toBe('gzip');
    expect(a.images[0]!.layers[0]!.diffId).toBe(sha(l1));
    expect(JSON.parse((await a.tar.readEntry('repositories', 1000)).toString())).toHaveProperty(['localhost:5000/n/m', '2']);
    expect(existsSync(out)).toBe(true);
    expect(temps(out)).toEqual([]);
  });

  test('copies another archive\'s image into an existing archive (new layer entries), and a failed commit leaves it untouched', async () => {
    const { l1, l2, l3, c1, c2 } = await twoImages();
    const a = writeTemp(await legacyArchive([{ config: c1, layers: [l1, l2], tags: ['a:1'] }]));
    const b = writeTemp(await legacyArchive([{ config: c2, layers: [l1, l3], tags: ['b:1'] }]));
    const original = readFileSync(a);
    // first a commit that fails: a spooled blob vanishes before commit()
    const dest = await dockerArchiveTransport.parseReference(`${a}:b:1`).newDestination();
    const { Readable } = await import('node:stream');
    const d3 = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: sha(l3), size: l3.length };
    expect(await dest.hasBlob({ ...d3, digest: sha(l1), size: l1.length })).toBe(true);
    expect(await dest.hasBlob(d3)).toBe(false);
    await dest.putBlob(d3, Readable.from([l3]));
    await dest.putBlob({ mediaType: 'x', digest: sha(c2), size: c2.length }, Readable.from([c2]));
    const spool = temps(a).find((f) => f.endsWith('.d'))!;
    (await import('node:fs')).rmSync(join(dirname(a), spool, sha(l3).slice(7)));
    const m = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'x', digest: sha(c2), size: c2.length }, layers: [{ mediaType: 'x', digest: sha(l1), size: l1.length }, d3] };
    await dest.putManifest(Buffer.from(JSON.stringify(m)), m.mediaType);
    await expect(dest.commit()).rejects.toBeTruthy();
    await dest.close();
    expect(readFileSync(a).equals(original)).toBe(true);
    expect(temps(a)).toEqual([]);
    // then the real copy
    await simpleCopy(await dockerArchiveTransport.parseReference(`${b}:b:1`).newSource(), await dockerArchiveTransport.parseReference(`${a}:b:1`).newDestination());
    const after = await DockerSaveArchive.open(a);
    expect(after.images.map((i) => i.repoTags)).toEqual([['a:1'], ['b:1']]);
    const img = after.images[1]!;
    expect(img.layers[0]!.path).toBe(after.images[0]!.layers[0]!.path);
    expect(img.layers[1]!.path).toBe(`${sha(l3).slice(7)}.tar`);
    expect(await readAll(after.tar.openEntry(img.layers[1]!.entry))).toEqual(l3);
  });

  test('commit reports write progress; an aborted commit leaves the archive untouched', async () => {
    const { l1, l2, c1 } = await twoImages();
    const path = writeTemp(await legacyArchive([{ config: c1, layers: [l1, l2], tags: ['app:1'] }]));
    const original = readFileSync(path);
    const events: number[] = [];
    const src = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    await simpleCopy(src, await dockerArchiveTransport.parseReference(`${path}:app:2`).newDestination({ onProgress: (e) => events.push(e.done) }), fakeSign);
    expect(events.at(-1)).toBe(readFileSync(path).length);
    const signed = readFileSync(path);
    const ac = new AbortController();
    ac.abort();
    const src2 = await dockerArchiveTransport.parseReference(`${path}:app:1`).newSource();
    await expect(simpleCopy(src2, await dockerArchiveTransport.parseReference(`${path}:app:3`).newDestination({ signal: ac.signal }), fakeSign)).rejects.toBeTruthy();
    expect(readFileSync(path).equals(signed)).toBe(true);
    expect(temps(path)).toEqual([]);
    void original;
  });

  test('reference syntax', () => {
    expect(() => dockerArchiveTransport.parseReference('')).toThrow(/missing archive path/);
    expect(() => dockerArchiveTransport.parseReference('/a.tar:@x')).toThrow(/invalid image index/);
    expect(() => dockerArchiveTransport.parseReference('/a.tar:Bad Name')).toThrow(/invalid/);
    expect(() => dockerArchiveTransport.parseReference('/a.tar:x@sha256:00')).toThrow(/not by digest/);
    const r = dockerArchiveTransport.parseReference('/a.tar:x:1');
    expect(r.toString()).toBe('docker-archive:/a.tar:x:1');
    expect(dockerArchiveTransport.parseReference(r.within).within).toBe(r.within);
    writeFileSync(join(tempDir(), 'x'), '');
  });
});
