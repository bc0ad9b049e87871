/**
 * A Sigstore trusted root (`trusted_root.json`, the protobuf-specs TrustedRoot message in its JSON form):
 * the certificate authorities (Fulcio or a private CA: a certificate chain and the time window it may
 * issue in) and the transparency logs (Rekor: a public key, its log id and window), read for offline
 * keyless verification. The JSON is mapped by @sigstore/protobuf-specs; every field we rely on is checked here.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { DsvError } from '@dsv/core';
import { protobufSpecsLib } from './lazy.js';

/** A validity window; an absent bound is open. */
export interface TimeWindow {
  start?: Date;
  end?: Date;
}

/** A certificate authority: its chain (issuing certificate first, root last) and when it may be trusted. */
export interface TrustedAuthority {
  /** For messages: the CA's URI or its first certificate's subject. */
  name: string;
  certificates: X509Certificate[];
  validFor: TimeWindow;
}

/** A transparency log (Rekor) key: the log id entries name (hex) and when it may be trusted. */
export interface TrustedLog {
  name: string;
  key: KeyObject;
  logId: string;
  validFor: TimeWindow;
}

export interface SigstoreTrustedRoot {
  authorities: TrustedAuthority[];
  logs: TrustedLog[];
}

const MEDIA_TYPES = /^application\/vnd\.dev\.sigstore\.trustedroot(\+json;\s*version=0\.1|\.v0\.\d+\+json)$/;
const MAX_BYTES = 4 * 1024 * 1024;

/** Whether `at` lies inside the window (bounds inclusive). */
export function withinWindow(w: TimeWindow, at: Date): boolean {
  return (w.start === undefined || w.start.getTime() <= at.getTime()) && (w.end === undefined || at.getTime() <= w.end.getTime());
}

/** "from 2021-03-07T03:20:29.000Z to 2022-12-31T23:59:59.999Z" (or "from …" for an open end). */
export function describeWindow(w: TimeWindow): string {
  return [w.start && `from ${w.start.toISOString()}`, w.end && `until ${w.end.toISOString()}`].filter(Boolean).join(' ') || 'always';
}

function window(raw: { start?: Date; end?: Date } | undefined, where: string, bad: (why: string) => DsvError): TimeWindow {
  if (!raw?.start) throw bad(`${where}.validFor.start is missing`);
  const out: TimeWindow = {};
  for (const k of ['start', 'end'] as const) {
    const d = raw[k];
    if (d === undefined) continue;
    if (Number.isNaN(d.getTime())) throw bad(`${where}.validFor.${k} is not an RFC 3339 time`);
    out[k] = d;
  }
  if (out.end && out.end.getTime() < out.start!.getTime()) throw bad(`${where}.validFor ends before it starts`);
  return out;
}

/** Parses and checks a trusted_root.json; `origin` names it in the one-line errors (DsvError KeyInvalid). */
export function parseTrustedRoot(bytes: Uint8Array | string, origin = 'trusted root'): SigstoreTrustedRoot {
  const bad = (why: string) => new DsvError('KeyInvalid', `${origin}: ${why}`);
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  if (text.length > MAX_BYTES) throw bad(`larger than ${MAX_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const mediaType = (json as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !MEDIA_TYPES.test(mediaType)) {
    throw bad(`mediaType ${JSON.stringify(mediaType ?? null)} is not a Sigstore trusted root (application/vnd.dev.sigstore.trustedroot…)`);
  }
  for (const list of ['certificateAuthorities', 'tlogs'] as const) {
    const v = (json as Record<string, unknown>)[list];
    if (v !== undefined && !Array.isArray(v)) throw bad(`${list} is not an array`);
  }
  let root: TrustedRoot;
  try {
    root = protobufSpecsLib().TrustedRoot.fromJSON(json);
  } catch (e) {
    // Unknown enum names (keyDetails, hashAlgorithm) and malformed times land here.
    throw bad(`cannot be read: ${(e as Error).message.split('\n')[0]}`);
  }

  const authorities: TrustedAuthority[] = root.certificateAuthorities.map((ca, i) => {
    const where = `certificateAuthorities[${i}]`;
    const raw = ca.certChain?.certificates ?? [];
    if (raw.length === 0) throw bad(`${where}.certChain has no certificates`);
    const certificates = raw.map((c, j) => {
      if (!c.rawBytes?.length) throw bad(`${where}.certChain.certificates[${j}] has no rawBytes`);
      try {
        return new X509Certificate(Buffer.from(c.rawBytes));
      } catch {
        throw bad(`${where}.certChain.certificates[${j}] is not a DER certificate`);
      }
    });
    return { name: ca.uri || certificates[0]!.subject.replace(/\n/g, ', '), certificates, validFor: window(ca.validFor, where, bad) };
  });

  const logs: TrustedLog[] = root.tlogs.map((t, i) => {
    const where = `tlogs[${i}]`;
    const raw = t.publicKey?.rawBytes;
    if (!raw?.length) throw bad(`${where}.publicKey.rawBytes is missing`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(raw), format: 'der', type: 'spki' });
    } catch {
      throw bad(`${where}.publicKey.rawBytes is not a DER SubjectPublicKeyInfo`);
    }
    const id = t.logId?.keyId;
    if (!id?.length) throw bad(`${where}.logId.keyId is missing`);
    return { name: t.baseUrl || `${where}`, key, logId: Buffer.from(id).toString('hex'), validFor: window(t.publicKey?.validFor, `${where}.publicKey`, bad) };
  });

  if (authorities.length === 0) throw bad('names no certificateAuthorities (keyless verification needs the Fulcio or PKI CA)');
  if (logs.length === 0) throw bad('names no tlogs (keyless verification needs the Rekor key)');
  return { authorities, logs };
}
