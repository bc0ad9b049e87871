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
import { describeWindow, withinWindow, type TrustedAuthority, type TrustedLog } from './trusted-root.js';
import { chainError, matchCertificateIdentity, readCertificates, subjectAltNames } from './x509.js';

/**
 * Keyless trust: the Fulcio CA and the identity the certificate must carry. The subject (any email or URI
 * SAN) and the OIDC issuer are each given exactly, by a whole-value pattern, or both; at least one of each.
 */
export interface FulcioTrust {
  /** Fulcio root (and intermediate) certificates, trusted whenever they are valid. */
  caCertificates: X509Certificate[];
  /** CAs from a trusted root, each trusted only inside its validFor window (at the Rekor integration time). */
  authorities?: TrustedAuthority[];
  oidcIssuer?: string;
  oidcIssuerRegExp?: string;
  /** Expected email or URI SAN (policy.json's subjectEmail, --certificate-identity). */
  subjectEmail?: string;
  subjectRegExp?: string;
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
  /** Rekor logs from a trusted root (key, log id, validFor window); used like rekorKeys. */
  rekorLogs?: TrustedLog[];
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
  /** Keyless: the SAN (email or URI) and the OIDC issuer that matched. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
}

/** Rekor keys and trusted-root logs, as one list for verifyRekorSet. */
export function rekorTrust(trust: CosignTrust): Array<KeyObject | TrustedLog> {
  return [...(trust.rekorKeys ?? []), ...(trust.rekorLogs ?? [])];
}

/** Keyless trust must name the subject and the issuer (exactly or by pattern), as cosign requires. */
export function requireIdentity(f: FulcioTrust): void {
  if (f.subjectEmail === undefined && f.subjectRegExp === undefined) throw new DsvError('Usage', 'keyless verification needs the certificate identity (--certificate-identity or --certificate-identity-regexp)');
  if (f.oidcIssuer === undefined && f.oidcIssuerRegExp === undefined) throw new DsvError('Usage', 'keyless verification needs the OIDC issuer (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp)');
}

/** Why the certificate does not chain to a trusted CA at `at` (undefined: it does). */
function caError(certificate: X509Certificate, intermediates: X509Certificate[], trust: CosignTrust, at: Date): string | undefined {
  if (!trust.fulcio?.authorities) {
    const roots = trust.fulcio ? trust.fulcio.caCertificates : trust.pki!.roots;
    return chainError(certificate, [...(trust.pki?.intermediates ?? []), ...intermediates], roots, at);
  }
  let first: string | undefined;
  let outside: string | undefined;
  for (const ca of trust.fulcio.authorities) {
    const why = chainError(certificate, intermediates, ca.certificates, at);
    if (why) {
      first ??= why;
      continue;
    }
    if (withinWindow(ca.validFor, at)) return undefined;
    outside ??= `the certificate authority ${ca.name} is trusted ${describeWindow(ca.validFor)}, not at ${at.toISOString()}`;
  }
  return outside ?? first ?? 'the trusted root names no certificate authority';
}

/**
 * The certificate checks shared by cosign attachments and Sigstore bundles: chain (at `at`), then the
 * identity — Fulcio's subject and issuer, or PKI's email / hostname.
 */
export function checkSigningCertificate(certificate: X509Certificate, intermediates: X509Certificate[], trust: CosignTrust, at: Date):
  { ok: true; signer?: string; certificateIdentity?: string; certificateOidcIssuer?: string } | { ok: false; code: string; reason: string } {
  const why = caError(certificate, intermediates, trust, at);
  if (why) return { ok: false, code: 'untrusted-certificate', reason: why };
  const san = subjectAltNames(certificate);
  if (trust.fulcio) {
    const f = trust.fulcio;
    const m = matchCertificateIdentity(certificate, {
      ...(f.subjectEmail !== undefined ? { subject: f.subjectEmail } : {}),
      ...(f.subjectRegExp !== undefined ? { subjectRegExp: f.subjectRegExp } : {}),
      ...(f.oidcIssuer !== undefined ? { issuer: f.oidcIssuer } : {}),
      ...(f.oidcIssuerRegExp !== undefined ? { issuerRegExp: f.oidcIssuerRegExp } : {}),
    });
    if ('reason' in m) return { ok: false, code: 'wrong-identity', reason: m.reason };
    return { ok: true, signer: m.subject, certificateIdentity: m.subject, certificateOidcIssuer: m.issuer };
  }
  const pki = trust.pki!;
  if (pki.subjectEmail !== undefined && !san.email.includes(pki.subjectEmail) && !san.uri.includes(pki.subjectEmail)) {
    return { ok: false, code: 'wrong-identity', reason: `the certificate is for ${[...san.email, ...san.uri].join(', ') || 'no email'}, not ${pki.subjectEmail}` };
  }
  if (pki.subjectHostname !== undefined && !san.dns.includes(pki.subjectHostname)) {
    return { ok: false, code: 'wrong-identity', reason: `the certificate names no host ${pki.subjectHostname}` };
  }
  const signer = [...san.email, ...san.uri][0];
  return { ok: true, ...(signer ? { signer } : {}) };
}

function fail(code: string, reason: string, rest: Partial<CosignVerification> = {}): CosignVerification {
  return { valid: false, code, reason, ...rest };
}

/** Verifies one attachment. Never throws for a bad signature; a bad trust configuration throws Usage. */
export function verifyCosignAttachment(att: CosignAttachment, trust: CosignTrust): CosignVerification {
  const modes = [trust.keys && trust.keys.length > 0, !!trust.fulcio, !!trust.pki].filter(Boolean).length;
  if (modes !== 1) throw new DsvError('Usage', 'cosign verification needs exactly one of: public keys, Fulcio, PKI');
  if (trust.fulcio && rekorTrust(trust).length === 0) throw new DsvError('Usage', 'keyless (Fulcio) verification needs Rekor public keys');
  if (trust.fulcio) requireIdentity(trust.fulcio);
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
  let identity: Partial<CosignVerification> = {};
  if (rekorTrust(trust).length) {
    const text = att.annotations[BUNDLE_ANNOTATION];
    if (!text) return fail('rekor', `Rekor keys are trusted but the signature has no ${BUNDLE_ANNOTATION} annotation`, { keyId });
    try {
      const bundle = parseRekorBundle(text);
      at = verifyRekorSet(bundle, rekorTrust(trust));
      checkRekorEntry(bundle, att.payload, signature, certificate ? { certificate } : { key: signerKey });
    } catch (e) {
      return fail('rekor', (e as Error).message, { keyId });
    }
  }

  if (certificate) {
    const checked = checkSigningCertificate(certificate, readCertificatesSafe(att.annotations[CHAIN_ANNOTATION]), trust, at);
    if (!checked.ok) return fail(checked.code, checked.reason, { keyId });
    signer = checked.signer ?? signer;
    if (checked.certificateIdentity !== undefined) identity = { certificateIdentity: checked.certificateIdentity, certificateOidcIssuer: checked.certificateOidcIssuer! };
  }

  let payload: CosignPayload;
  try {
    payload = parseCosignPayload(att.payload);
  } catch (e) {
    return fail('malformed', (e as Error).message, { keyId });
  }
  return { valid: true, payload, keyId, ...(signer ? { signer } : {}), ...identity };
}

function readCertificatesSafe(pem: string | undefined): X509Certificate[] {
  return pem ? readCertificates(pem) : [];
}
