import { describe, expect, test } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerSaveArchive, scanDockerArchiveStream, writeDockerArchive } from './index.js';
import { configFor, hex, layerTar, legacyArchive, readAll, sha, tempDir } from './__tests__/support.js';

describe('scanDockerArchiveStream', () => {
  test('one pass: digests, sizes, inflated digests of gzip entries, metadata kept', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const l2 = await layerTar({ 'b.txt': 'two\n' });
    const c1 = configFor([l1]);
    const c2 = configFor([l2]);
    const tar = await legacyArchive([{ config: c1, layers: [l1], tags: ['a:1'] }]);
    const gz = await legacyArchive([{ config: c2, layers: [l2], tags: ['b:1'], gzip: true }]);
    // stream in small chunks to exercise chunk boundaries
    const chunks = (b: Buffer) => Readable.from((function* () { for (let i = 0; i < b.length; i += 777) yield b.subarray(i, i + 777); })());
    const s1 = await scanDockerArchiveStream(chunks(tar));
    expect(s1.manifests[0]!.RepoTags).toEqual(['a:1']);
    expect(s1.configs.get(`${hex(c1)}.json`)).toEqual(c1);
    const le = s1.entries.get(s1.manifests[0]!.Layers[0]!)!;
    expect(le).toMatchObject({ type: 'file', size: l1.length, digest: sha(l1), diffId: sha(l1), compression: 'none' });
    expect(s1.repositories).toHaveProperty(['a', '1']);
    const s2 = await scanDockerArchiveStream(chunks(gz));
    const ge = s2.entries.get(s2.manifests[0]!.Layers[0]!)!;
    expect(ge.compression).toBe('gzip');
    expect(ge.diffId).toBe(sha(l2));
    expect(ge.digest).toBe(sha(gzipSync(l2)));
    expect(s2.entries.get(`${s2.manifests[0]!.Layers[0]!.slice(0, 64)}`)!.type).toBe('directory');
  });

  test('a stream error or truncation is an ArchiveInvalid, not a hang', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const tar = await legacyArchive([{ config: configFor([l1]), layers: [l1], tags: ['a:1'] }]);
    await expect(scanDockerArchiveStream(Readable.from([tar.subarray(0, 3000)]))).rejects.toMatchObject({ code: 'ArchiveInvalid' });
    const failing = new Readable({ read() { this.destroy(new Error('connection reset')); } });
    await expect(scanDockerArchiveStream(failing)).rejects.toMatchObject({ code: 'ArchiveInvalid', message: expect.stringContaining('connection reset') });
  });
});

describe('writeDockerArchive', () => {
  test('writes a docker load archive that reads back; checks layer bytes while writing', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n' });
    const l2 = gzipSync(await layerTar({ 'b.txt': 'two\n' }));
    const config = configFor([l1, await layerTar({ 'b.txt': 'two\n' })]);
    const layers = [l1, l2].map((b) => ({ descriptor: { mediaType: 'x', digest: sha(b), size: b.length }, open: async () => Readable.from([b]) }));
    const out = await readAll(writeDockerArchive({ config, layers, repoTags: ['docker.io/library/w:1', 'localhost:5000/w/x:2'] }));
    const path = join(tempDir(), 'w.tar');
    writeFileSync(path, out);
    const a = await DockerSaveArchive.open(path);
    expect(a.images[0]!.repoTags).toEqual(['w:1', 'localhost:5000/w/x:2']);
    expect(a.images[0]!.configDigest).toBe(sha(config));
    expect(a.images[0]!.layers.map((l) => l.compression)).toEqual(['none', 'gzip']);
    // wrong bytes for a layer: the stream fails
    const bad = writeDockerArchive({ config, layers: [layers[0]!, { ...layers[1]!, open: async () => Readable.from([l1.subarray(0, l2.length)]) }] });
    await expect(readAll(bad)).rejects.toMatchObject({ code: 'DigestMismatch' });
    // diff_ids must match the layer count
    expect(() => writeDockerArchive({ config, layers: [layers[0]!] })).toThrow(/2 diff_ids for 1 layers/);
  });
});
