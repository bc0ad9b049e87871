// Property-based fuzzing (fast-check, fixed seed, bounded runs) of the archive readers: the tar index,
// the single-pass docker-save stream scanner, the docker-save manifest.json, and OCI layouts (index.json
// and manifests). Every input must end in a result or a DsvError: never another exception or a hang.
import { describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { parseSaveManifest } from './docker-save.js';
import { TarIndex, dockerArchiveTransport, ociTransport, scanDockerArchiveStream } from './index.js';
import { configFor, layerTar, legacyArchive, ociSaveArchive, readAll, sha, tempDir } from './__tests__/support.js';

const SEED = 20240601;
const counts: Record<string, number> = {};

async function typed(name: string, f: () => Promise<unknown> | unknown): Promise<void> {
  counts[name] = (counts[name] ?? 0) + 1;
  try {
    await f();
  } catch (e) {
    if (!(e instanceof DsvError)) throw new Error(`${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

/** Byte edits (overwrite), an optional cut, applied to a valid input. */
const edits = fc.record({
  writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  headerBias: fc.boolean(),
});
function apply(base: Buffer, e: { writes: Array<[number, number]>; cut: number | undefined; headerBias: boolean }): Buffer {
  const b = Buffer.from(base);
  for (const [at, v] of e.writes) {
    // biased towards header blocks (the first 512 bytes of each block-aligned entry) where parsing happens
    const pos = e.headerBias ? (Math.floor((at % b.length) / 512) * 512 + (at % 512)) % b.length : at % b.length;
    b[pos] = v;
  }
  return e.cut === undefined ? b : b.subarray(0, e.cut % (b.length + 1));
}

async function readImage(path: string): Promise<void> {
  const src = await dockerArchiveTransport.parseReference(`${path}:@0`).newSource();
  try {
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    for (const d of [m.config, ...m.layers]) await readAll(await src.getBlob(d));
  } finally {
    await src.close();
  }
}

describe('fuzzing archive readers', () => {
  it('tar index, docker-save archives (both layouts) and the stream scanner', async () => {
    const l1 = await layerTar({ 'a.txt': 'one\n', 'dir/b.txt': 'two\n' });
    const c1 = configFor([l1]);
    const bases = [await legacyArchive([{ config: c1, layers: [l1], tags: ['app:1'] }]), await ociSaveArchive([{ config: c1, layers: [l1], tags: ['app:1'] }])];
    const dir = tempDir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), edits, async (which, e) => {
        const data = apply(bases[which]!, e);
        const path = join(dir, `f${n++}.tar`);
        writeFileSync(path, data);
        await typed('TarIndex.open', () => TarIndex.open(path));
        await typed('docker-archive source', () => readImage(path));
        await typed('scanDockerArchiveStream', () => scanDockerArchiveStream(Readable.from([data])));
        rmSync(path, { force: true });
      }),
      { seed: SEED, numRuns: 250 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
        const path = join(dir, `r${n++}.tar`);
        writeFileSync(path, bytes);
        await typed('TarIndex.open(random)', () => TarIndex.open(path));
        await typed('scanDockerArchiveStream(random)', () => scanDockerArchiveStream(Readable.from([Buffer.from(bytes)])));
        rmSync(path, { force: true });
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('docker-save manifest.json', () => {
    const good = JSON.stringify([{ Config: `${'a'.repeat(64)}.json`, RepoTags: ['app:1'], Layers: ['x/layer.tar'] }]);
    const text = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.nat(), fc.string({ maxLength: 10 })).map(([at, s]) => good.slice(0, at % good.length) + s + good.slice(at % good.length)),
      fc.record({ Config: fc.string(), RepoTags: fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), Layers: fc.array(fc.string(), { maxLength: 3 }) }).map((e) => JSON.stringify([e])),
    );
    fc.assert(
      fc.property(text, (t) => {
        counts['parseSaveManifest'] = (counts['parseSaveManifest'] ?? 0) + 1;
        try {
          parseSaveManifest(Buffer.from(t), 'fuzz');
        } catch (e) {
          if (!(e instanceof DsvError)) throw e;
        }
      }),
      { seed: SEED, numRuns: 800 },
    );
  });

  it('OCI layouts: index.json and manifests', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const manifestText = fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 120 }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ maxLength: 200 })), manifestText, fc.integer({ min: -2, max: 400 }), async (indexText, mText, sizeDelta) => {
        const m = Buffer.from(mText);
        writeFileSync(join(dir, 'blobs', 'sha256', sha(m).slice(7)), m);
        await typed('oci index.json', async () => {
          writeFileSync(join(dir, 'index.json'), indexText);
          await (await ociTransport.parseReference(dir).newSource()).getManifest();
        });
        await typed('oci manifest', async () => {
          writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m), size: m.length + (sizeDelta % 3 === 0 ? 0 : sizeDelta) }] }));
          const src = await ociTransport.parseReference(dir).newSource();
          await src.getManifest();
        });
      }),
      { seed: SEED, numRuns: 300 },
    );
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`fuzz source-archive: ${total} parser inputs (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})`);
    expect(total).toBeGreaterThan(2000);
  });
});
