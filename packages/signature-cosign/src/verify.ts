/**
 * Verifying one cosign attachment: the layer's media type, the payload, the signature with a trusted key,
 * a Fulcio certificate (keyless) or a private-PKI certificate, and a Rekor SET when Rekor keys are given.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { DsvError } from '@dsv/core';
import { CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, type CosignAttachment } from './attachment.js';
import { keyIdOf, verifyBytes } from './crypto.js';
import { parseCosignPayload, type CosignPayload } from './payload.js';
import { checkRekorEntry, parseRekorBundle, verifyRekorSet } from './rekor.js';
import { chainError, fulcioIssuer, readCertificates, subjectAltNames } from './x509.js';

export interface FulcioTrust {
  /** Fulcio root (and intermediate) certificates. */
  caCertificates: X509Certificate[];
  oidcIssuer: string;
  /** Expected email SAN (or URI SAN). */
  subjectEmail: string;
}

export interface PkiTrust {
  roots: X509Certificate[];
  intermediates?: X509Certificate[];
  subjectEmail?: string;
  subjectHostname?: string;
}

export interface CosignTrust {
  /** Public keys: any one may have made the signature. */
  keys?: KeyObject[];
  fulcio?: FulcioTrust;
  pki?: PkiTrust;
  /** Rekor log keys; when given, a valid SET for the signature is required. */
  rekorKeys?: KeyObject[];
  /** Time for certificate checks without a Rekor time (default now). */
  now?: Date;
}

export interface CosignVerification {
  valid: boolean;
  /** unknown-key, bad-signature, malformed, unsupported, untrusted-certificate, wrong-identity, rekor. */
  code?: string;
  reason?: string;
  payload?: CosignPayload;
  keyId?: string;
  signer?: string;
}

function fail(code: string, reason: string, rest: Partial<CosignVerification> = {}): CosignVerification {
  return { valid: false, code, reason, ...rest };
}

/** Verifies one attachment. Never throws for a bad signature; a bad trust configuration throws Usage. */
export function verifyCosignAttachment(att: CosignAttachment, trust: CosignTrust): CosignVerification {
  const modes = [trust.keys && trust.keys.length > 0, !!trust.fulcio, !!trust.pki].filter(Boolean).length;
  if (modes !== 1) throw new DsvError('Usage', 'cosign verification needs exactly one of: public keys, Fulcio, PKI');
  if (trust.fulcio && !trust.rekorKeys?.length) throw new DsvError('Usage', 'keyless (Fulcio) verification needs Rekor public keys');
  if (att.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) return fail('unsupported', `the attachment is ${att.mediaType}, not a cosign signature`);
  // Signatures made with RSA keys carry line-wrapped base64.
  const sigText = att.annotations[SIGNATURE_ANNOTATION]?.replace(/\s+/g, '');
  if (sigText === undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(sigText) || sigText.length === 0) return fail('malformed', `no valid ${SIGNATURE_ANNOTATION} annotation`);
  const signature = Buffer.from(sigText, 'base64');

  let signerKey: KeyObject | undefined;
  let certificate: X509Certificate | undefined;
  let signer: string | undefined;
  let keyId: string | undefined;
  if (trust.keys?.length) {
    signerKey = trust.keys.find((k) => verifyBytes(k, att.payload, signature));
    if (!signerKey) return fail('unknown-key', 'the signature does not verify with any of the trusted keys');
    keyId = keyIdOf(signerKey);
  } else {
    const certPem = att.annotations[CERTIFICATE_ANNOTATION];
    if (!certPem) return fail('malformed', `no ${CERTIFICATE_ANNOTATION} annotation`);
    try {
      certificate = readCertificates(certPem, 'the signing certificate')[0]!;
      if (att.annotations[CHAIN_ANNOTATION]) readCertificates(att.annotations[CHAIN_ANNOTATION], 'the certificate chain');
    } catch (e) {
      return fail('malformed', (e as Error).message);
    }
    if (!verifyBytes(certificate.publicKey, att.payload, signature)) return fail('bad-signature', 'the signature does not verify with the key of its certificate');
    signerKey = certificate.publicKey;
    keyId = keyIdOf(signerKey);
    signer = (certificate.subject ?? '').replace(/\n/g, ', ') || undefined;
  }

  let at = trust.now ?? new Date();
  if (trust.rekorKeys?.length) {
    const text = att.annotations[BUNDLE_ANNOTATION];
    if (!text) return fail('rekor', `Rekor keys are trusted but the signature has no ${BUNDLE_ANNOTATION} annotation`, { keyId });
    try {
      const bundle = parseRekorBundle(text);
      at = verifyRekorSet(bundle, trust.rekorKeys);
      checkRekorEntry(bundle, att.payload, signature, certificate ? { certificate } : { key: signerKey });
    } catch (e) {
      return fail('rekor', (e as Error).message, { keyId });
    }
  }

  if (certificate) {
    const t = trust.fulcio ?? trust.pki!;
    const roots = trust.fulcio ? trust.fulcio.caCertificates : trust.pki!.roots;
    const intermediates = [...(trust.pki?.intermediates ?? []), ...readCertificatesSafe(att.annotations[CHAIN_ANNOTATION])];
    const why = chainError(certificate, intermediates, roots, at);
    if (why) return fail('untrusted-certificate', why, { keyId });
    const san = subjectAltNames(certificate);
    const email = (t as { subjectEmail?: string }).subjectEmail;
    if (email !== undefined && !san.email.includes(email) && !san.uri.includes(email)) {
      return fail('wrong-identity', `the certificate is for ${[...san.email, ...san.uri].join(', ') || 'no email'}, not ${email}`, { keyId });
    }
    if (trust.pki?.subjectHostname !== undefined && !san.dns.includes(trust.pki.subjectHostname)) {
      return fail('wrong-identity', `the certificate names no host ${trust.pki.subjectHostname}`, { keyId });
    }
    if (trust.fulcio) {
      const issuer = fulcioIssuer(certificate);
      if (issuer !== trust.fulcio.oidcIssuer) return fail('wrong-identity', `the certificate's OIDC issuer is ${issuer ?? 'absent'}, not ${trust.fulcio.oidcIssuer}`, { keyId });
    }
    signer = [...san.email, ...san.uri][0] ?? signer;
  }

  let payload: CosignPayload;
  try {
    payload = parseCosignPayload(att.payload);
  } catch (e) {
    return fail('malformed', (e as Error).message, { keyId });
  }
  return { valid: true, payload, keyId, ...(signer ? { signer } : {}) };
}

function readCertificatesSafe(pem: string | undefined): X509Certificate[] {
  return pem ? readCertificates(pem) : [];
}
