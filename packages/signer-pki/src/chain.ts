/**
 * X.509 chains for code-signing certificates. Path building is dsv's (bounded: MAX_CHAIN_DEPTH,
 * MAX_SIGNATURE_CHECKS; exact issuer/subject name match plus the issuer's signature on the certificate with
 * node:crypto's X509Certificate.verify). RFC 5280 path validation of each built path is pkijs's
 * CertificateChainValidationEngine (validity, name chaining, basicConstraints / keyUsage keyCertSign of
 * issuers, policies, name constraints). On top, dsv's code-signing rules: pathLenConstraint, keyUsage
 * digitalSignature and extendedKeyUsage codeSigning, accepted certificate signature algorithms (no
 * MD5/SHA-1), RSA keys of at least 2048 bits, no unprocessed critical extensions.
 */
import { X509Certificate } from 'node:crypto';
import type * as pkijs from 'pkijs';
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

/**
 * The checks dsv adds to RFC 5280 path validation (pkijs does the latter, below): accepted signature
 * algorithms, no critical extension dsv does not understand (pkijs only checks that it can parse the
 * ones on CAs), RSA keys of at least MIN_RSA_BITS, the signer's keyUsage / extendedKeyUsage for code
 * signing, codeSigning on CAs' extendedKeyUsage when present, and pathLenConstraint (which pkijs's
 * engine does not enforce).
 */
function dsvPolicyProblem(path: Cert[]): string | undefined {
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const isAnchor = i === path.length - 1;
    const p = (isAnchor ? undefined : structuralProblem(c)) ?? weakKey(c) ?? (i === 0 ? signerUsageProblem(c) : undefined);
    if (p) return p;
    if (i > 0) {
      const bc = c.fields.basicConstraints;
      if (bc?.pathLen !== undefined && i - 1 > bc.pathLen) {
        return `certificate ${certLabel(c.x509)} allows ${bc.pathLen} intermediate CA(s) below it, the chain has ${i - 1}`;
      }
      if (!ekuAllowsCodeSigning(c)) return `CA certificate ${certLabel(c.x509)} is not for code signing (extendedKeyUsage)`;
    }
  }
  return undefined;
}

type Pkijs = typeof import('pkijs');
let pkijsModule: Promise<Pkijs> | undefined;

/**
 * pkijs (≈ 0.7 MB of code) is imported for the first path validation, not with this module: signing, and a
 * signer certificate that is itself trusted, validate no path (bench/NOTES.md, start-up inventory).
 */
function loadPkijs(): Promise<Pkijs> {
  return (pkijsModule ??= import('pkijs'));
}

/** pkijs's view of a certificate (parsed once, from the same DER). */
const pkijsCerts = new WeakMap<Cert, pkijs.Certificate>();
function pkijsOf(lib: Pkijs, c: Cert, anchor: boolean): pkijs.Certificate {
  let p = pkijsCerts.get(c);
  if (!p) {
    p = lib.Certificate.fromBER(c.der);
    pkijsCerts.set(c, p);
  }
  // RFC 5280 §6.1: the trust anchor is an input to path validation, not a certificate of the path, so its
  // own extensions are not constraints. pkijs still requires the anchor to be a CA; a trusted X.509 v1 root
  // (no extensions at all) is a CA by being trusted, as openssl treats it, so it says cA = TRUE here (in
  // memory only: the DER and its signature are untouched, and nothing verifies an anchor's own signature).
  if (anchor && c.fields.version === 1 && !p.extensions) {
    const bc = new lib.BasicConstraints({ cA: true });
    p.extensions = [new lib.Extension({ extnID: Oids.basicConstraints, critical: true, extnValue: bc.toSchema().toBER(false), parsedValue: bc })];
  }
  return p;
}

/** Why pkijs refused `path`, in dsv's words where the offending certificate can be named. */
function explainRejection(path: Cert[], at: Date, code: number, message: string): string {
  const p =
    path.map((c) => validityProblem(c, at)).find(Boolean) ??
    path.slice(1).map((c, j) => {
      const i = j + 1;
      const child = certLabel(path[i - 1]!.x509);
      const v1Anchor = i === path.length - 1 && c.fields.version === 1;
      if (!c.fields.basicConstraints?.ca && !v1Anchor) return `certificate ${certLabel(c.x509)} issued ${child} but is not a CA (basicConstraints)`;
      if (c.fields.keyUsage && !c.fields.keyUsage.has(KeyUsageBits.keyCertSign)) return `certificate ${certLabel(c.x509)} may not sign certificates (keyUsage lacks keyCertSign)`;
      return undefined;
    }).find(Boolean);
  return p ?? `certificate path ${path.map((c) => certLabel(c.x509)).join(' <- ')} rejected by RFC 5280 path validation: ${message || `code ${code}`}`;
}

/**
 * Checks a built path [signer, intermediates..., trust anchor]; undefined when it is acceptable. RFC 5280
 * path validation (validity of every certificate, name chaining, basicConstraints cA and keyUsage
 * keyCertSign of every issuer, certificate policies, name constraints) is pkijs's
 * CertificateChainValidationEngine, run on exactly this path; then dsv's own checks (dsvPolicyProblem).
 * The signatures along the path were checked with node:crypto when the path was built (issuedBy).
 */
export async function pathProblem(path: Cert[], at: Date): Promise<string | undefined> {
  // A signer certificate that is itself trusted has no path to validate, only its own dates.
  if (path.length === 1) return validityProblem(path[0]!, at) ?? dsvPolicyProblem(path);
  const lib = await loadPkijs();
  let next: Map<pkijs.Certificate, pkijs.Certificate>;
  let engine: pkijs.CertificateChainValidationEngine;
  try {
    const certs = path.map((c, i) => pkijsOf(lib, c, i === path.length - 1));
    next = new Map(certs.slice(0, -1).map((c, i) => [c, certs[i + 1]!]));
    engine = new lib.CertificateChainValidationEngine({
      trustedCerts: [certs[certs.length - 1]!],
      // pkijs takes the last of these as the signer's certificate.
      certs: certs.slice(0, -1).reverse(),
      checkDate: at,
      // The path is already built: each certificate's issuer is the next one (pkijs would otherwise search
      // and verify with WebCrypto, without a bound on the work).
      findIssuer: async (cert: pkijs.Certificate) => {
        const issuer = next.get(cert);
        return issuer ? [issuer] : [];
      },
    });
  } catch (e) {
    return `certificate path cannot be validated: ${(e as Error)?.message ?? String(e)}`;
  }
  const r = await engine.verify({});
  if (!r.result) return explainRejection(path, at, r.resultCode ?? -1, r.resultMessage ?? '');
  return dsvPolicyProblem(path);
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
export async function buildAndValidate(leaf: Cert, intermediates: Cert[], anchors: Cert[], at: Date): Promise<ChainOutcome> {
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
    const p = await pathProblem(path, at);
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
