/**
 * Rekor signed entry timestamps (the `dev.sigstore.cosign/bundle` annotation): the SET over the log
 * entry, checked offline with the log's public key, and the entry body (hashedrekord, dsse or intoto) checked
 * against the signature, signed content and key or certificate it must describe.
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

/**
 * What a Rekor entry must record: the bytes signed directly (`hashedrekord` v0.0.1 records their SHA-256) or, given
 * as `{ dssePayload }`, a DSSE envelope's payload (`dsse` v0.0.1 and `intoto` v0.0.2 record its SHA-256 beside the
 * envelope's one signature). `{ sha256 }` names the signed bytes by their hex SHA-256 alone.
 */
export type RekorSigned = Uint8Array | { sha256: string } | { dssePayload: Uint8Array };

type Hash = { algorithm?: unknown; value?: unknown } | undefined;
type EntryBody = {
  apiVersion?: unknown;
  kind?: unknown;
  spec?: {
    data?: { hash?: Hash };
    signature?: { content?: unknown; publicKey?: { content?: unknown } };
    payloadHash?: Hash;
    signatures?: Array<{ signature?: unknown; verifier?: unknown }>;
    content?: { payloadHash?: Hash; envelope?: { signatures?: Array<{ sig?: unknown; publicKey?: unknown }> } };
  };
};

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The kind and API version the entry body names. */
export function rekorEntryKind(bundle: RekorBundle): { kind: string; version: string } {
  const body = decodeBody(bundle);
  return { kind: str(body.kind), version: str(body.apiVersion) };
}

function decodeBody(bundle: RekorBundle): EntryBody {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bundle.Payload.body, 'base64').toString('utf8'));
  } catch {
    throw bad('the entry body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the entry body is not a JSON object');
  return body as EntryBody;
}

function checkHash(hash: Hash, hex: string, what: string): void {
  if (hash?.algorithm !== 'sha256' || typeof hash.value !== 'string' || hash.value.toLowerCase() !== hex) throw bad(`the entry records another ${what}`);
}

/**
 * Checks that the entry (the body the SET signs) records this signature over `signed`, made with this key or
 * certificate: `hashedrekord` v0.0.1 for bytes signed directly; `dsse` v0.0.1 or `intoto` v0.0.2 for a DSSE envelope
 * (payload hash, its one signature and verifier). Any other kind is refused. Throws a one-line reason.
 */
export function checkRekorEntry(bundle: RekorBundle, signed: RekorSigned, signature: Uint8Array, signer: { key?: KeyObject; certificate?: X509Certificate }): void {
  const body = decodeBody(bundle);
  const kind = `${JSON.stringify(body.kind)} ${JSON.stringify(body.apiVersion)}`;
  const spec = body.spec;
  let recordedSignature: Buffer;
  let recordedMaterial: string;
  if (signed instanceof Uint8Array || 'sha256' in signed) {
    if (body.kind !== 'hashedrekord' || body.apiVersion !== '0.0.1') throw bad(`unsupported entry kind ${kind} for a signature over an artifact (hashedrekord 0.0.1 expected)`);
    checkHash(spec?.data?.hash, signed instanceof Uint8Array ? sha256Hex(signed) : signed.sha256.toLowerCase(), 'payload hash');
    recordedSignature = Buffer.from(str(spec?.signature?.content), 'base64');
    recordedMaterial = str(spec?.signature?.publicKey?.content);
  } else if (body.kind === 'dsse' && body.apiVersion === '0.0.1') {
    checkHash(spec?.payloadHash, sha256Hex(signed.dssePayload), 'DSSE payload hash');
    const sigs = Array.isArray(spec?.signatures) ? spec.signatures : [];
    if (sigs.length !== 1) throw bad(`the entry records ${sigs.length} DSSE signatures, not one`);
    recordedSignature = Buffer.from(str(sigs[0]?.signature), 'base64');
    recordedMaterial = str(sigs[0]?.verifier);
  } else if (body.kind === 'intoto' && body.apiVersion === '0.0.2') {
    checkHash(spec?.content?.payloadHash, sha256Hex(signed.dssePayload), 'DSSE payload hash');
    const sigs = Array.isArray(spec?.content?.envelope?.signatures) ? spec.content.envelope.signatures : [];
    if (sigs.length !== 1) throw bad(`the entry records ${sigs.length} DSSE signatures, not one`);
    // intoto 0.0.2 stores the envelope's base64 signature base64-encoded once more.
    recordedSignature = Buffer.from(Buffer.from(str(sigs[0]?.sig), 'base64').toString('utf8'), 'base64');
    recordedMaterial = str(sigs[0]?.publicKey);
  } else {
    throw bad(`unsupported entry kind ${kind} for a DSSE envelope (dsse 0.0.1 or intoto 0.0.2 expected)`);
  }
  if (recordedSignature.length === 0 || !recordedSignature.equals(Buffer.from(signature))) throw bad('the entry records another signature');
  checkMaterial(Buffer.from(recordedMaterial, 'base64').toString('utf8'), signer);
}

/** The key or certificate the entry records (PEM) must be the signer's. */
function checkMaterial(pem: string, signer: { key?: KeyObject; certificate?: X509Certificate }): void {
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
