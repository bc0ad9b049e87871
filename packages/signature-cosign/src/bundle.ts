/**
 * cosign v3's bundle scheme, the signature side: a Sigstore bundle v0.3 holding a DSSE envelope with an
 * in-toto statement about the image (or a message signature over the manifest), made with a key, and
 * verified with keys, Fulcio or PKI certificates, and Rekor SETs. Parsing/validation uses @sigstore/bundle.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { DsvError, parseDigest } from '@dsv/core';
import { keyIdOf, signBytes, verifyBytes } from './crypto.js';
import { checkRekorEntry, parseRekorBundle, rekorEntryKind, verifyRekorSet, type RekorBundle, type RekorSigned } from './rekor.js';
import { sigstoreBundleLib } from './lazy.js';
import { checkSigningCertificate, rekorTrust, type CosignTrust, type CosignVerification } from './verify.js';

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** The predicate type cosign v3 uses for an image signature. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** DSSE's pre-authentication encoding: what the envelope's signatures sign. */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  const t = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), Buffer.from(payload)]);
}

/** The key hint cosign writes for a public key: base64 of the SHA-256 of its SubjectPublicKeyInfo. */
export function publicKeyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('base64');
}

/** A bundle (serialised JSON bytes) signing `manifestDigest` for `repository` with a key: DSSE + in-toto statement. */
export function createImageBundle(opts: { repository: string; manifestDigest: string; privateKey: KeyObject; predicate?: Record<string, unknown> }): Uint8Array {
  const d = parseDigest(opts.manifestDigest);
  const statement = {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: opts.repository, digest: { [d.algorithm]: d.hex } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: opts.predicate ?? {},
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = signBytes(opts.privateKey, dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  const pub = createPublicKey(opts.privateKey);
  return Buffer.from(JSON.stringify({
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: publicKeyHint(pub) }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: Buffer.from(sig).toString('base64'), keyid: '' }] },
  }));
}

/** Parses and validates bundle bytes (any v0.1–v0.3 media type @sigstore/bundle accepts). */
export function parseBundle(bytes: Uint8Array): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new DsvError('SignatureInvalid', 'Sigstore bundle: not JSON');
  }
  try {
    const lib = sigstoreBundleLib();
    const b = lib.bundleFromJSON(json);
    const assertBundle: typeof lib.assertBundle = lib.assertBundle;
    assertBundle(b);
    return b;
  } catch (e) {
    throw new DsvError('SignatureInvalid', `Sigstore bundle: ${(e as Error).message}`);
  }
}

function fail(code: string, reason: string, rest: Partial<CosignVerification> = {}): CosignVerification {
  return { valid: false, code, reason, ...rest };
}

/**
 * The bundle's Rekor entry as the legacy SET shape (canonical body, time, index, log id in hex): the body is the
 * entry's canonicalizedBody, so the SET verified over it covers exactly the body checked against the signature.
 * The entry's kindVersion must name the body's kind and version.
 */
function rekorEntryOf(b: Bundle): RekorBundle | undefined {
  const e = b.verificationMaterial.tlogEntries[0];
  if (!e?.inclusionPromise) return undefined;
  const entry = parseRekorBundle(JSON.stringify({
    SignedEntryTimestamp: Buffer.from(e.inclusionPromise.signedEntryTimestamp).toString('base64'),
    Payload: { body: Buffer.from(e.canonicalizedBody).toString('base64'), integratedTime: Number(e.integratedTime), logIndex: Number(e.logIndex), logID: Buffer.from(e.logId.keyId).toString('hex') },
  }));
  const { kind, version } = rekorEntryKind(entry);
  if (e.kindVersion && (e.kindVersion.kind !== kind || e.kindVersion.version !== version)) {
    throw new DsvError('SignatureInvalid', `Rekor bundle: the entry says it is ${e.kindVersion.kind} ${e.kindVersion.version} but its body is ${kind} ${version}`);
  }
  return entry;
}

export interface BundleVerification extends CosignVerification {
  /** The repository the in-toto statement names (DSSE bundles). */
  subjectName?: string;
  /** The manifest digest the bundle signs. */
  manifestDigest?: string;
}

/**
 * Verifies a bundle for an image. DSSE: the statement must name the image's digest among its subjects.
 * Message signature: a signature over the manifest's bytes (as `cosign sign-blob` of the manifest), so the
 * caller must give those bytes. Never throws for a bad bundle.
 */
export function verifyImageBundle(bytes: Uint8Array, image: { manifestDigest: string; manifestBytes?: Uint8Array }, trust: CosignTrust): BundleVerification {
  const { manifestDigest } = image;
  let b: Bundle;
  try {
    b = parseBundle(bytes);
  } catch (e) {
    return fail('malformed', (e as Error).message);
  }
  const d = parseDigest(manifestDigest);
  let signed: Uint8Array;
  let signature: Uint8Array;
  let recorded: RekorSigned;
  let subjectName: string | undefined;
  if (b.content.$case === 'dsseEnvelope') {
    const env = b.content.dsseEnvelope;
    if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return fail('unsupported', `the DSSE payload type is ${env.payloadType}, not an in-toto statement`);
    if (env.signatures.length !== 1) return fail('malformed', `the DSSE envelope has ${env.signatures.length} signatures, not one`);
    signed = dssePae(env.payloadType, env.payload);
    signature = env.signatures[0]!.sig;
    recorded = { dssePayload: env.payload };
    let st: { _type?: unknown; subject?: Array<{ name?: unknown; digest?: Record<string, unknown> }> };
    try {
      st = JSON.parse(Buffer.from(env.payload).toString('utf8'));
    } catch {
      return fail('malformed', 'the in-toto statement is not JSON');
    }
    if (typeof st._type !== 'string' || !st._type.startsWith('https://in-toto.io/Statement/')) return fail('malformed', 'the DSSE payload is not an in-toto statement');
    const subject = (Array.isArray(st.subject) ? st.subject : []).find((s) => s?.digest?.[d.algorithm] === d.hex);
    if (!subject) return fail('digest-mismatch', `the statement is about another image (no subject with digest ${manifestDigest})`);
    if (typeof subject.name === 'string') subjectName = subject.name;
  } else {
    const m = b.content.messageSignature;
    if (m.messageDigest?.algorithm !== 1 /* SHA2_256 */ || d.algorithm !== 'sha256' || Buffer.from(m.messageDigest.digest).toString('hex') !== d.hex) {
      return fail('digest-mismatch', `the message signature is over another digest than ${manifestDigest}`);
    }
    if (!image.manifestBytes) return fail('unsupported', 'a message-signature bundle needs the manifest bytes to verify');
    signature = m.signature;
    signed = image.manifestBytes;
    recorded = { sha256: d.hex };
  }

  const vm = b.verificationMaterial.content;
  const check = (key: KeyObject): boolean => verifyBytes(key, signed, signature);
  let keyId: string | undefined;
  let certificate: X509Certificate | undefined;
  let signer: string | undefined;
  let signerKey: KeyObject | undefined;
  if (trust.keys?.length) {
    signerKey = trust.keys.find(check);
    if (!signerKey) return fail('unknown-key', 'the bundle\'s signature does not verify with any of the trusted keys');
    keyId = keyIdOf(signerKey);
  } else {
    const raw = vm.$case === 'certificate' ? vm.certificate.rawBytes : vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates[0]?.rawBytes : undefined;
    if (!raw) return fail('malformed', 'the bundle carries no certificate');
    try {
      certificate = new X509Certificate(Buffer.from(raw));
    } catch {
      return fail('malformed', 'the bundle\'s certificate cannot be parsed');
    }
    if (!check(certificate.publicKey)) return fail('bad-signature', 'the signature does not verify with the key of its certificate');
    keyId = keyIdOf(certificate.publicKey);
  }
  let at = trust.now ?? new Date();
  if (rekorTrust(trust).length) {
    try {
      const entry = rekorEntryOf(b);
      if (!entry) return fail('rekor', 'Rekor keys are trusted but the bundle has no entry with an inclusion promise', { keyId });
      at = verifyRekorSet(entry, rekorTrust(trust));
      checkRekorEntry(entry, recorded, signature, certificate ? { certificate } : { key: signerKey! });
    } catch (e) {
      return fail('rekor', (e as Error).message, { keyId });
    }
  }
  let identity: { certificateIdentity?: string; certificateOidcIssuer?: string } = {};
  if (certificate) {
    const chain = vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates.slice(1).map((c) => new X509Certificate(Buffer.from(c.rawBytes))) : [];
    const checked = checkSigningCertificate(certificate, chain, trust, at);
    if (!checked.ok) return fail(checked.code, checked.reason, { keyId });
    signer = checked.signer;
    if (checked.certificateIdentity !== undefined) identity = { certificateIdentity: checked.certificateIdentity, certificateOidcIssuer: checked.certificateOidcIssuer! };
  }
  return { valid: true, keyId, manifestDigest, ...(subjectName ? { subjectName } : {}), ...(signer ? { signer } : {}), ...identity };
}
