/**
 * X.509 chain building and validation for code-signing certificates (a focused subset of RFC 5280
 * path validation): exact issuer/subject name match plus the issuer's signature on the certificate
 * (X509Certificate.verify), validity at the given time, basicConstraints CA and pathLenConstraint for
 * issuers, keyUsage (digitalSignature for the signer, keyCertSign for CAs), extended key usage
 * codeSigning when present (also on CAs), accepted certificate signature algorithms (no MD5/SHA-1),
 * RSA keys of at least 2048 bits, no unprocessed critical extensions.
 */
import { X509Certificate } from 'node:crypto';
import {
  ACCEPTED_CERT_SIGNATURE_ALGORITHMS,
  KeyUsageBits,
  Oids,
  UNDERSTOOD_EXTENSIONS,
  parseCertificate,
  type CertFields,
} from './der.js';
import { MIN_RSA_BITS } from './algorithms.js';
import { certLabel } from './pem.js';

export interface Cert {
  x509: X509Certificate;
  der: Buffer;
  fields: CertFields;
}

export const MAX_CHAIN_DEPTH = 8;
/** Most certificate-signature checks one chain search may make. */
export const MAX_SIGNATURE_CHECKS = 64;

/** Parses a DER certificate with both node:crypto and @peculiar/asn1-x509 (der.ts); throws on anything malformed. */
export function loadCert(der: Uint8Array): Cert {
  const buf = Buffer.from(der);
  const x509 = new X509Certificate(buf);
  // node:crypto decodes the public key lazily; a broken one must fail here, not where it is first used
  void x509.publicKey;
  return { x509, der: Buffer.from(x509.raw), fields: parseCertificate(x509.raw) };
}

export function sameCert(a: Cert, b: Cert): boolean {
  return a.der.equals(b.der);
}

export function validityProblem(c: Cert, at: Date): string | undefined {
  if (at < c.fields.notBefore) return `certificate ${certLabel(c.x509)} is not valid before ${c.fields.notBefore.toISOString()}`;
  if (at > c.fields.notAfter) return `certificate ${certLabel(c.x509)} expired on ${c.fields.notAfter.toISOString()}`;
  return undefined;
}

function ekuAllowsCodeSigning(c: Cert): boolean {
  const eku = c.fields.extKeyUsage;
  return !eku || eku.includes(Oids.codeSigning) || eku.includes(Oids.anyExtendedKeyUsage);
}

/** Whether this certificate may vouch for a data signature made with its key. */
export function signerUsageProblem(c: Cert): string | undefined {
  const ku = c.fields.keyUsage;
  if (ku && !ku.has(KeyUsageBits.digitalSignature)) {
    return `certificate ${certLabel(c.x509)} does not allow digital signatures (keyUsage)`;
  }
  if (!ekuAllowsCodeSigning(c)) return `certificate ${certLabel(c.x509)} is not for code signing (extendedKeyUsage)`;
  return undefined;
}

function structuralProblem(c: Cert): string | undefined {
  if (!ACCEPTED_CERT_SIGNATURE_ALGORITHMS.has(c.fields.signatureAlgorithm)) {
    return `certificate ${certLabel(c.x509)} is signed with an unaccepted algorithm (${c.fields.signatureAlgorithm})`;
  }
  for (const [oid, ext] of c.fields.extensions) {
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(oid)) {
      return `certificate ${certLabel(c.x509)} has an unsupported critical extension ${oid}`;
    }
  }
  return undefined;
}

function weakKey(c: Cert): string | undefined {
  const k = c.x509.publicKey;
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') {
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) return `certificate ${certLabel(c.x509)} has an RSA key of only ${bits} bits`;
  }
  return undefined;
}

/** Checks a built path [signer, intermediates..., trust anchor]; undefined when it is acceptable. */
export function pathProblem(path: Cert[], at: Date): string | undefined {
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const isAnchor = i === path.length - 1;
    const p =
      validityProblem(c, at) ??
      (isAnchor ? undefined : structuralProblem(c)) ??
      weakKey(c) ??
      (i === 0 ? signerUsageProblem(c) : undefined);
    if (p) return p;
    if (i > 0) {
      const child = certLabel(path[i - 1]!.x509);
      const bc = c.fields.basicConstraints;
      // A trusted X.509 v1 root (no extensions at all) is accepted as a CA, as openssl does.
      const v1Anchor = isAnchor && c.fields.version === 1;
      if (!bc?.ca && !v1Anchor) return `certificate ${certLabel(c.x509)} issued ${child} but is not a CA (basicConstraints)`;
      if (c.fields.keyUsage && !c.fields.keyUsage.has(KeyUsageBits.keyCertSign)) {
        return `certificate ${certLabel(c.x509)} may not sign certificates (keyUsage lacks keyCertSign)`;
      }
      if (bc?.pathLen !== undefined && i - 1 > bc.pathLen) {
        return `certificate ${certLabel(c.x509)} allows ${bc.pathLen} intermediate CA(s) below it, the chain has ${i - 1}`;
      }
      if (!ekuAllowsCodeSigning(c)) return `CA certificate ${certLabel(c.x509)} is not for code signing (extendedKeyUsage)`;
    }
  }
  return undefined;
}

function issuedBy(child: Cert, issuer: Cert): boolean {
  if (!child.fields.issuerDer.equals(issuer.fields.subjectDer)) return false;
  try {
    return child.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

export type ChainOutcome =
  | { kind: 'valid'; path: Cert[] }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unknown'; reason: string };

/**
 * Builds paths from `leaf` through `intermediates` (untrusted, e.g. carried in the signature) to one
 * of `anchors` (trusted certificates; a trusted certificate is an anchor whatever its position) and
 * validates them at `at`. The first acceptable path wins. No path at all -> 'unknown', unless a
 * certificate names a trusted CA as issuer without being signed by it -> 'invalid'.
 */
export function buildAndValidate(leaf: Cert, intermediates: Cert[], anchors: Cert[], at: Date): ChainOutcome {
  const found: Cert[][] = [];
  // Bound the work a hostile set of embedded certificates (same name, same key, many copies) can cause.
  let budget = MAX_SIGNATURE_CHECKS;
  let forgedBy: { child: Cert; anchor: Cert } | undefined;
  const walk = (cur: Cert, path: Cert[]) => {
    if (found.length >= 16) return;
    if (anchors.some((a) => sameCert(a, cur))) {
      found.push(path);
      return;
    }
    for (const a of anchors) {
      if (!cur.fields.issuerDer.equals(a.fields.subjectDer)) continue;
      if (budget-- <= 0) return;
      if (issuedBy(cur, a)) found.push([...path, a]);
      else forgedBy ??= { child: cur, anchor: a };
    }
    if (path.length >= MAX_CHAIN_DEPTH) return;
    for (const i of intermediates) {
      if (path.some((p) => sameCert(p, i))) continue;
      if (!cur.fields.issuerDer.equals(i.fields.subjectDer)) continue;
      if (budget-- <= 0) return;
      if (issuedBy(cur, i)) walk(i, [...path, i]);
    }
  };
  walk(leaf, [leaf]);
  let firstProblem: string | undefined;
  for (const path of found) {
    const p = pathProblem(path, at);
    if (!p) return { kind: 'valid', path };
    firstProblem ??= p;
  }
  if (firstProblem) return { kind: 'invalid', reason: firstProblem };
  if (forgedBy) {
    return {
      kind: 'invalid',
      reason: `certificate ${certLabel(forgedBy.child.x509)} names trusted CA ${certLabel(forgedBy.anchor.x509)} as issuer but was not signed by it`,
    };
  }
  return {
    kind: 'unknown',
    reason: `certificate ${certLabel(leaf.x509)} does not chain to a trusted CA (issuer ${certLabel({ subject: leaf.x509.issuer } as X509Certificate)})`,
  };
}
