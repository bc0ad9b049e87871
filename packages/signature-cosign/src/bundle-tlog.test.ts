// Rekor entries in Sigstore bundles: the entry's body (hashedrekord, dsse, intoto) must record this bundle's
// signature, signed content and key or certificate; a valid SET over another entry is not enough.
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '@dsv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_V03_MEDIA_TYPE, createImageBundle, verifyImageBundle } from './bundle.js';
import { signBytes } from './crypto.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rekor = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const image = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const manifestDigest = digestOf(image);
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'spki' }) as string;
// A minute from now: inside the validity of the certificates made below.
const integratedTime = Math.floor(Date.now() / 1000) + 60;
const trust = (extra: object = {}) => ({ keys: [publicKey], rekorKeys: [rekor.publicKey], ...extra });

type Json = Record<string, any>;

/** A Rekor body of `kind` recording the bundle's envelope (or message) signature with `material` (PEM). */
function bodyFor(bundle: Json, kind: 'dsse' | 'intoto' | 'hashedrekord', material: string, over: { payloadHash?: string; sig?: string } = {}): Json {
  if (kind === 'hashedrekord') {
    const m = bundle.messageSignature;
    return {
      apiVersion: '0.0.1', kind,
      spec: { data: { hash: { algorithm: 'sha256', value: over.payloadHash ?? Buffer.from(m.messageDigest.digest, 'base64').toString('hex') } }, signature: { content: over.sig ?? m.signature, publicKey: { content: b64(material) } } },
    };
  }
  const env = bundle.dsseEnvelope;
  const payloadHash = { algorithm: 'sha256', value: over.payloadHash ?? sha256(Buffer.from(env.payload, 'base64')) };
  const sig = over.sig ?? env.signatures[0].sig;
  if (kind === 'dsse') {
    return { apiVersion: '0.0.1', kind, spec: { envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(JSON.stringify(env))) }, payloadHash, signatures: [{ signature: sig, verifier: b64(material) }] } };
  }
  return {
    apiVersion: '0.0.2', kind,
    spec: { content: { envelope: { payloadType: env.payloadType, signatures: [{ sig: b64(sig), publicKey: b64(material) }] }, hash: { algorithm: 'sha256', value: sha256(Buffer.from(JSON.stringify(env))) }, payloadHash } },
  };
}

/** The bundle with one tlog entry for `body`, its SET made with the local Rekor key (as Rekor signs it). */
function withEntry(bundle: Json, body: Json, kindVersion = { kind: body.kind, version: body.apiVersion }): Uint8Array {
  const logID = createHash('sha256').update(rekor.publicKey.export({ format: 'der', type: 'spki' })).digest();
  const canonical = b64(JSON.stringify(body));
  const set = sign('sha256', Buffer.from(JSON.stringify({ body: canonical, integratedTime, logID: logID.toString('hex'), logIndex: 42 })), rekor.privateKey);
  const entry = { logIndex: '42', logId: { keyId: b64(logID) }, kindVersion, integratedTime: String(integratedTime), inclusionPromise: { signedEntryTimestamp: b64(set) },
    // v0.3 bundles must carry an inclusion proof; dsv checks the SET only, so this one is a placeholder.
    inclusionProof: { logIndex: '42', rootHash: b64(Buffer.alloc(32)), treeSize: '43', hashes: [], checkpoint: { envelope: 'placeholder' } }, canonicalizedBody: canonical };
  return Buffer.from(JSON.stringify({ ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [entry] } }));
}

const dsseBundle = (digest = manifestDigest, key = privateKey): Json => JSON.parse(Buffer.from(createImageBundle({ repository: 'example.com/app', manifestDigest: digest, privateKey: key })).toString());

/** A message-signature bundle over the manifest bytes (as `cosign sign-blob` of the manifest). */
function messageBundle(material: Json = { publicKey: { hint: '' } }): Json {
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { ...material, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: b64(Buffer.from(manifestDigest.slice(7), 'hex')) }, signature: b64(signBytes(privateKey, image)) },
  };
}

describe('a bundle\'s Rekor entry must record this signature', () => {
  it('the happy paths: dsse 0.0.1 and intoto 0.0.2 entries for the envelope, hashedrekord for a message signature', () => {
    const b = dsseBundle();
    for (const kind of ['dsse', 'intoto'] as const) {
      expect(verifyImageBundle(withEntry(b, bodyFor(b, kind, pem(publicKey))), { manifestDigest }, trust())).toMatchObject({ valid: true, manifestDigest });
    }
    const m = messageBundle();
    expect(verifyImageBundle(withEntry(m, bodyFor(m, 'hashedrekord', pem(publicKey))), { manifestDigest, manifestBytes: image }, trust())).toMatchObject({ valid: true });
  });

  it('a valid SET for another signature\'s entry (replayed from another bundle) is refused', () => {
    const mine = dsseBundle();
    const theirs = dsseBundle(digestOf('another image'));
    const replayed = withEntry(mine, bodyFor(theirs, 'dsse', pem(publicKey)));
    expect(verifyImageBundle(replayed, { manifestDigest }, trust())).toMatchObject({ valid: false, code: 'rekor', reason: expect.stringMatching(/^Rekor bundle: the entry records another DSSE payload hash$/) });
    // Same payload, another signature (e.g. a re-signing): the signature must be this one.
    const resigned = dsseBundle();
    expect(resigned.dsseEnvelope.signatures[0].sig).not.toBe(mine.dsseEnvelope.signatures[0].sig);
    expect(verifyImageBundle(withEntry(mine, bodyFor(resigned, 'intoto', pem(publicKey))), { manifestDigest }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another signature' });
  });

  it('an entry with another artifact digest is refused', () => {
    const m = messageBundle();
    const wrong = withEntry(m, bodyFor(m, 'hashedrekord', pem(publicKey), { payloadHash: sha256(Buffer.from('other manifest')) }));
    expect(verifyImageBundle(wrong, { manifestDigest, manifestBytes: image }, trust())).toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another payload hash' });
    const b = dsseBundle();
    expect(verifyImageBundle(withEntry(b, bodyFor(b, 'intoto', pem(publicKey), { payloadHash: 'f'.repeat(64) })), { manifestDigest }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another DSSE payload hash' });
  });

  it('an entry recording another key is refused', () => {
    const b = dsseBundle();
    for (const kind of ['dsse', 'intoto'] as const) {
      expect(verifyImageBundle(withEntry(b, bodyFor(b, kind, pem(other.publicKey))), { manifestDigest }, trust()))
        .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another public key' });
    }
    const m = messageBundle();
    expect(verifyImageBundle(withEntry(m, bodyFor(m, 'hashedrekord', 'no key here')), { manifestDigest, manifestBytes: image }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records no public key or certificate' });
  });

  it('unknown kinds, a kind that cannot record the content, and a kindVersion other than the body\'s are refused', () => {
    const b = dsseBundle();
    const rekord = { apiVersion: '0.0.1', kind: 'rekord', spec: {} };
    expect(verifyImageBundle(withEntry(b, rekord), { manifestDigest }, trust())).toMatchObject({ valid: false, code: 'rekor', reason: expect.stringMatching(/^Rekor bundle: unsupported entry kind "rekord" "0.0.1"/) });
    expect(verifyImageBundle(withEntry(b, { ...bodyFor(b, 'dsse', pem(publicKey)), apiVersion: '0.0.2' }), { manifestDigest }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: expect.stringMatching(/unsupported entry kind "dsse" "0.0.2"/) });
    const m = messageBundle();
    const dsseForMessage = { apiVersion: '0.0.1', kind: 'dsse', spec: { payloadHash: { algorithm: 'sha256', value: sha256(image) }, signatures: [{ signature: m.messageSignature.signature, verifier: b64(pem(publicKey)) }] } };
    expect(verifyImageBundle(withEntry(m, dsseForMessage), { manifestDigest, manifestBytes: image }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: expect.stringMatching(/unsupported entry kind "dsse" "0.0.1" for a signature over an artifact/) });
    expect(verifyImageBundle(withEntry(b, bodyFor(b, 'dsse', pem(publicKey)), { kind: 'intoto', version: '0.0.2' }), { manifestDigest }, trust()))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry says it is intoto 0.0.2 but its body is dsse 0.0.1' });
    const notJson = withEntry(b, {});
    const doc = JSON.parse(Buffer.from(notJson).toString());
    doc.verificationMaterial.tlogEntries[0].canonicalizedBody = b64('not json');
    expect(verifyImageBundle(Buffer.from(JSON.stringify(doc)), { manifestDigest }, trust())).toMatchObject({ valid: false, code: 'rekor' });
  });
});

describe('a certificate bundle\'s Rekor entry must record its certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv-bundle-tlog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=test CA', '-days', '2', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  const leaf = (name: string) => {
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=email:${name}@example.com\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(name.length), '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
  };
  leaf('signer');
  leaf('another');
  const cert = readFileSync(join(dir, 'signer.pem'), 'utf8');
  const key = createPrivateKey(readFileSync(join(dir, 'signer.key')));
  const pki = { pki: { roots: [new X509Certificate(readFileSync(join(dir, 'ca.pem')))], subjectEmail: 'signer@example.com' }, rekorKeys: [rekor.publicKey] };

  function certBundle(): Json {
    const b = dsseBundle(manifestDigest, key);
    b.verificationMaterial = { certificate: { rawBytes: b64(new X509Certificate(cert).raw) }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } };
    return b;
  }

  it('the entry recording the certificate is accepted; one recording another certificate, or only the key, is not', () => {
    const b = certBundle();
    expect(verifyImageBundle(withEntry(b, bodyFor(b, 'dsse', cert)), { manifestDigest }, pki)).toMatchObject({ valid: true, signer: 'signer@example.com' });
    expect(verifyImageBundle(withEntry(b, bodyFor(b, 'dsse', readFileSync(join(dir, 'another.pem'), 'utf8'))), { manifestDigest }, pki))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another certificate' });
    expect(verifyImageBundle(withEntry(b, bodyFor(b, 'intoto', pem(createPublicKey(key)))), { manifestDigest }, pki))
      .toMatchObject({ valid: false, code: 'rekor', reason: 'Rekor bundle: the entry records another certificate' });
  });
});
