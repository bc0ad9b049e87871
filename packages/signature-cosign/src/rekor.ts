/**
 * Rekor signed entry timestamps (the `dev.sigstore.cosign/bundle` annotation): the SET over the log
 * entry, checked offline with the log's public key, and the hashedrekord entry checked against the
 * signature, payload and key or certificate it must describe.
 */
import { createHash, createPublicKey, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { DsvError } from '@dsv/core';
import { pemBlocks } from './keys.js';
import { describeWindow, withinWindow, type TrustedLog } from './trusted-root.js';

export interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function bad(why: string): DsvError {
  return new DsvError('SignatureInvalid', `Rekor bundle: ${why}`);
}

export function parseRekorBundle(text: string): RekorBundle {
  let doc: RekorBundle;
  try {
    doc = JSON.parse(text) as RekorBundle;
  } catch {
    throw bad('not JSON');
  }
  const p = doc?.Payload;
  if (typeof doc?.SignedEntryTimestamp !== 'string' || typeof p !== 'object' || p === null) throw bad('no SignedEntryTimestamp or Payload');
  if (typeof p.body !== 'string' || !Number.isSafeInteger(p.integratedTime) || !Number.isSafeInteger(p.logIndex) || typeof p.logID !== 'string') {
    throw bad('Payload lacks body, integratedTime, logIndex or logID');
  }
  return doc;
}

/** The log ID of a Rekor key: hex SHA-256 of its SubjectPublicKeyInfo DER. */
export function rekorLogId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex');
}

/**
 * Verifies the SET with the key whose log ID the entry names; returns the integration time. `rekor` holds
 * plain keys (trusted always; log ID = SHA-256 of the key) or trusted-root logs (their own log ID, trusted
 * only when the integration time is inside the key's validFor window).
 */
export function verifyRekorSet(bundle: RekorBundle, rekor: Array<KeyObject | TrustedLog>): Date {
  const logs = rekor.map((r) => ('logId' in r ? r : { name: 'the Rekor key', key: r, logId: rekorLogId(r), validFor: {} }));
  const p = bundle.Payload;
  const log = logs.find((l) => l.logId === p.logID.toLowerCase());
  if (!log) throw bad(`the entry is from log ${p.logID}, whose key is not trusted`);
  // The SET signs the canonical JSON (sorted keys, no spaces) of the entry's four fields.
  const signed = JSON.stringify({ body: p.body, integratedTime: p.integratedTime, logID: p.logID, logIndex: p.logIndex });
  if (!verify('sha256', Buffer.from(signed), log.key, Buffer.from(bundle.SignedEntryTimestamp, 'base64'))) throw bad('the signed entry timestamp does not verify with the Rekor key');
  const at = new Date(p.integratedTime * 1000);
  if (!withinWindow(log.validFor, at)) throw bad(`the key of log ${log.name} is trusted ${describeWindow(log.validFor)}, not at the entry's time ${at.toISOString()}`);
  return at;
}

/** Checks that the hashedrekord entry records this payload hash, signature and key (or certificate). */
export function checkRekorEntry(bundle: RekorBundle, payload: Uint8Array, signature: Uint8Array, signer: { key?: KeyObject; certificate?: X509Certificate }): void {
  let body: { apiVersion?: string; kind?: string; spec?: { data?: { hash?: { algorithm?: string; value?: string } }; signature?: { content?: string; publicKey?: { content?: string } } } };
  try {
    body = JSON.parse(Buffer.from(bundle.Payload.body, 'base64').toString('utf8'));
  } catch {
    throw bad('the entry body is not JSON');
  }
  if (body.kind !== 'hashedrekord' || body.apiVersion !== '0.0.1') throw bad(`unsupported entry kind ${JSON.stringify(body.kind)} ${JSON.stringify(body.apiVersion)}`);
  const hash = body.spec?.data?.hash;
  if (hash?.algorithm !== 'sha256' || hash.value !== createHash('sha256').update(payload).digest('hex')) throw bad('the entry records another payload hash');
  if (!Buffer.from(body.spec?.signature?.content ?? '', 'base64').equals(Buffer.from(signature))) throw bad('the entry records another signature');
  const pem = Buffer.from(body.spec?.signature?.publicKey?.content ?? '', 'base64').toString('utf8');
  const block = pemBlocks(pem)[0];
  if (!block) throw bad('the entry records no public key or certificate');
  if (signer.certificate) {
    if (block.label !== 'CERTIFICATE' || !block.der.equals(signer.certificate.raw)) throw bad('the entry records another certificate');
  } else if (signer.key) {
    let recorded: Buffer;
    try {
      recorded = (block.label === 'CERTIFICATE' ? createPublicKey(pem) : createPublicKey({ key: block.der, format: 'der', type: 'spki' })).export({ format: 'der', type: 'spki' });
    } catch {
      throw bad('the entry records an unreadable key');
    }
    if (!recorded.equals(signer.key.export({ format: 'der', type: 'spki' }))) throw bad('the entry records another public key');
  }
}
