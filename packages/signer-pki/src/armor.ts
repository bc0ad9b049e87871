/**
 * PKI signature text: the legacy docker-sign-verify armour and dsv's versioned armour (README.md).
 */
import { decodeBase64Strict } from './pem.js';

export const LEGACY_BEGIN = '-----BEGIN PKI SIGNATURE-----';
export const LEGACY_END = '-----END PKI SIGNATURE-----';
export const V2_BEGIN = '-----BEGIN DSV PKI SIGNATURE-----';
export const V2_END = '-----END DSV PKI SIGNATURE-----';

export const PKI_ALGORITHMS = [
  'rsa-pkcs1v15-sha256',
  'rsa-pss-sha256',
  'ecdsa-p256-sha256',
  'ecdsa-p384-sha384',
  'ed25519',
] as const;
export type PkiAlgorithm = (typeof PKI_ALGORITHMS)[number];

/** Longest signature text we look at (a chain of a few certificates fits easily). */
export const MAX_SIGNATURE_TEXT = 256 * 1024;
export const MAX_CERTIFICATES = 10;

export interface ParsedPkiSignature {
  format: 'legacy' | 'v2';
  signature: Buffer;
  /** v2 only. */
  algorithm?: PkiAlgorithm;
  /** v2 only: full lower-case hex SHA-256 of the signer's SubjectPublicKeyInfo. */
  keyId?: string;
  /** v2 only: DER certificates, signer's first. */
  certificates: Buffer[];
}

export function isPkiSignature(text: string): boolean {
  if (typeof text !== 'string') return false;
  const t = text.trimStart();
  return t.startsWith(LEGACY_BEGIN) || t.startsWith(V2_BEGIN);
}

export function formatLegacySignature(signature: Uint8Array): string {
  return `${LEGACY_BEGIN}\n\n${Buffer.from(signature).toString('base64')}\n${LEGACY_END}`;
}

const wrap64 = (s: string) => s.match(/.{1,64}/g)!.join('\n');

export function formatV2Signature(p: { algorithm: PkiAlgorithm; keyId: string; certificates: Uint8Array[]; signature: Uint8Array }): string {
  const lines = [V2_BEGIN, 'Version: 2', `Algorithm: ${p.algorithm}`, `Key-Id: ${p.keyId}`];
  for (const c of p.certificates) lines.push(`Certificate: ${Buffer.from(c).toString('base64')}`);
  lines.push('', wrap64(Buffer.from(p.signature).toString('base64')), V2_END);
  return lines.join('\n');
}

/** Parses either armour; throws an Error whose message says what is malformed. */
export function parsePkiSignature(text: string): ParsedPkiSignature {
  if (typeof text !== 'string') throw new Error('signature is not text');
  if (text.length > MAX_SIGNATURE_TEXT) throw new Error(`signature text is longer than ${MAX_SIGNATURE_TEXT} bytes`);
  const lines = text.replace(/\r\n/g, '\n').trim().split('\n').map((l) => l.replace(/[ \t]+$/, ''));
  const first = lines[0];
  const last = lines[lines.length - 1];
  if (first === LEGACY_BEGIN) {
    if (last !== LEGACY_END || lines.length < 3) throw new Error('missing END line');
    const body = lines.slice(1, -1);
    while (body[0] === '') body.shift();
    if (!body.length) throw new Error('no signature data');
    if (body.some((l) => l === '' || l.includes(':'))) throw new Error('unexpected content in the armour');
    const sig = decodeBase64Strict(body.join(''));
    if (!sig) throw new Error('signature is not valid base64');
    return { format: 'legacy', signature: sig, certificates: [] };
  }
  if (first !== V2_BEGIN) throw new Error('not a PKI signature');
  if (last !== V2_END || lines.length < 4) throw new Error('missing END line');
  const blank = lines.indexOf('');
  if (blank < 0) throw new Error('no blank line after the headers');
  const headers = lines.slice(1, blank);
  const body = lines.slice(blank + 1, -1);
  let version: string | undefined;
  let algorithm: string | undefined;
  let keyId: string | undefined;
  const certificates: Buffer[] = [];
  for (const h of headers) {
    const m = h.match(/^([A-Za-z][A-Za-z0-9-]*): (.*)$/);
    if (!m) throw new Error('malformed header line');
    const [, name, value] = m as unknown as [string, string, string];
    const once = (prev: string | undefined) => {
      if (prev !== undefined) throw new Error(`header ${name} appears twice`);
      return value;
    };
    if (name === 'Version') version = once(version);
    else if (name === 'Algorithm') algorithm = once(algorithm);
    else if (name === 'Key-Id') keyId = once(keyId);
    else if (name === 'Certificate') {
      if (certificates.length >= MAX_CERTIFICATES) throw new Error(`more than ${MAX_CERTIFICATES} certificates`);
      const der = decodeBase64Strict(value);
      if (!der) throw new Error(`certificate ${certificates.length + 1} is not valid base64`);
      certificates.push(der);
    }
    // Other headers (e.g. Comment) are informational and ignored.
  }
  if (version !== '2') throw new Error(version === undefined ? 'no Version header' : `unsupported version "${version}"`);
  if (!algorithm || !(PKI_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new Error(algorithm ? `unsupported algorithm "${algorithm}"` : 'no Algorithm header');
  }
  if (!keyId || !/^[0-9a-f]{64}$/.test(keyId)) throw new Error('missing or malformed Key-Id header');
  if (!body.length || body.some((l) => l === '')) throw new Error('no signature data');
  const sig = decodeBase64Strict(body.join(''));
  if (!sig) throw new Error('signature is not valid base64');
  return { format: 'v2', signature: sig, algorithm: algorithm as PkiAlgorithm, keyId, certificates };
}
