// cosign v3's bundle scheme: bundles we make verify with @sigstore/verify (the sigstore project's verifier)
// and ours; referrers through the tag schema over a transport; hostile referrers.
import { generateKeyPairSync } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { digestOf } from '@dsv/core';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from '@dsv/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createImageBundle, publicKeyHint, verifyImageBundle } from './bundle.js';
import { cosignFormat, referrersTagSource } from './format.js';
import { addBundleReferrer, bundleReferrerManifest, readBundleReferrers, referrersTag, OCI_INDEX } from './referrers.js';
import { tagStoreFor } from './store.js';

afterEach(() => clearMemoryStore());

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const image = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const manifestDigest = digestOf(image);
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: image.length };

function sigstoreVerify(bundleBytes: Uint8Array, key = publicKey, answer = key) {
  const trustedRoot = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
  const material = toTrustMaterial(trustedRoot as never, (hint: string) => {
    if (hint !== publicKeyHint(key)) throw new Error(`unknown key hint ${hint}`);
    return { publicKey: answer, validFor: () => true };
  });
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  return verifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(Buffer.from(bundleBytes).toString()))));
}

describe('Sigstore bundles for images', () => {
  it('a DSSE bundle we make verifies with @sigstore/verify and with ours', () => {
    const b = createImageBundle({ repository: 'example.com/app', manifestDigest, privateKey });
    expect(() => sigstoreVerify(b)).not.toThrow();
    expect(() => sigstoreVerify(b, other.publicKey)).toThrow(/unknown key hint/);
    expect(() => sigstoreVerify(b, publicKey, other.publicKey)).toThrow(/signature/i);
    expect(verifyImageBundle(b, { manifestDigest }, { keys: [publicKey] })).toMatchObject({ valid: true, subjectName: 'example.com/app', manifestDigest });
    expect(verifyImageBundle(b, { manifestDigest }, { keys: [other.publicKey] })).toMatchObject({ valid: false, code: 'unknown-key' });
  });

  it('a bundle about another image, a tampered statement, or junk is rejected', () => {
    const b = createImageBundle({ repository: 'example.com/app', manifestDigest: digestOf('another'), privateKey });
    expect(verifyImageBundle(b, { manifestDigest }, { keys: [publicKey] })).toMatchObject({ valid: false, code: 'digest-mismatch' });
    const good = JSON.parse(Buffer.from(createImageBundle({ repository: 'example.com/app', manifestDigest, privateKey })).toString());
    const st = JSON.parse(Buffer.from(good.dsseEnvelope.payload, 'base64').toString());
    st.subject.push({ name: 'evil', digest: { sha256: 'f'.repeat(64) } });
    good.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    expect(verifyImageBundle(Buffer.from(JSON.stringify(good)), { manifestDigest }, { keys: [publicKey] })).toMatchObject({ valid: false, code: 'unknown-key' });
    expect(verifyImageBundle(Buffer.from('{"mediaType":"nope"}'), { manifestDigest }, { keys: [publicKey] })).toMatchObject({ valid: false, code: 'malformed' });
  });

  it('the referrer manifest has cosign v3\'s shape', () => {
    const b = createImageBundle({ repository: 'example.com/app', manifestDigest, privateKey });
    const m = JSON.parse(Buffer.from(bundleReferrerManifest(subject, b, { created: new Date('2026-01-02T03:04:05Z') })).toString());
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 },
      layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: digestOf(b), size: b.length }],
      subject,
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
        'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      },
    });
  });
});

describe('referrers tag schema over a transport', () => {
  const REPO = 'bundles/app';
  const store = tagStoreFor(memoryTransport.parseReference(`${REPO}:1`));

  it('write, read back, and accept under the policy format; a second referrer is appended', async () => {
    const b1 = createImageBundle({ repository: `${REPO}`, manifestDigest, privateKey });
    const b2 = createImageBundle({ repository: `${REPO}`, manifestDigest, privateKey: other.privateKey });
    await addBundleReferrer(store, subject, b1);
    await addBundleReferrer(store, subject, b2);
    const list = await readBundleReferrers(store, manifestDigest);
    expect(list.map((r) => Buffer.from(r.bundle).toString())).toEqual([Buffer.from(b1).toString(), Buffer.from(b2).toString()]);
    const format = cosignFormat({ source: async () => [], bundles: referrersTagSource(() => store) });
    const img = { dockerReference: `${REPO}:1`, manifestDigest, manifestBytes: image };
    const cands = await format.listSignatures(img);
    const keys = [{ kind: 'key', origin: 'k', bytes: Buffer.from(publicKey.export({ format: 'pem', type: 'spki' })) }];
    const ctx = { requirement: { type: 'sigstoreSigned' }, readKeyFile: async () => new Uint8Array() };
    expect(await format.verifySignature(cands[0]!, keys, img, ctx)).toMatchObject({ valid: true, identity: REPO, manifestDigest });
    expect(await format.verifySignature(cands[1]!, keys, img, ctx)).toMatchObject({ valid: false, code: 'unknown-key' });
  });

  const putIndex = (manifests: object[]) => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    memoryStoreFaults.putRawManifest(REPO, digestOf(bytes), bytes, OCI_INDEX, referrersTag(manifestDigest));
    return digestOf(bytes);
  };

  it('a referrer whose subject is another image: SignatureInvalid, nothing accepted', async () => {
    const b = createImageBundle({ repository: REPO, manifestDigest, privateKey });
    const m = bundleReferrerManifest({ ...subject, digest: digestOf('other image') }, b);
    memoryStoreFaults.putRawManifest(REPO, digestOf(m), m, 'application/vnd.oci.image.manifest.v1+json');
    putIndex([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(m), size: m.length, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]);
    await expect(readBundleReferrers(store, manifestDigest)).rejects.toMatchObject({ code: 'SignatureInvalid', message: expect.stringMatching(/subject/) });
  });

  it('referrers pointing at the image or at the index itself, and thousands of referrers, are refused', async () => {
    putIndex([{ mediaType: OCI_INDEX, digest: manifestDigest, size: 1 }]);
    await expect(readBundleReferrers(store, manifestDigest)).rejects.toMatchObject({ code: 'ManifestInvalid', message: expect.stringMatching(/image itself/) });
    // An index cannot name its own digest by construction; a referrers API answer can name the image's tag index.
    const entries = Array.from({ length: 1001 }, (_, i) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(String(i)), size: 1 }));
    putIndex(entries);
    await expect(readBundleReferrers(store, manifestDigest)).rejects.toMatchObject({ code: 'LimitExceeded' });
  });

  it('a referrer manifest with other bytes than its digest: DigestMismatch', async () => {
    const b = createImageBundle({ repository: REPO, manifestDigest, privateKey });
    const m = bundleReferrerManifest(subject, b);
    const fake = digestOf('not these bytes');
    memoryStoreFaults.putRawManifest(REPO, fake, m, 'application/vnd.oci.image.manifest.v1+json');
    putIndex([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake, size: m.length, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }]);
    await expect(readBundleReferrers(store, manifestDigest)).rejects.toMatchObject({ code: 'DigestMismatch' });
  });
});
