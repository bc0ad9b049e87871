import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from './memory-transport.js';
import { digestOf, type Digest } from './digest.js';
import { isDsvError } from './errors.js';
import { MediaTypes, type Descriptor } from './model.js';

const blob = Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}');
const desc: Descriptor = { mediaType: MediaTypes.OciConfig, digest: digestOf(blob), size: blob.length };
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: desc, layers: [] }));
const mdigest = digestOf(manifest);

async function read(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e) => e);
}

afterEach(() => clearMemoryStore());

describe('memory transport', () => {
  it('parses references', () => {
    expect(memoryTransport.parseReference('a/b').toString()).toBe('memory:a/b:latest');
    expect(memoryTransport.parseReference('a:v1').within).toBe('a:v1');
    expect(() => memoryTransport.parseReference('A')).toThrow(/invalid memory reference/);
    expect(() => memoryTransport.parseReference('a@sha256:12')).toThrow(/invalid memory reference/);
    expect(() => memoryTransport.parseReference('a:bad tag')).toThrow(/invalid tag/);
  });

  it('stores blobs and manifests, makes them visible on commit, moves the tag', async () => {
    const ref = memoryTransport.parseReference('app:1');
    const dest = await ref.newDestination();
    expect(await dest.hasBlob(desc)).toBe(false);
    await dest.putBlob(desc, Readable.from([blob]));
    expect(await dest.hasBlob(desc)).toBe(true);
    await dest.putManifest(manifest, MediaTypes.OciManifest);
    const src = await ref.newSource();
    expect(isDsvError(await errorOf(src.getManifest()), 'NotFound')).toBe(true); // nothing visible yet
    await dest.commit();
    await dest.close();
    const got = await src.getManifest();
    expect(digestOf(got.bytes)).toBe(mdigest);
    expect(got.mediaType).toBe(MediaTypes.OciManifest);
    expect((await read(await src.getBlob(desc))).equals(blob)).toBe(true);
    expect(await src.listTags!()).toEqual(['1']);
    const byDigest = await memoryTransport.parseReference(`app@${mdigest}`).newSource();
    expect(digestOf((await byDigest.getManifest()).bytes)).toBe(mdigest);
    expect(digestOf((await src.getManifest(mdigest)).bytes)).toBe(mdigest);
  });

  it('putBlob verifies digest and size and stores nothing on a mismatch', async () => {
    const dest = await memoryTransport.parseReference('app:1').newDestination();
    const e1 = await errorOf(dest.putBlob(desc, Readable.from([Buffer.from('x'.repeat(blob.length))])));
    expect(isDsvError(e1, 'DigestMismatch')).toBe(true);
    const e2 = await errorOf(dest.putBlob(desc, Readable.from([blob.subarray(1)])));
    expect(isDsvError(e2, 'SizeMismatch')).toBe(true);
    const e3 = await errorOf(dest.putBlob(desc, Readable.from([blob, Buffer.from('more')])));
    expect(isDsvError(e3, 'SizeMismatch')).toBe(true);
    expect(await dest.hasBlob(desc)).toBe(false);
    await dest.commit();
    const src = await memoryTransport.parseReference('app:1').newSource();
    expect(isDsvError(await errorOf(src.getBlob(desc)), 'NotFound')).toBe(true);
  });

  it('refuses manifests whose blobs or children are missing, or that do not match their digest', async () => {
    const dest = await memoryTransport.parseReference('app:1').newDestination();
    expect(isDsvError(await errorOf(dest.putManifest(manifest, MediaTypes.OciManifest)), 'NotFound')).toBe(true);
    await dest.putBlob(desc, Readable.from([blob]));
    const wrong = digestOf('other') as Digest;
    expect(isDsvError(await errorOf(dest.putManifest(manifest, MediaTypes.OciManifest, wrong)), 'DigestMismatch')).toBe(true);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.OciManifest, digest: mdigest, size: manifest.length }] }));
    expect(isDsvError(await errorOf(dest.putManifest(index, MediaTypes.OciIndex)), 'NotFound')).toBe(true);
    await dest.putManifest(manifest, MediaTypes.OciManifest, mdigest);
    await dest.putManifest(index, MediaTypes.OciIndex);
    await dest.commit();
  });

  it('close without commit discards everything', async () => {
    const dest = await memoryTransport.parseReference('app:1').newDestination();
    await dest.putBlob(desc, Readable.from([blob]));
    await dest.putManifest(manifest, MediaTypes.OciManifest);
    await dest.close();
    const src = await memoryTransport.parseReference('app:1').newSource();
    expect(isDsvError(await errorOf(src.getManifest()), 'NotFound')).toBe(true);
  });

  it('mounts a blob from another memory repository', async () => {
    memoryStoreFaults.putRawBlob('base', desc.digest, blob);
    const dest = await memoryTransport.parseReference('other:1').newDestination();
    expect(await dest.tryReuseBlob!(desc, {})).toBe(false);
    expect(await dest.tryReuseBlob!(desc, { mountFrom: memoryTransport.parseReference('base:x') })).toBe(true);
    expect(await dest.hasBlob(desc)).toBe(true);
    // A corrupt blob in the other repository is not mounted.
    memoryStoreFaults.putRawBlob('bad', digestOf('zzz'), Buffer.from('not it'));
    const d2: Descriptor = { ...desc, digest: digestOf('zzz'), size: 6 };
    expect(await dest.tryReuseBlob!(d2, { mountFrom: memoryTransport.parseReference('bad') })).toBe(false);
  });
});
