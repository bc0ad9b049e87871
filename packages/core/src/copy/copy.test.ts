// The one-pass copy: every blob read once (also when signing), the signature made after every diff_id is
// proven and before any manifest is put, sequential sources read one blob at a time in their order, and
// destinations handed streams they can check (VerifiedBlob) rather than a flag to trust.
import { afterEach, describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from '../memory-transport.js';
import { VerifiedBlob, digestOf, verifiedFor, type Digest } from '../digest.js';
import { MediaTypes, type Descriptor } from '../model.js';
import type { Signer } from '../signer.js';
import type { ImageDestination, ImageSource } from '../transport.js';
import { copyImage } from './copy.js';

interface Built {
  manifest: Buffer;
  digest: Digest;
  config: Buffer;
  configDesc: Descriptor;
  layers: { raw: Buffer; stored: Buffer; desc: Descriptor }[];
}

function buildImage(contents: Buffer[], opts: { compress?: boolean; diffIds?: Digest[] } = {}): Built {
  const layers = contents.map((raw) => {
    const stored = opts.compress === false ? raw : gzipSync(raw);
    const mediaType = opts.compress === false ? MediaTypes.DockerLayerTar : MediaTypes.DockerLayerGzip;
    return { raw, stored, desc: { mediaType, digest: digestOf(stored), size: stored.length } as Descriptor };
  });
  const diffIds = opts.diffIds ?? layers.map((l) => digestOf(l.raw));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configDesc: Descriptor = { mediaType: MediaTypes.DockerConfig, digest: digestOf(config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.DockerManifest, config: configDesc, layers: layers.map((l) => l.desc) }));
  return { manifest, digest: digestOf(manifest), config, configDesc, layers };
}

async function push(name: string, img: Built): Promise<void> {
  const dest = await memoryTransport.parseReference(name).newDestination();
  await dest.putBlob(img.configDesc, Readable.from([img.config]));
  for (const l of img.layers) if (!(await dest.hasBlob(l.desc))) await dest.putBlob(l.desc, Readable.from([l.stored]));
  await dest.putManifest(img.manifest, MediaTypes.DockerManifest);
  await dest.commit();
}

/** A source that counts what it is asked for, and how many blobs are open at once. */
async function counting(name: string, sequence?: (blobs: readonly Descriptor[]) => Descriptor[]) {
  const source = await memoryTransport.parseReference(name).newSource();
  const reads: string[] = [];
  let manifests = 0;
  let open = 0;
  let maxOpen = 0;
  const getManifest = source.getManifest.bind(source);
  const getBlob = source.getBlob.bind(source);
  const counted: ImageSource = {
    reference: source.reference,
    getManifest: async (d) => {
      manifests++;
      return getManifest(d);
    },
    getBlob: async (d) => {
      reads.push(d.digest);
      open++;
      maxOpen = Math.max(maxOpen, open);
      const s = await getBlob(d);
      s.once('close', () => open--);
      return s;
    },
    close: () => source.close(),
  };
  if (sequence) Object.assign(counted, { blobOrder: 'sequential', blobSequence: sequence });
  return { source: counted, reads, manifests: () => manifests, maxOpen: () => maxOpen };
}

const dst = (r: string): Promise<ImageDestination> => memoryTransport.parseReference(r).newDestination();
const signer = (log: string[] = []): Signer => ({
  type: 'hmac',
  describeKey: async () => ({ type: 'hmac', keyId: 'K1' }),
  sign: async (data) => {
    log.push('sign');
    return `HMAC:K1:${createHmac('sha256', 'k').update(data).digest('hex')}`;
  },
});

afterEach(() => clearMemoryStore());

describe('one pass', () => {
  it('reads the manifest once and every blob once, with and without signing', async () => {
    const img = buildImage([randomBytes(50_000), Buffer.from('two'), randomBytes(3000), Buffer.from('four')]);
    await push('a:1', img);
    const blobs = [img.configDesc.digest, ...img.layers.map((l) => l.desc.digest)].sort();

    const plain = await counting('a:1');
    await copyImage(plain.source, await dst('b:1'));
    expect([...plain.reads].sort()).toEqual(blobs);
    expect(plain.manifests()).toBe(1);

    const signing = await counting('a:1');
    const r = await copyImage(signing.source, await dst('c:1'), { sign: { signer: signer(), kind: 'sign' } });
    expect([...signing.reads].sort()).toEqual(blobs);
    expect(signing.manifests()).toBe(1);
    expect(r.images[0]).toMatchObject({ blobsCopied: 5, blobsSkipped: 0 });

    // Signing where the layers already are: nothing uploaded but the new configuration, each layer still
    // read (once) to prove its diff_id.
    const again = await counting('a:1');
    const r2 = await copyImage(again.source, await dst('a:signed'), { sign: { signer: signer(), kind: 'sign' }, verify: true });
    expect([...again.reads].sort()).toEqual(blobs);
    expect(r2.images[0]).toMatchObject({ blobsCopied: 1, blobsSkipped: 4 });
  });

  it('signs only once every diff_id is proven, and puts manifests only after signing', async () => {
    const img = buildImage([randomBytes(20_000), randomBytes(10_000)]);
    await push('a:1', img);
    const log: string[] = [];
    const dest = await dst('b:1');
    const putBlob = dest.putBlob.bind(dest);
    const putManifest = dest.putManifest.bind(dest);
    dest.putBlob = async (d, s, o) => {
      await putBlob(d, s, o);
      log.push(`blob ${d.digest}`);
    };
    dest.putManifest = async (b, m, i) => {
      log.push('manifest');
      return putManifest(b, m, i);
    };
    const r = await copyImage((await counting('a:1')).source, dest, { sign: { signer: signer(log), kind: 'sign' } });
    const signedAt = log.indexOf('sign');
    for (const l of img.layers) expect(log.indexOf(`blob ${l.desc.digest}`)).toBeLessThan(signedAt);
    expect(log.indexOf(`blob ${r.images[0]!.configDigest}`)).toBeGreaterThan(signedAt);
    expect(log.indexOf('manifest')).toBeGreaterThan(signedAt);
    expect(log.filter((x) => x === 'sign')).toHaveLength(1);
  });

  it('refuses to sign a layer whose content does not match its diff_id, even one the destination has', async () => {
    const good = buildImage([Buffer.from('one'), Buffer.from('two')]);
    const lying = buildImage([Buffer.from('one'), Buffer.from('two')], { diffIds: [digestOf('one'), digestOf('not two')] });
    await push('a:1', lying);
    await push('b:1', good);
    const log: string[] = [];
    const err = await copyImage((await counting('a:1')).source, await dst('b:signed'), { sign: { signer: signer(log), kind: 'sign' } }).catch((e) => e);
    expect(err.code).toBe('DigestMismatch');
    expect(err.message).toMatch(/^refusing to sign memory:a:1: 1 integrity failure: layer 1 sha256:[0-9a-f]{64}: diff_id mismatch/);
    expect(log).toEqual([]);
    expect(await (await memoryTransport.parseReference('b:signed').newSource()).getManifest().catch((e) => e.code)).toBe('NotFound');
  });

  it('reports every broken layer and a corrupt one as such, and never signs', async () => {
    const img = buildImage([randomBytes(1000), randomBytes(1000), Buffer.from('three')]);
    await push('a:1', img);
    memoryStoreFaults.putRawBlob('a', img.layers[0]!.desc.digest, Buffer.alloc(img.layers[0]!.desc.size));
    const corrupt = Buffer.concat([img.layers[2]!.stored.subarray(0, 12), Buffer.alloc(img.layers[2]!.stored.length - 12, 7)]);
    const bad = { ...img.layers[2]!.desc, digest: digestOf(corrupt), size: corrupt.length };
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.DockerManifest, config: img.configDesc, layers: [img.layers[0]!.desc, img.layers[1]!.desc, bad] }));
    memoryStoreFaults.putRawBlob('a', bad.digest, corrupt);
    memoryStoreFaults.putRawManifest('a', digestOf(m), m, MediaTypes.DockerManifest, '2');
    const log: string[] = [];
    const err = await copyImage((await counting('a:2')).source, await dst('b:1'), { sign: { signer: signer(log), kind: 'sign' } }).catch((e) => e);
    expect(err.message).toContain('2 integrity failures');
    expect(err.message).toMatch(/layer 0 sha256:[0-9a-f]{64}: content digest .* does not match/);
    expect(err.message).toMatch(/layer 2 sha256:[0-9a-f]{64}: cannot decompress/);
    expect(log).toEqual([]);
  });

  it('streams every blob while the signer is still loading, and signs once it has loaded', async () => {
    const img = buildImage([randomBytes(40_000), randomBytes(20_000)]);
    await push('a:1', img);
    const src = await counting('a:1');
    let loaded!: (s: Signer) => void;
    const loading = new Promise<Signer>((resolve) => (loaded = resolve));
    const log: string[] = [];
    const copying = copyImage(src.source, await dst('b:1'), { sign: { signer: loading, kind: 'sign' } });
    // Every blob (the configuration and both layers) is read before the signer exists.
    for (let i = 0; i < 400 && src.reads.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(src.reads).toHaveLength(3);
    expect(log).toEqual([]);
    loaded(signer(log));
    const r = await copying;
    expect(log).toEqual(['sign']);
    expect(r.images[0]!.signature).toBeDefined();
    expect(await (await memoryTransport.parseReference('b:1').newSource()).getManifest().then((m) => digestOf(m.bytes))).toBe(r.destinationDigest);
  });

  it('stops when the signer fails to load, and commits nothing', async () => {
    const img = buildImage([randomBytes(40_000)]);
    await push('a:1', img);
    const failing = Promise.reject(Object.assign(new Error('no secret key K9'), { code: 'KeyInvalid' }));
    const err = await copyImage((await counting('a:1')).source, await dst('b:1'), { sign: { signer: failing, kind: 'sign' } }).catch((e) => e);
    expect(err.message).toBe('no secret key K9');
    expect(await (await memoryTransport.parseReference('b:1').newSource()).getManifest().catch((e) => e.code)).toBe('NotFound');
  });

  it('reads a sequential source one blob at a time, in the order it gives', async () => {
    const img = buildImage([randomBytes(30_000), randomBytes(10_000), randomBytes(20_000)], { compress: false });
    await push('a:1', img);
    // The source's own order: reversed manifest order.
    const src = await counting('a:1', (blobs) => [...blobs].reverse());
    await copyImage(src.source, await dst('b:1'), { sign: { signer: signer(), kind: 'sign' }, jobs: 4 });
    expect(src.maxOpen()).toBe(1);
    expect(src.reads).toEqual([img.configDesc.digest, ...img.layers.map((l) => l.desc.digest).reverse()]);
  });
});

describe('VerifiedBlob', () => {
  it('is what destinations are handed, for exactly their descriptor', async () => {
    const img = buildImage([randomBytes(5000)]);
    await push('a:1', img);
    const dest = await dst('b:1');
    const seen: boolean[] = [];
    const putBlob = dest.putBlob.bind(dest);
    dest.putBlob = async (d, s, o) => {
      seen.push(verifiedFor(s, d), verifiedFor(s, { ...d, size: d.size + 1 }), verifiedFor(s, img.configDesc.digest === d.digest ? img.layers[0]!.desc : img.configDesc));
      return putBlob(d, s, o);
    };
    await copyImage((await counting('a:1')).source, dest);
    expect(seen).toEqual([true, false, false, true, false, false]);
    expect(verifiedFor(Readable.from([Buffer.from('x')]), img.configDesc)).toBe(false);
  });

  it('fails a mismatch before delivering its last chunk', async () => {
    const bytes = Buffer.from('hello world');
    const v = new VerifiedBlob({ digest: digestOf('something else'), size: bytes.length });
    const got: Buffer[] = [];
    v.on('data', (c: Buffer) => got.push(c));
    const done = new Promise((resolve) => v.on('error', resolve));
    v.write(bytes.subarray(0, 5));
    v.end(bytes.subarray(5));
    const e = (await done) as { code: string };
    expect(e.code).toBe('DigestMismatch');
    expect(Buffer.concat(got).length).toBeLessThan(bytes.length);
    expect(v.digest).toBe(digestOf('something else'));
  });
});
