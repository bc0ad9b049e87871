/**
 * Notary's canonical JSON (the form every signature covers): object keys sorted by code point, no
 * insignificant whitespace, Go's string escaping without HTML escaping, integers only. Key ids are the
 * hex sha256 of a public key's canonical JSON.
 */
import { createHash } from 'node:crypto';
import { DsvError } from '@dsv/core';

function str(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function cmp(a: string, b: string): number {
  // Go sorts map keys by bytes of their UTF-8 form, which orders like code points.
  const ab = Buffer.from(a), bb = Buffer.from(b);
  return Buffer.compare(ab, bb);
}

export function notaryCanonicalJson(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new DsvError('SignatureInvalid', `trust metadata holds a number canonical JSON cannot carry: ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return str(v);
  if (Array.isArray(v)) return '[' + v.map(notaryCanonicalJson).join(',') + ']';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).filter((k) => o[k] !== undefined).sort(cmp).map((k) => str(k) + ':' + notaryCanonicalJson(o[k])).join(',') + '}';
  }
  throw new DsvError('SignatureInvalid', 'trust metadata holds a value JSON cannot carry');
}

/** A TUF public key as Notary writes it. */
export interface TufKey {
  keytype: string;
  keyval: { public: string; private?: null };
}

/** Notary's key id: hex sha256 of `{"keytype":…,"keyval":{"private":null,"public":…}}`. */
export function keyId(key: TufKey): string {
  const canon = notaryCanonicalJson({ keytype: key.keytype, keyval: { private: null, public: key.keyval.public } });
  return createHash('sha256').update(canon).digest('hex');
}
