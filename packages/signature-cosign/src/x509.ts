/** Certificate checks for cosign: chains to given roots at a given time, SANs, and Fulcio's OIDC issuer extension. */
import { X509Certificate } from 'node:crypto';
import { DsvError } from '@dsv/core';
import { pemBlocks } from './keys.js';

const MAX_CHAIN = 10;

/** Every CERTIFICATE block in the PEM text. */
export function readCertificates(bytes: Uint8Array | string, origin = 'certificates'): X509Certificate[] {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  const out: X509Certificate[] = [];
  for (const b of pemBlocks(text)) {
    if (b.label !== 'CERTIFICATE') continue;
    try {
      out.push(new X509Certificate(b.der));
    } catch {
      throw new DsvError('KeyInvalid', `${origin}: a certificate cannot be parsed`);
    }
  }
  if (out.length === 0) throw new DsvError('KeyInvalid', `${origin}: no certificate found`);
  return out;
}

function validAt(c: X509Certificate, at: Date): boolean {
  return new Date(c.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(c.validTo).getTime();
}

/**
 * Checks that `leaf` chains through `intermediates` to one of `roots`, every certificate valid at `at`,
 * every issuer a CA. Returns undefined when it does, or why not.
 */
export function chainError(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], at: Date): string | undefined {
  if (!validAt(leaf, at)) return `the certificate is not valid at ${at.toISOString()} (valid ${leaf.validFrom} – ${leaf.validTo})`;
  const rootPrints = new Set(roots.map((r) => r.fingerprint256));
  let cur = leaf;
  const seen = new Set<string>();
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (rootPrints.has(cur.fingerprint256)) return undefined;
    seen.add(cur.fingerprint256);
    // A self-signed certificate that is not a trusted root (an untrusted CA's chain) ends the path.
    const issuer = [...roots, ...intermediates].find((c) => c.ca && !seen.has(c.fingerprint256) && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!issuer) return `the certificate "${cur.subject.replace(/\n/g, ', ')}" is not issued by a trusted CA`;
    if (!validAt(issuer, at)) return `the CA certificate "${issuer.subject.replace(/\n/g, ', ')}" is not valid at ${at.toISOString()}`;
    if (rootPrints.has(issuer.fingerprint256)) return undefined;
    cur = issuer;
  }
  return 'the certificate chain is too long';
}

/** The SAN entries: { email: [...], uri: [...], dns: [...] }. */
export function subjectAltNames(c: X509Certificate): { email: string[]; uri: string[]; dns: string[] } {
  const out = { email: [] as string[], uri: [] as string[], dns: [] as string[] };
  for (const part of (c.subjectAltName ?? '').split(/,\s*/)) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const kind = part.slice(0, i);
    const value = part.slice(i + 1).replace(/^"(.*)"$/, '$1');
    if (kind === 'email') out.email.push(value);
    else if (kind === 'URI') out.uri.push(value);
    else if (kind === 'DNS') out.dns.push(value);
  }
  return out;
}

/** Reads one DER TLV at `off`: tag, content start and end. */
function tlv(der: Uint8Array, off: number): { tag: number; start: number; end: number } | undefined {
  if (off + 2 > der.length) return undefined;
  const tag = der[off]!;
  let len = der[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) return undefined;
  return { tag, start, end: start + len };
}

/** 1.3.6.1.4.1.57264.1.<arc>, DER-encoded with its OID tag and length. */
function fulcioOid(arc: number): Buffer {
  return Buffer.from([0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, arc]);
}

function extensionValue(c: X509Certificate, oid: Buffer): Uint8Array | undefined {
  const der = c.raw;
  const at = der.indexOf(oid);
  if (at < 0) return undefined;
  let t = tlv(der, at + oid.length);
  if (t?.tag === 0x01) t = tlv(der, t.end); // the critical flag
  if (t?.tag !== 0x04) return undefined;
  return der.subarray(t.start, t.end);
}

/** The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8 (a DER UTF8String) or the older .1.1 (raw). */
export function fulcioIssuer(c: X509Certificate): string | undefined {
  const v8 = extensionValue(c, fulcioOid(8));
  if (v8) {
    const t = tlv(v8, 0);
    if (t && t.tag === 0x0c && t.end === v8.length) return Buffer.from(v8.subarray(t.start, t.end)).toString('utf8');
  }
  const v1 = extensionValue(c, fulcioOid(1));
  return v1 ? Buffer.from(v1).toString('utf8') : undefined;
}

/**
 * A pattern as `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp` take it, compiled to
 * match the whole value (anchored). Not in unicode mode, so escaped punctuation (`\-`, `\@`), which Go's
 * regexp (cosign's) accepts, is accepted too. An invalid pattern is a Usage error naming `what`.
 */
export function fullMatchPattern(pattern: string, what: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new DsvError('Usage', `${what} ${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '')}`);
  }
}

/** The identity a certificate must carry: each of subject (any email or URI SAN) and issuer exactly or by a whole-value pattern. */
export interface CertificateIdentityCheck {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
}

/**
 * Checks a Fulcio certificate's SANs (email and URI) and OIDC issuer against `id`. Returns the SAN and
 * issuer that matched, or why none did.
 */
export function matchCertificateIdentity(c: X509Certificate, id: CertificateIdentityCheck): { subject: string; issuer: string } | { reason: string } {
  const san = subjectAltNames(c);
  const names = [...san.email, ...san.uri];
  const subjectRe = id.subjectRegExp !== undefined ? fullMatchPattern(id.subjectRegExp, '--certificate-identity-regexp') : undefined;
  const subject = names.find((n) => (id.subject === undefined || n === id.subject) && (subjectRe === undefined || subjectRe.test(n)));
  if (subject === undefined) {
    const wanted = [id.subject, subjectRe && `/${id.subjectRegExp}/`].filter(Boolean).join(' and ');
    return { reason: `the certificate is for ${names.join(', ') || 'no email or URI'}, not ${wanted}` };
  }
  const issuer = fulcioIssuer(c);
  const issuerRe = id.issuerRegExp !== undefined ? fullMatchPattern(id.issuerRegExp, '--certificate-oidc-issuer-regexp') : undefined;
  const wantedIssuer = [id.issuer, issuerRe && `/${id.issuerRegExp}/`].filter(Boolean).join(' and ');
  if (issuer === undefined) return { reason: `the certificate records no OIDC issuer, not ${wantedIssuer || 'any'}` };
  if ((id.issuer !== undefined && issuer !== id.issuer) || (issuerRe !== undefined && !issuerRe.test(issuer))) {
    return { reason: `the certificate's OIDC issuer is ${issuer}, not ${wantedIssuer}` };
  }
  return { subject, issuer };
}
