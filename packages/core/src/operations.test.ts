import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from './memory-transport.js';
import { digestOf, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { MediaTypes, type Descriptor } from './model.js';
import { copyImage, inspectImage, verifyImage } from './operations.js';
import { readConfig, readManifest, readTopManifest } from './image.js';
import { readSignatures } from './signatures.js';
import type { ImageIndex, ImageManifest } from './manifest.js';
import type { Signer, VerificationResult } from './signer.js';
import type { ImageDestination, ImageReference, ImageSource } from './transport.js';
import { buildSampleImageSync } from '@dsv/conformance';

// --- a fake HMAC signer/verifier: "HMAC:<keyid>:<hex>" ---
function hmacSigner(keyId: string, secret: string): Signer {
  return {
    type: 'hmac',
    describeKey: async () => ({ type: 'hmac', keyId }),
    sign: async (data) => `HMAC:${keyId}:${createHmac('sha256', secret).update(data).digest('hex')}`,
  };
}
function hmacVerifier(keys: Record<string, string>) {
  return async (data: Uint8Array, signature: string): Promise<VerificationResult> => {
    const [, keyId, hex] = signature.split(':');
    const secret = keyId ? keys[keyId] : undefined;
    if (!secret) return { status: 'unknown-key', type: 'hmac', keyId, reason: 'no such key' };
    const want = createHmac('sha256', secret).update(data).digest();
    const got = Buffer.from(hex ?? '', 'hex');
    const ok = got.length === want.length && timingSafeEqual(got, want);
    return ok ? { status: 'valid', type: 'hmac', keyId, signer: `key ${keyId}`, createdAt: new Date(0) } : { status: 'invalid', type: 'hmac', keyId, reason: 'bad signature' };
  };
}

// --- images from @dsv/conformance's builder (layers are arbitrary bytes standing in for tars) ---
interface Built { manifest: Buffer; digest: Digest; config: Buffer; configDesc: Descriptor; layers: { stored: Buffer; desc: Descriptor }[]; descriptor: Descriptor }
function buildImage(contents: Buffer[], arch = 'amd64', mediaType: string = MediaTypes.DockerManifest): Built {
  const s = buildSampleImageSync({ format: mediaType === MediaTypes.OciManifest ? 'oci' : 'docker', platform: `linux/${arch}`, layers: contents, labels: { app: 'x' }, configIndent: 2 });
  const layers = s.layers.map((l) => ({ raw: l.tar, stored: l.bytes, desc: l.descriptor }));
  return { manifest: s.manifestBytes, digest: s.manifestDigest, config: s.configBytes, configDesc: s.config, layers, descriptor: s.descriptor };
}
async function push(name: string, img: Built, asChild = false): Promise<void> {
  const dest = await memoryTransport.parseReference(name).newDestination();
  await dest.putBlob(img.configDesc, Readable.from([img.config]));
  for (const l of img.layers) if (!(await dest.hasBlob(l.desc))) await dest.putBlob(l.desc, Readable.from([l.stored]));
  await dest.putManifest(img.manifest, img.descriptor.mediaType, asChild ? img.digest : undefined);
  await dest.commit();
}
async function pushIndex(name: string, imgs: Built[]): Promise<Digest> {
  for (const i of imgs) await push(name, i, true);
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.DockerManifestList, manifests: imgs.map((i) => i.descriptor), annotations: { keep: 'me' } }, null, 2));
  const dest = await memoryTransport.parseReference(name).newDestination();
  await dest.putManifest(index, MediaTypes.DockerManifestList);
  await dest.commit();
  return digestOf(index);
}
const src = (r: string): Promise<ImageSource> => memoryTransport.parseReference(r).newSource();
const dst = (r: string): Promise<ImageDestination> => memoryTransport.parseReference(r).newDestination();
const alice = hmacSigner('AAAA1111', 'alice-secret');
const bob = hmacSigner('BBBB2222', 'bob-secret');
const trustAll = hmacVerifier({ AAAA1111: 'alice-secret', BBBB2222: 'bob-secret' });

afterEach(() => clearMemoryStore());

describe('copyImage', () => {
  it('copies an unsigned image keeping its exact manifest digest, skipping blobs already there', async () => {
    const img = buildImage([Buffer.from('one'), randomBytes(100_000)]);
    await push('a:1', img);
    const r = await copyImage(await src('a:1'), await dst('b:1'));
    expect(r).toMatchObject({ sourceDigest: img.digest, destinationDigest: img.digest, kind: 'manifest', dryRun: false });
    expect(r.images[0]).toMatchObject({ blobsCopied: 3, blobsSkipped: 0, configDigest: img.configDesc.digest });
    expect(digestOf((await (await src('b:1')).getManifest()).bytes)).toBe(img.digest);
    // and back: nothing to copy
    const again = await copyImage(await src('b:1'), await dst('c:1'), { jobs: 1 });
    expect(again.images[0]).toMatchObject({ blobsCopied: 3 });
    const third = await copyImage(await src('b:1'), await dst('c:2'));
    expect(third.images[0]).toMatchObject({ blobsCopied: 0, blobsSkipped: 3, bytesCopied: 0 });
  });

  it('mounts blobs from mountFrom instead of copying', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('base:1', img);
    const r = await copyImage(await src('base:1'), await dst('app:1'), { mountFrom: memoryTransport.parseReference('base:1') });
    expect(r.images[0]).toMatchObject({ blobsCopied: 0, blobsSkipped: 2 });
  });

  it('aborts before commit when a blob does not match', async () => {
    const img = buildImage([randomBytes(10_000)]);
    await push('a:1', img);
    memoryStoreFaults.putRawBlob('a', img.layers[0]!.desc.digest, Buffer.alloc(img.layers[0]!.desc.size));
    const err = await copyImage(await src('a:1'), await dst('b:1')).catch((e) => e);
    expect(err.code).toBe('DigestMismatch');
    expect(await (await src('b:1')).getManifest().catch((e) => e.code)).toBe('NotFound');
    // with verify: refused up front, naming the layer
    const err2 = await copyImage(await src('a:1'), await dst('b:1'), { verify: true }).catch((e) => e);
    expect(err2.message).toMatch(/refusing to copy .* layer 0 sha256:/);
  });

  it('opens each source blob while the destination starts its upload, and reports a source that fails in its own words', async () => {
    const img = buildImage([randomBytes(10_000), randomBytes(20_000)]);
    await push('a:1', img);
    const events: string[] = [];
    const source = await src('a:1');
    const getBlob = source.getBlob.bind(source);
    source.getBlob = async (d) => {
      await new Promise((r) => setTimeout(r, 20));
      events.push(`got ${d.digest}`);
      return getBlob(d);
    };
    const dest = await dst('b:1');
    const putBlob = dest.putBlob.bind(dest);
    dest.putBlob = async (d, stream, o) => {
      events.push(`put ${d.digest}`);
      return putBlob(d, stream, o);
    };
    await copyImage(source, dest, { jobs: 1 });
    for (const l of img.layers) expect(events.indexOf(`put ${l.desc.digest}`)).toBeLessThan(events.indexOf(`got ${l.desc.digest}`));
    expect(digestOf((await (await src('b:1')).getManifest()).bytes)).toBe(img.digest);

    const failing = await src('a:1');
    failing.getBlob = async () => {
      throw new DsvError('NotFound', 'blob gone at the source');
    };
    const err = await copyImage(failing, await dst('c:1')).catch((e: unknown) => e as DsvError);
    expect(err).toMatchObject({ code: 'NotFound', message: 'blob gone at the source' });
    expect(await (await src('c:1')).getManifest().catch((e: DsvError) => e.code)).toBe('NotFound');

    // A destination that refuses before reading, and a source that fails afterwards: the destination's
    // error, and no stray stream error.
    const late = await src('a:1');
    late.getBlob = async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new DsvError('Network', 'source broke later');
    };
    const refusing = await dst('d:1');
    refusing.putBlob = async () => {
      throw new DsvError('AuthFailed', 'destination refused');
    };
    const err2 = await copyImage(late, refusing).catch((e: unknown) => e as DsvError);
    expect(err2).toMatchObject({ code: 'AuthFailed', message: 'destination refused' });
    await new Promise((r) => setTimeout(r, 40));
  });

  it('signs: a new config with the signature, a new manifest, verified afterwards', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    const progress: string[] = [];
    const r = await copyImage(await src('a:1'), await dst('a:signed'), { sign: { signer: alice, kind: 'sign' }, onProgress: (e) => progress.push(e.phase) });
    expect(r.destinationDigest).not.toBe(img.digest);
    expect(r.images[0]!.signature?.signature).toMatch(/^HMAC:AAAA1111:/);
    expect(r.images[0]!.configDigest).not.toBe(img.configDesc.digest);
    expect(r.images[0]).toMatchObject({ blobsCopied: 1, blobsSkipped: 1 }); // same repository: only the new config
    expect(progress).toContain('verify');
    const s = await src('a:signed');
    const m = (await readManifest(s)) as ImageManifest;
    expect(m.digest).toBe(r.destinationDigest);
    expect(m.layers).toEqual(img.layers.map((l) => l.desc));
    expect(readSignatures(await readConfig(s, m))).toHaveLength(1);

    const v = await verifyImage(s, trustAll);
    expect(v.ok).toBe(true);
    expect(v.failures).toEqual([]);
    expect(v.images[0]!.signatures[0]).toMatchObject({ index: 0, role: 'signature', valid: true, trusted: true, keyId: 'AAAA1111', createdAt: '1970-01-01T00:00:00.000Z' });

    // endorse on top, in place
    await copyImage(await src('a:signed'), await dst('a:signed'), { sign: { signer: bob, kind: 'endorse' } });
    const v2 = await verifyImage(await src('a:signed'), trustAll);
    expect(v2.ok).toBe(true);
    expect(v2.images[0]!.signatures.map((x) => [x.role, x.keyId])).toEqual([['signature', 'AAAA1111'], ['endorsement', 'BBBB2222']]);

    // only alice trusted: bob's endorsement is an unknown key
    const v3 = await verifyImage(await src('a:signed'), hmacVerifier({ AAAA1111: 'alice-secret' }));
    expect(v3.ok).toBe(false);
    expect(v3.failures).toEqual(['signature 1 (endorsement) by key BBBB2222: unknown key (no such key)']);
    expect(v3.images[0]!.signatures[1]).toMatchObject({ trusted: false, valid: false, status: 'unknown-key' });

    // resign replaces all with one
    await copyImage(await src('a:signed'), await dst('a:signed'), { sign: { signer: bob, kind: 'resign' } });
    const ins = await inspectImage(await src('a:signed'));
    expect(ins.images[0]!.signatures).toEqual([{ index: 0, role: 'signature', digest: expect.stringMatching(/^sha256:/), digestMatches: true, type: 'unchecked', status: 'unknown-key', reason: 'not verified' }]);
    expect(ins.images[0]!.labels).toEqual({ app: 'x' });
  });

  it('verify checks the signatures while the layers are read, and reports them after integrity as before', async () => {
    const img = buildImage([Buffer.from('one'), Buffer.from('two')]);
    await push('a:1', img);
    await copyImage(await src('a:1'), await dst('a:signed'), { sign: { signer: alice, kind: 'sign' } });
    const events: string[] = [];
    const s = await src('a:signed');
    const layerDigests = new Set(img.layers.map((l) => l.desc.digest));
    const getBlob = s.getBlob.bind(s);
    s.getBlob = async (d: Descriptor) => {
      if (layerDigests.has(d.digest)) events.push('layer');
      return getBlob(d);
    };
    const v = await verifyImage(s, async (data, signature) => {
      events.push('signature');
      return trustAll(data, signature);
    });
    expect(v.ok).toBe(true);
    expect(events[0]).toBe('signature');
    // A broken layer still fails the image whose signature checks.
    memoryStoreFaults.putRawBlob('a', img.layers[1]!.desc.digest, Buffer.alloc(img.layers[1]!.desc.size));
    const broken = await verifyImage(await src('a:signed'), trustAll);
    expect(broken.ok).toBe(false);
    expect(broken.images[0]!.signatures[0]).toMatchObject({ valid: true });
    expect(broken.failures[0]).toContain(`layer 1 ${img.layers[1]!.desc.digest}`);
  });

  it('refuses to sign a broken image, with the integrity errors', async () => {
    const img = buildImage([Buffer.from('one'), Buffer.from('two')]);
    await push('a:1', img);
    memoryStoreFaults.putRawBlob('a', img.layers[1]!.desc.digest, Buffer.alloc(img.layers[1]!.desc.size));
    let signed = false;
    const spy: Signer = { ...alice, sign: async (d) => { signed = true; return alice.sign(d); } };
    const err = await copyImage(await src('a:1'), await dst('a:1'), { sign: { signer: spy, kind: 'sign' } }).catch((e) => e);
    expect(err.code).toBe('DigestMismatch');
    expect(err.message).toContain(`layer 1 ${img.layers[1]!.desc.digest}`);
    expect(signed).toBe(false);
    expect((await readManifest(await src('a:1'))).digest).toBe(img.digest);
  });

  it('readTopManifest reads the top manifest through a source it closes again, also when the read fails', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    const closed: string[] = [];
    const counting = (name: string): ImageReference => {
      const ref = memoryTransport.parseReference(name);
      return Object.assign(Object.create(ref), {
        newSource: async () => {
          const source = await ref.newSource();
          return Object.assign(Object.create(source), { close: async () => { closed.push(name); await source.close(); } });
        },
      });
    };
    expect((await readTopManifest(counting('a:1'), {})).digest).toBe(img.digest);
    expect((await readTopManifest(counting('missing:1'), {}).catch((e) => e)).code).toBe('NotFound');
    expect(closed).toEqual(['a:1', 'missing:1']);
  });

  it('dryRun computes everything and writes nothing', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    const r = await copyImage(await src('a:1'), await dst('b:1'), { dryRun: true, sign: { signer: alice, kind: 'sign' } });
    expect(r.dryRun).toBe(true);
    expect(r.images[0]!.blobsCopied).toBe(2);
    expect(digestOf(r.manifestBytes!)).toBe(r.destinationDigest);
    expect(await (await src('b:1')).getManifest().catch((e) => e.code)).toBe('NotFound');
  });

  it('removes signatures', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    await copyImage(await src('a:1'), await dst('a:s'), { sign: { signer: alice, kind: 'sign' } });
    const r = await copyImage(await src('a:s'), await dst('a:plain'), { removeSignatures: true });
    const s = await src('a:plain');
    expect(readSignatures(await readConfig(s, (await readManifest(s)) as ImageManifest))).toEqual([]);
    const v = await verifyImage(s, trustAll);
    expect(v.ok).toBe(false);
    expect(v.failures).toEqual(['no signatures']);
    expect(r.images[0]!.configDigest).not.toBe(img.configDesc.digest); // the label is now "[]"
    // an image without signatures is copied unchanged
    const u = await copyImage(await src('a:1'), await dst('a:u'), { removeSignatures: true });
    expect(u.destinationDigest).toBe(img.digest);
  });

  it('copies and signs every image of an index, keeping its structure and annotations', async () => {
    const a = buildImage([Buffer.from('a'), Buffer.from('shared')], 'amd64');
    const b = buildImage([Buffer.from('b'), Buffer.from('shared')], 'arm64');
    const top = await pushIndex('m:1', [a, b]);
    const plain = await copyImage(await src('m:1'), await dst('n:1'));
    expect(plain.kind).toBe('index');
    expect(plain.destinationDigest).toBe(top);
    expect(plain.images.map((i) => i.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(plain.images[1]!.blobsSkipped).toBe(1); // the shared layer, copied with the first image

    const signed = await copyImage(await src('m:1'), await dst('m:signed'), { sign: { signer: alice, kind: 'sign' } });
    expect(signed.kind).toBe('index');
    const s = await src('m:signed');
    const index = (await readManifest(s)) as ImageIndex;
    expect(index.digest).toBe(signed.destinationDigest);
    expect(index.annotations).toEqual({ keep: 'me' });
    expect(index.manifests.map((d) => d.platform?.architecture)).toEqual(['amd64', 'arm64']);
    expect(index.manifests.map((d) => d.digest)).toEqual(signed.images.map((i) => i.manifestDigest));
    const v = await verifyImage(s, trustAll);
    expect(v.ok).toBe(true);
    expect(v.images).toHaveLength(2);

    // one platform only: the result is that image alone
    const one = await copyImage(await src('m:signed'), await dst('m:arm'), { platform: 'linux/arm64' });
    expect(one.kind).toBe('manifest');
    expect(one.destinationDigest).toBe(signed.images[1]!.manifestDigest);
    const vone = await verifyImage(await src('m:arm'), trustAll);
    expect(vone.ok).toBe(true);
  });

  it('keeps buildx attestation entries pointing at their (re-signed) image', async () => {
    const img = buildImage([Buffer.from('app')], 'amd64', MediaTypes.OciManifest);
    const att = buildImage([Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}')], 'unknown', MediaTypes.OciManifest);
    await push('att', img, true);
    await push('att', att, true);
    const attDesc = { ...att.descriptor, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.digest': img.digest, 'vnd.docker.reference.type': 'attestation-manifest' } };
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [img.descriptor, attDesc] }));
    memoryStoreFaults.putRawManifest('att', digestOf(index), index, MediaTypes.OciIndex, '1');
    const r = await copyImage(await src('att:1'), await dst('att:signed'), { sign: { signer: alice, kind: 'sign' } });
    const signed = (await readManifest(await src('att:signed'))) as ImageIndex;
    expect(signed.manifests[0]!.digest).toBe(r.images[0]!.manifestDigest);
    expect(signed.manifests[1]!.annotations).toEqual({ 'vnd.docker.reference.digest': r.images[0]!.manifestDigest, 'vnd.docker.reference.type': 'attestation-manifest' });
    expect((await verifyImage(await src('att:signed'), trustAll)).ok).toBe(true);
  });

  it('refuses a destination that cannot store the manifest type', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    const real = await dst('b:1');
    const picky: ImageDestination = Object.assign(Object.create(Object.getPrototypeOf(real)), real, { supportedManifestMediaTypes: () => [MediaTypes.OciManifest] });
    const err = await copyImage(await src('a:1'), picky).catch((e) => e);
    expect(err.code).toBe('Unsupported');
  });
});

describe('verifyImage', () => {
  it('fails on a tampered config (signature no longer matches) and on broken layers', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    await copyImage(await src('a:1'), await dst('a:s'), { sign: { signer: alice, kind: 'sign' } });
    const s = await src('a:s');
    const m = (await readManifest(s)) as ImageManifest;
    const config = await readConfig(s, m);
    // tamper: change a label, keep the signature, rebuild manifest
    const tampered = Buffer.from(Buffer.from(config.bytes).toString().replace('"app":"x"', '"app":"y"').replace('"app": "x"', '"app": "y"'));
    expect(tampered.equals(Buffer.from(config.bytes))).toBe(false);
    const cdesc = { ...m.config, digest: digestOf(tampered), size: tampered.length };
    const mbytes = Buffer.from(JSON.stringify({ ...m.json, config: cdesc }));
    memoryStoreFaults.putRawBlob('a', cdesc.digest, tampered);
    memoryStoreFaults.putRawManifest('a', digestOf(mbytes), mbytes, m.mediaType, 'tampered');
    const v = await verifyImage(await src('a:tampered'), trustAll);
    expect(v.ok).toBe(false);
    expect(v.images[0]!.integrity.ok).toBe(true);
    expect(v.images[0]!.signatures[0]).toMatchObject({ valid: false, status: 'invalid' });
    expect(v.failures[0]).toMatch(/^signature 0 \(signature\) by key AAAA1111: .*changed after signing/);

    // a wrong signature
    const bad = await verifyImage(await src('a:s'), hmacVerifier({ AAAA1111: 'wrong-secret' }));
    expect(bad.failures).toEqual(['signature 0 (signature) by key AAAA1111: bad signature']);

    // broken layer: integrity failure listed, signatures still reported
    memoryStoreFaults.putRawBlob('a', img.layers[0]!.desc.digest, Buffer.alloc(img.layers[0]!.desc.size));
    const broken = await verifyImage(await src('a:s'), trustAll);
    expect(broken.ok).toBe(false);
    expect(broken.images[0]!.signatures[0]!.valid).toBe(true);
    expect(broken.failures).toHaveLength(1);
    expect(broken.failures[0]).toMatch(/^layer 0 sha256:.*does not match/);
  });

  it('inspect reports who signed what, with optional verification', async () => {
    const img = buildImage([Buffer.from('one')]);
    await push('a:1', img);
    await copyImage(await src('a:1'), await dst('a:s'), { sign: { signer: alice, kind: 'sign' } });
    await copyImage(await src('a:s'), await dst('a:s'), { sign: { signer: bob, kind: 'sign' } });
    const ins = await inspectImage(await src('a:s'), hmacVerifier({ BBBB2222: 'bob-secret' }));
    expect(ins.kind).toBe('manifest');
    expect(ins.images[0]!.platform).toBe('linux/amd64');
    expect(ins.images[0]!.signatures.map((x) => [x.role, x.status, x.keyId])).toEqual([
      ['signature', 'unknown-key', 'AAAA1111'],
      ['signature', 'valid', 'BBBB2222'],
    ]);
    const unsigned = await inspectImage(await src('a:1'));
    expect(unsigned.images[0]!.signatures).toEqual([]);
  });
});
