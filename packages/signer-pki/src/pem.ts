import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';

export interface PemBlock {
  label: string;
  /** The whole block, BEGIN to END line, as found (node:crypto parses this). */
  text: string;
  /** True when the block carries RFC 1421 headers (e.g. "Proc-Type: 4,ENCRYPTED"). */
  hasHeaders: boolean;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]{1,64})-----[ \t]*\r?\n([\s\S]*?)-----END \1-----/g;

export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    out.push({ label: m[1]!, text: m[0] + '\n', hasHeaders: /^[A-Za-z-]+:/m.test(m[2]!) });
  }
  return out;
}

/** The DER inside a header-less block (strict base64), or undefined. */
export function pemDer(block: PemBlock): Buffer | undefined {
  if (block.hasHeaders) return undefined;
  const body = block.text.split('\n').filter((l) => !l.startsWith('-----')).join('');
  return decodeBase64Strict(body);
}

export const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
export const PUBLIC_KEY_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);

/** Strict base64: only the alphabet, correct padding, whitespace allowed between groups. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const s = text.replace(/\s+/g, '');
  if (!s.length || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  // Non-canonical trailing bits would re-encode differently: refuse them.
  if (b.toString('base64') !== s) return undefined;
  return b;
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Full lower-case hex SHA-256 of the SubjectPublicKeyInfo. */
export function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

/** The short key id: first 16 hex digits (upper case) of the SPKI SHA-256. */
export function shortKeyId(key: KeyObject): string {
  return spkiSha256(key).slice(0, 16).toUpperCase();
}

/** Colon-separated upper-case hex, like `openssl x509 -fingerprint -sha256`. */
export function colonHex(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(':');
}

/** A certificate's subject or issuer on one line ("CN=x, O=y"). */
export function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

export function certLabel(c: X509Certificate): string {
  return `"${oneLineName(c.subject)}"`;
}
