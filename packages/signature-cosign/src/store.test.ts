// The tag scheme end to end over the memory transport: the .sig manifest as cosign lays it out, signing, reading, and hostile attachments.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '@dsv/core';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from '@dsv/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attachmentManifest, layerOf, parseAttachmentManifest, parseSerialisedAttachment, serialiseAttachment, signatureTag,
  MAX_ATTACHMENT_LAYERS, MAX_LAYER_BYTES, SIMPLE_SIGNING_MEDIA_TYPE,
} from './attachment.js';
import { signBytes } from './crypto.js';
import { cosignFormat, tagSchemeSource } from './format.js';
import { readPublicKeys } from './keys.js';
import { createCosignSignature, signImage } from './sign.js';
import { addCosignSignatures, readCosignSignatures, tagStoreFor } from './store.js';
import { verifyCosignAttachment } from './verify.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');
const fixtureAttachment = parseSerialisedAttachment(readFileSync(join(FIX, 'dir-img-cosign-valid/signature-1')));
const IMAGE_DIGEST = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00';

afterEach(() => clearMemoryStore());

describe('the .sig manifest', () => {
  it('is laid out as cosign lays it out, field by field, for the fixture layer', () => {
    const layer = layerOf(fixtureAttachment);
    const { manifest, config } = attachmentManifest([layer]);
    const m = JSON.parse(Buffer.from(manifest).toString());
    expect(Object.keys(m)).toEqual(['schemaVersion', 'mediaType', 'config', 'layers']);
    expect(m.schemaVersion).toBe(2);
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(m.config).toEqual({ mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: digestOf(config) });
    expect(m.layers).toEqual([{
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      size: fixtureAttachment.payload.length,
      digest: digestOf(fixtureAttachment.payload),
      annotations: { 'dev.cosignproject.cosign/signature': 'MEYCIQDmtamqYPjMg81nqeBhptrPls44aA/r7PwLmspINJY4MwIhANKRpqe2E9UCBtGFdPoz/8jAbaQm4uP4h+IpwKTE6ClR' },
    }]);
    expect(JSON.parse(Buffer.from(config).toString())).toEqual({
      architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '',
      rootfs: { type: 'layers', diff_ids: [digestOf(fixtureAttachment.payload)] }, config: {},
    });
    expect(signatureTag(IMAGE_DIGEST)).toBe('sha256-634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00.sig');
    // containers/image's serialisation of the layer round-trips byte for byte.
    expect(Buffer.from(serialiseAttachment(fixtureAttachment)).equals(readFileSync(join(FIX, 'dir-img-cosign-valid/signature-1')))).toBe(true);
  });
});

describe('tag scheme over a transport', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ref = memoryTransport.parseReference('example/app:1');
  const store = tagStoreFor(ref);

  it('no .sig tag: no signatures', async () => {
    expect(await readCosignSignatures(store, IMAGE_DIGEST)).toEqual([]);
  });

  it('the fixture layer stored in a .sig tag reads back and verifies with cosign.pub', async () => {
    await addCosignSignatures(store, IMAGE_DIGEST, [fixtureAttachment]);
    const [a] = await readCosignSignatures(store, IMAGE_DIGEST);
    expect(Buffer.from(a!.payload).equals(Buffer.from(fixtureAttachment.payload))).toBe(true);
    expect(verifyCosignAttachment(a!, { keys: readPublicKeys(readFileSync(join(FIX, 'cosign.pub'))) }).valid).toBe(true);
  });

  it('signing appends a layer; the same signature is not added twice; the policy format accepts it', async () => {
    const manifestBytes = Buffer.from('{"schemaVersion":2}');
    const manifestDigest = digestOf(manifestBytes);
    const first = await signImage(store, { dockerReference: 'example/app:1', manifestDigest, privateKey });
    expect(first).toMatch(/^sha256:/);
    await addCosignSignatures(store, manifestDigest, [fixtureAttachment]);
    const list = await readCosignSignatures(store, manifestDigest);
    expect(list.map((a) => a.mediaType)).toEqual([SIMPLE_SIGNING_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE]);
    expect(await addCosignSignatures(store, manifestDigest, [list[0]!])).toBeUndefined();
    const format = cosignFormat({ source: tagSchemeSource(() => store) });
    const image = { dockerReference: 'example/app:1', manifestDigest, manifestBytes };
    const cands = await format.listSignatures(image);
    const pem = publicKey.export({ format: 'pem', type: 'spki' });
    const fact = await format.verifySignature(cands[0]!, [{ kind: 'key', origin: 'k', bytes: Buffer.from(pem) }], image, { requirement: { type: 'sigstoreSigned' }, readKeyFile: async () => new Uint8Array() });
    expect(fact).toMatchObject({ valid: true, identity: 'example/app:1', manifestDigest });
  });
});

describe('hostile attachments', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const manifestDigest = digestOf('image');
  const REPO = 'hostile/app';
  const store = tagStoreFor(memoryTransport.parseReference(`${REPO}:1`));
  const putSig = (manifest: object | Uint8Array) => {
    const bytes = manifest instanceof Uint8Array ? manifest : Buffer.from(JSON.stringify(manifest));
    memoryStoreFaults.putRawManifest(REPO, digestOf(bytes), bytes, 'application/vnd.oci.image.manifest.v1+json', signatureTag(manifestDigest));
  };
  const layer = { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: 10, digest: digestOf('0123456789') };

  it('thousands of layers: LimitExceeded before any blob is read', async () => {
    putSig({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: layer, layers: Array(MAX_ATTACHMENT_LAYERS + 1).fill(layer) });
    await expect(readCosignSignatures(store, manifestDigest)).rejects.toMatchObject({ code: 'LimitExceeded', message: expect.stringMatching(/1001 layers/) });
  });

  it('a layer declared larger than 4 MiB: LimitExceeded', async () => {
    putSig({ schemaVersion: 2, config: layer, layers: [{ ...layer, size: MAX_LAYER_BYTES + 1 }] });
    await expect(readCosignSignatures(store, manifestDigest)).rejects.toMatchObject({ code: 'LimitExceeded' });
  });

  it('a blob longer than its descriptor, or with other bytes: SizeMismatch / DigestMismatch', async () => {
    memoryStoreFaults.putRawBlob(REPO, layer.digest, Buffer.alloc(5000));
    putSig({ schemaVersion: 2, config: layer, layers: [layer] });
    await expect(readCosignSignatures(store, manifestDigest)).rejects.toMatchObject({ code: 'SizeMismatch' });
    memoryStoreFaults.putRawBlob(REPO, layer.digest, Buffer.from('9876543210'));
    await expect(readCosignSignatures(store, manifestDigest)).rejects.toMatchObject({ code: 'DigestMismatch' });
  });

  it('a manifest that is not an image manifest (an index pointing anywhere): ManifestInvalid', () => {
    expect(() => parseAttachmentManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })))).toThrow(expect.objectContaining({ code: 'ManifestInvalid' }));
    expect(() => parseAttachmentManifest(Buffer.from('not json'))).toThrow(expect.objectContaining({ code: 'ManifestInvalid' }));
    expect(() => parseAttachmentManifest(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20))).toThrow(expect.objectContaining({ code: 'LimitExceeded' }));
  });

  it('a payload for another image digest is not accepted (digest-mismatch)', async () => {
    const att = createCosignSignature({ dockerReference: 'example/app:1', manifestDigest: digestOf('another image'), privateKey });
    const format = cosignFormat({ source: async () => [att] });
    const image = { dockerReference: 'example/app:1', manifestDigest, manifestBytes: Buffer.from('image') };
    const [c] = await format.listSignatures(image);
    const keys = [{ kind: 'key', origin: 'k', bytes: Buffer.from(publicKey.export({ format: 'pem', type: 'spki' })) }];
    expect(await format.verifySignature(c!, keys, image, { requirement: { type: 'sigstoreSigned' }, readKeyFile: async () => new Uint8Array() }))
      .toMatchObject({ valid: false, code: 'digest-mismatch' });
  });

  it('a signature over a different payload is rejected', () => {
    const att = createCosignSignature({ dockerReference: 'example/app:1', manifestDigest, privateKey });
    const swapped = { ...att, payload: Buffer.from(Buffer.from(att.payload).toString().replace('example/app:1', 'example/app:2')) };
    expect(verifyCosignAttachment(swapped, { keys: [publicKey] })).toMatchObject({ valid: false, code: 'unknown-key' });
  });

  it('a payload that is not a cosign payload is rejected even when correctly signed', () => {
    const payload = Buffer.from('{"critical":{"identity":{"docker-reference":"a/b"},"image":{"docker-manifest-digest":"sha256:00"},"type":"atomic container signature"},"optional":null}');
    const att = { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, payload, annotations: { 'dev.cosignproject.cosign/signature': Buffer.from(signBytes(privateKey, payload)).toString('base64') } };
    expect(verifyCosignAttachment(att, { keys: [publicKey] })).toMatchObject({ valid: false, code: 'malformed' });
  });
});
