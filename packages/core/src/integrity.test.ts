import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from './memory-transport.js';
import { digestOf, type Digest } from './digest.js';
import { isDsvError } from './errors.js';
import { MediaTypes, type Descriptor } from './model.js';
import { integrityErrors, verifyIntegrity } from './integrity.js';
import { readConfig, readManifest, resolveImages, readBlobVerified } from './image.js';
import type { ImageManifest } from './manifest.js';
import type { ImageSource } from './transport.js';
import { buildSampleImageSync } from '@dsv/conformance';

// --- images from @dsv/conformance's builder (layers are arbitrary bytes standing in for tars) ---
interface Built {
  manifest: Buffer;
  digest: Digest;
  config: Buffer;
  configDesc: Descriptor;
  layers: { raw: Buffer; stored: Buffer; desc: Descriptor }[];
  descriptor: Descriptor;
}

function buildImage(contents: Buffer[], opts: { compression?: 'gzip' | 'zstd' | 'none'; arch?: string; diffIds?: string[]; labels?: Record<string, string> } = {}): Built {
  const s = buildSampleImageSync({
    format: 'oci',
    compression: opts.compression ?? 'gzip',
    platform: `linux/${opts.arch ?? 'amd64'}`,
    layers: contents,
    labels: opts.labels,
    diffIds: opts.diffIds as Digest[] | undefined,
  });
  const layers = s.layers.map((l) => ({ raw: l.tar, stored: l.bytes, desc: l.descriptor }));
  return { manifest: s.manifestBytes, digest: s.manifestDigest, config: s.configBytes, configDesc: s.config, layers, descriptor: s.descriptor };
}

async function push(name: string, img: Built, asChild = false): Promise<void> {
  const dest = await memoryTransport.parseReference(name).newDestination();
  await dest.putBlob(img.configDesc, Readable.from([img.config]));
  for (const l of img.layers) await dest.putBlob(l.desc, Readable.from([l.stored]));
  await dest.putManifest(img.manifest, MediaTypes.OciManifest, asChild ? img.digest : undefined);
  await dest.commit();
}

async function pushIndex(name: string, imgs: Built[]): Promise<Digest> {
  for (const i of imgs) await push(name, i, true);
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: imgs.map((i) => i.descriptor) }));
  const dest = await memoryTransport.parseReference(name).newDestination();
  await dest.putManifest(index, MediaTypes.OciIndex);
  await dest.commit();
  return digestOf(index);
}

const source = (ref: string): Promise<ImageSource> => memoryTransport.parseReference(ref).newSource();
afterEach(() => clearMemoryStore());

describe('image helpers', () => {
  it('reads manifests and configs, checks instance digests', async () => {
    const img = buildImage([Buffer.from('a')]);
    await push('img:1', img);
    const src = await source('img:1');
    const m = await readManifest(src);
    expect(m.digest).toBe(img.digest);
    expect((await readManifest(src, img.digest)).kind).toBe('manifest');
    memoryStoreFaults.putRawManifest('img', digestOf('x'), img.manifest, MediaTypes.OciManifest);
    expect(await readManifest(src, digestOf('x')).catch((e) => e.code)).toBe('DigestMismatch');
    const config = await readConfig(src, m as ImageManifest);
    expect(config.digest).toBe(img.configDesc.digest);
    // a config blob whose bytes do not match
    memoryStoreFaults.putRawBlob('img', img.configDesc.digest, Buffer.from('{"x":1}'.padEnd(img.config.length)));
    expect(await readConfig(src, m as ImageManifest).catch((e) => e.code)).toBe('DigestMismatch');
    // over the config limit: refused before reading
    const huge = { ...(m as ImageManifest), config: { ...img.configDesc, size: 5 * 1024 * 1024 } };
    expect(await readConfig(src, huge).catch((e) => e.code)).toBe('LimitExceeded');
  });

  it('readBlobVerified fails the stream on bad bytes', async () => {
    const img = buildImage([Buffer.from('layer')]);
    await push('img:1', img);
    const src = await source('img:1');
    const ok = await readBlobVerified(src, img.layers[0]!.desc);
    for await (const _ of ok) { /* drain */ }
    memoryStoreFaults.putRawBlob('img', img.layers[0]!.desc.digest, Buffer.alloc(img.layers[0]!.desc.size, 1));
    const bad = await readBlobVerified(src, img.layers[0]!.desc);
    const err = await (async () => { for await (const _ of bad) { /* drain */ } })().catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
  });

  it('resolves an index to its images, by platform, and limits nesting', async () => {
    const a = buildImage([Buffer.from('a')], { arch: 'amd64' });
    const b = buildImage([Buffer.from('b')], { arch: 'arm64' });
    const top = await pushIndex('multi:1', [a, b]);
    const src = await source('multi:1');
    const all = await resolveImages(src);
    expect(all.top.digest).toBe(top);
    expect(all.images.map((i) => i.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    const one = await resolveImages(src, { platform: 'linux/arm64' });
    expect(one.images.map((i) => i.manifest.digest)).toEqual([b.digest]);
    expect(await resolveImages(src, { platform: 'linux/s390x' }).catch((e) => e.code)).toBe('NotFound');
    expect(await resolveImages(src, { expectedDigest: a.digest }).catch((e) => e.code)).toBe('DigestMismatch');

    // an index nested deeper than Limits.indexDepth
    let child: { bytes: Uint8Array; digest: string; mediaType: string } = { bytes: a.manifest, digest: a.digest, mediaType: MediaTypes.OciManifest };
    for (let i = 0; i < 6; i++) {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [{ mediaType: child.mediaType, digest: child.digest, size: child.bytes.length }] }));
      memoryStoreFaults.putRawManifest('multi', digestOf(bytes), bytes, MediaTypes.OciIndex, i === 5 ? 'deep' : undefined);
      child = { bytes, digest: digestOf(bytes), mediaType: MediaTypes.OciIndex };
    }
    expect(await resolveImages(await source('multi:deep')).catch((e) => e.code)).toBe('LimitExceeded');
  });
});

describe('verifyIntegrity', () => {
  it('passes a good image with gzip, zstd and plain layers', async () => {
    const data = [randomBytes(200_000), Buffer.alloc(300_000, 3), Buffer.from('small')];
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const img = buildImage(data, { compression });
      await push(`good-${compression}:1`, img);
      const events: number[] = [];
      const report = await verifyIntegrity(await source(`good-${compression}:1`), { expectedDigest: img.digest, onProgress: (e) => events.push(e.done) });
      expect(report.ok).toBe(true);
      expect(report.kind).toBe('manifest');
      expect(report.images[0]!.layers.map((l) => l.compression)).toEqual([compression, compression, compression]);
      expect(report.images[0]!.layers.every((l) => l.actualDiffId === l.expectedDiffId && l.actualDigest === l.descriptor.digest)).toBe(true);
      expect(report.images[0]!.platform).toBe('linux/amd64');
      expect(integrityErrors(report)).toEqual([]);
      expect(events.length).toBeGreaterThanOrEqual(3);
    }
  });

  it('reports a corrupted layer (digest mismatch) with its real digest', async () => {
    const img = buildImage([Buffer.from('one'), randomBytes(50_000)]);
    await push('bad:1', img);
    const l = img.layers[1]!;
    const corrupt = Buffer.from(l.stored);
    corrupt[corrupt.length - 20]! ^= 0xff;
    memoryStoreFaults.putRawBlob('bad', l.desc.digest, corrupt);
    const report = await verifyIntegrity(await source('bad:1'));
    expect(report.ok).toBe(false);
    const layer = report.images[0]!.layers[1]!;
    expect(layer.digestOk).toBe(false);
    expect(layer.sizeOk).toBe(true);
    expect(layer.actualDigest).toBe(digestOf(corrupt));
    expect(layer.error?.code).toBe('DigestMismatch');
    expect(report.images[0]!.layers[0]!.digestOk).toBe(true);
    const errors = integrityErrors(report);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(`layer 1 ${l.desc.digest}`);
  });

  it('reports short and long blobs as SizeMismatch', async () => {
    const img = buildImage([randomBytes(10_000), randomBytes(10_000)]);
    await push('size:1', img);
    memoryStoreFaults.putRawBlob('size', img.layers[0]!.desc.digest, img.layers[0]!.stored.subarray(0, 5000));
    memoryStoreFaults.putRawBlob('size', img.layers[1]!.desc.digest, Buffer.concat([img.layers[1]!.stored, Buffer.alloc(10)]));
    const report = await verifyIntegrity(await source('size:1'));
    const [a, b] = report.images[0]!.layers;
    expect([a!.error?.code, a!.sizeOk, a!.actualSize]).toEqual(['SizeMismatch', false, 5000]);
    expect([b!.error?.code, b!.sizeOk]).toEqual(['SizeMismatch', false]);
    expect(report.ok).toBe(false);
  });

  it('reports a diff_id mismatch, a missing blob, and a layer/diff_id count mismatch', async () => {
    const img = buildImage([Buffer.from('x'), Buffer.from('y')], { diffIds: [digestOf('x'), digestOf('not y')] });
    await push('diff:1', img);
    memoryStoreFaults.deleteBlob('diff', img.layers[0]!.desc.digest);
    const report = await verifyIntegrity(await source('diff:1'));
    const [a, b] = report.images[0]!.layers;
    expect(a!.error?.code).toBe('NotFound');
    expect(b!.digestOk && b!.sizeOk).toBe(true);
    expect(b!.diffIdOk).toBe(false);
    expect(b!.error?.message).toMatch(/diff_id mismatch/);
    expect(b!.actualDiffId).toBe(digestOf('y'));

    const fewer = buildImage([Buffer.from('x'), Buffer.from('y')], { diffIds: [digestOf('x')] });
    await push('fewer:1', fewer);
    const r2 = await verifyIntegrity(await source('fewer:1'));
    expect(r2.ok).toBe(false);
    expect(r2.images[0]!.configOk).toBe(false);
    expect(r2.images[0]!.configError?.message).toMatch(/1 entries but manifest .* has 2 layers/);
    expect(r2.images[0]!.layers[0]!.diffIdOk).toBe(true);
    expect(r2.images[0]!.layers[1]!.diffIdOk).toBe(false);
  });

  it('reports a corrupt gzip stream whose digest matches (published broken) as ArchiveInvalid', async () => {
    const raw = randomBytes(20_000);
    const gz = gzipSync(raw);
    const broken = Buffer.from(gz.subarray(0, gz.length - 30)); // truncated gzip, published as is
    const desc: Descriptor = { mediaType: MediaTypes.OciLayerGzip, digest: digestOf(broken), size: broken.length };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(raw)] } }));
    const cdesc: Descriptor = { mediaType: MediaTypes.OciConfig, digest: digestOf(config), size: config.length };
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: cdesc, layers: [desc] }));
    memoryStoreFaults.putRawBlob('gz', desc.digest, broken);
    memoryStoreFaults.putRawBlob('gz', cdesc.digest, config);
    memoryStoreFaults.putRawManifest('gz', digestOf(manifest), manifest, MediaTypes.OciManifest, 'latest');
    const report = await verifyIntegrity(await source('gz'));
    const l = report.images[0]!.layers[0]!;
    expect(l.digestOk).toBe(true);
    expect(l.diffIdOk).toBe(false);
    expect(l.error?.code).toBe('ArchiveInvalid');
  });

  it('stops a decompression bomb at maxLayerBytes', async () => {
    const img = buildImage([Buffer.alloc(20 * 1024 * 1024)]);
    await push('bomb:1', img);
    const report = await verifyIntegrity(await source('bomb:1'), { maxLayerBytes: 1024 * 1024 });
    expect(report.images[0]!.layers[0]!.error?.code).toBe('LimitExceeded');
    expect(report.images[0]!.layers[0]!.digestOk).toBe(true);
  });

  it('checks every image of an index, or one platform, and a bad config', async () => {
    const a = buildImage([Buffer.from('a')], { arch: 'amd64' });
    const b = buildImage([Buffer.from('b')], { arch: 'arm64' });
    await pushIndex('idx:1', [a, b]);
    memoryStoreFaults.putRawBlob('idx', b.configDesc.digest, Buffer.from('{'.padEnd(b.config.length)));
    const report = await verifyIntegrity(await source('idx:1'));
    expect(report.kind).toBe('index');
    expect(report.images.map((i) => [i.platform, i.ok])).toEqual([['linux/amd64', true], ['linux/arm64', false]]);
    expect(report.images[1]!.configError?.code).toBe('DigestMismatch');
    const errors = integrityErrors(report);
    expect(errors.map((e) => e.message.split(':')[0] + ':' + e.message.split(':')[1])).toEqual(['linux/arm64: blob sha256']);
    const only = await verifyIntegrity(await source('idx:1'), { platform: 'linux/amd64' });
    expect(only.ok).toBe(true);
    expect(only.images).toHaveLength(1);
  });

  it('throws when the manifest cannot be read or does not match the expected digest', async () => {
    expect(await verifyIntegrity(await source('none:1')).catch((e) => e.code)).toBe('NotFound');
    const img = buildImage([Buffer.from('a')]);
    await push('m:1', img);
    expect(await verifyIntegrity(await source('m:1'), { expectedDigest: digestOf('other') }).catch((e) => e.code)).toBe('DigestMismatch');
    memoryStoreFaults.putRawManifest('m', digestOf('garbage'), Buffer.from('garbage'), MediaTypes.OciManifest, 'junk');
    expect(await verifyIntegrity(await source('m:junk')).catch((e) => e.code)).toBe('ManifestInvalid');
  });

  it('streams layers in parallel up to the concurrency limit', async () => {
    const img = buildImage(Array.from({ length: 6 }, (_, i) => Buffer.alloc(10_000, i)));
    await push('par:1', img);
    const inner = await source('par:1');
    let open = 0;
    let maxOpen = 0;
    const counting: ImageSource = {
      reference: inner.reference,
      getManifest: (d) => inner.getManifest(d),
      close: () => inner.close(),
      async getBlob(d) {
        const s = await inner.getBlob(d);
        if (d.mediaType === MediaTypes.OciConfig) return s;
        open++;
        maxOpen = Math.max(maxOpen, open);
        s.on('close', () => open--);
        await new Promise((r) => setTimeout(r, 20));
        return s;
      },
    };
    const report = await verifyIntegrity(counting, { concurrency: 3 });
    expect(report.ok).toBe(true);
    expect(maxOpen).toBeLessThanOrEqual(3);
    expect(maxOpen).toBeGreaterThan(1);
  });
});

describe('runLimited', () => {
  it('starts no new task after a failure and settles running ones before throwing', async () => {
    const { runLimited } = await import('./integrity.js');
    const started: number[] = [];
    let running = 0;
    const tasks = Array.from({ length: 10 }, (_, i) => async () => {
      started.push(i);
      running++;
      await new Promise((r) => setTimeout(r, i === 1 ? 1 : 15));
      running--;
      if (i === 1) throw new Error('task 1 failed');
      return i;
    });
    await expect(runLimited(tasks, 3)).rejects.toThrow('task 1 failed');
    expect(running).toBe(0);
    expect(started.length).toBeLessThan(10);
    expect(await runLimited([async () => 1, async () => 2], 4)).toEqual([1, 2]);
  });
});

describe('uncompressed layers and source diagnosis', () => {
  afterEach(() => clearMemoryStore());

  it('checks an uncompressed layer against its diff_id (the blob digest serves as both)', async () => {
    const img = buildImage([Buffer.from('plain tar bytes'), randomBytes(3000)], { compression: 'none' });
    await push('plain:1', img);
    const report = await verifyIntegrity(await source('plain:1'));
    expect(report.ok).toBe(true);
    expect(report.images[0]!.layers.map((l) => [l.compression, l.actualDiffId])).toEqual(img.layers.map((l) => ['none', digestOf(l.raw)]));
    const wrongDiffIds = buildImage([Buffer.from('plain')], { compression: 'none', diffIds: [digestOf('other')] });
    await push('plain:2', wrongDiffIds);
    const bad = await verifyIntegrity(await source('plain:2'));
    expect(bad.ok).toBe(false);
    expect(bad.images[0]!.layers[0]!.error?.message).toMatch(/diff_id mismatch/);
  });

  it('asks the source to diagnose a blob that failed, and only then', async () => {
    const img = buildImage([Buffer.from('layer content')], { compression: 'none' });
    await push('diag:1', img);
    const asked: string[] = [];
    const withDiagnosis = async (): Promise<ImageSource> => {
      const src = await source('diag:1');
      return Object.assign(src, {
        diagnoseBlob: async (d: Descriptor) => {
          asked.push(d.digest);
          return Object.assign(new Error('file "app/x" changed on disk'), { code: 'DigestMismatch', details: { file: 'app/x' } });
        },
      });
    };
    expect((await verifyIntegrity(await withDiagnosis())).ok).toBe(true);
    expect(asked).toEqual([]);
    memoryStoreFaults.putRawBlob('diag', img.layers[0]!.desc.digest, Buffer.from('layer CONTENT'));
    const report = await verifyIntegrity(await withDiagnosis());
    expect(asked).toEqual([img.layers[0]!.desc.digest]);
    const error = report.images[0]!.layers[0]!.error!;
    expect(isDsvError(error, 'DigestMismatch')).toBe(true);
    expect(error.message).toMatch(/^layer 0 sha256:[0-9a-f]{64}: file "app\/x" changed on disk$/);
    expect(error.details).toMatchObject({ layer: 0, file: 'app/x' });
  });

  it('takes a digest the source computed in place (digestBlob) for uncompressed layers, and checks it as a stream', async () => {
    const img = buildImage([Buffer.from('layer one'), randomBytes(3000)], { compression: 'none' });
    await push('inplace:1', img);
    const streamed: string[] = [];
    const hashed: string[] = [];
    // A source hashing "in place": here from the memory store's bytes, optionally lying about them.
    const inPlace = async (lie: (d: Descriptor, bytes: Buffer) => Buffer = (_d, b) => b): Promise<ImageSource> => {
      const src = await source('inplace:1');
      const getBlob = src.getBlob.bind(src);
      return Object.assign(src, {
        getBlob: async (d: Descriptor) => {
          streamed.push(d.digest);
          return getBlob(d);
        },
        digestBlob: async (d: Descriptor, algorithm: 'sha256' | 'sha512') => {
          hashed.push(d.digest);
          const parts: Buffer[] = [];
          for await (const c of await getBlob(d)) parts.push(c as Buffer);
          const bytes = lie(d, Buffer.concat(parts));
          return { digest: digestOf(bytes, algorithm), size: bytes.length, head: bytes.subarray(0, 512) };
        },
      });
    };
    const layerDigests = img.layers.map((l) => l.desc.digest);
    const ok = await verifyIntegrity(await inPlace());
    expect(ok.ok).toBe(true);
    expect(hashed.sort()).toEqual([...layerDigests].sort());
    expect(streamed.filter((d) => layerDigests.includes(d as Digest))).toEqual([]);
    expect(ok.images[0]!.layers.map((l) => l.actualDiffId)).toEqual(img.layers.map((l) => digestOf(l.raw)));

    const first = img.layers[0]!.desc.digest;
    const changed = await verifyIntegrity(await inPlace((d, b) => (d.digest === first ? Buffer.from('layer 0ne') : b)));
    expect(changed.ok).toBe(false);
    expect(changed.images[0]!.layers[0]!.error?.message).toMatch(/content digest sha256:[0-9a-f]{64} does not match/);
    expect(changed.images[0]!.layers[1]!.error).toBeUndefined();
    const short = await verifyIntegrity(await inPlace((d, b) => (d.digest === first ? b.subarray(1) : b)));
    expect(isDsvError(short.images[0]!.layers[0]!.error, 'SizeMismatch')).toBe(true);
    const long = await verifyIntegrity(await inPlace((d, b) => (d.digest === first ? Buffer.concat([b, b]) : b)));
    expect(long.images[0]!.layers[0]!.error?.message).toMatch(/more than the expected/);
    expect(long.images[0]!.layers[0]!.actualDigest).toBeUndefined();
  });

  it('streams a compressed layer even when the source offers digestBlob', async () => {
    const img = buildImage([Buffer.from('gzipped layer')], { compression: 'gzip' });
    await push('inplace:2', img);
    const src = await source('inplace:2');
    const getBlob = src.getBlob.bind(src);
    const streamed: string[] = [];
    Object.assign(src, {
      getBlob: async (d: Descriptor) => {
        streamed.push(d.digest);
        return getBlob(d);
      },
      digestBlob: async (d: Descriptor) => {
        const parts: Buffer[] = [];
        for await (const c of await getBlob(d)) parts.push(c as Buffer);
        const bytes = Buffer.concat(parts);
        return { digest: digestOf(bytes), size: bytes.length, head: bytes.subarray(0, 512) };
      },
    });
    const report = await verifyIntegrity(src);
    expect(report.ok).toBe(true);
    expect(report.images[0]!.layers[0]!.compression).toBe('gzip');
    expect(streamed).toContain(img.layers[0]!.desc.digest);
  });
});
