/**
 * The containers-signature(5) payload ("atomic container signature"): created in the canonical shape and
 * parsed as strictly as containers/image does (exact critical fields, no duplicate keys, integer timestamp).
 */
import { DsvError, JsonSyntaxError, parseJsonAst, type JsonAst, type JsonObjectAst } from '@dsv/core/formats';

export const SIGNATURE_TYPE = 'atomic container signature';

export interface SimpleSigningPayload {
  /** critical.identity.docker-reference, as written (not normalised). */
  dockerReference: string;
  /** critical.image.docker-manifest-digest, as written. */
  manifestDigest: string;
  /** optional.creator */
  creator?: string;
  /** optional.timestamp (seconds since the epoch, an integer). */
  timestamp?: number;
}

/** A payload that is not a valid containers-signature document. */
export function payloadInvalid(message: string): DsvError {
  return new DsvError('SignatureInvalid', `invalid simple-signing payload: ${message}`, { reason: 'PayloadInvalid' });
}

/** The payload bytes for a new signature (members in the order containers/image writes them). */
export function createPayload(p: SimpleSigningPayload): Uint8Array {
  const optional: Record<string, unknown> = {};
  if (p.creator !== undefined) optional.creator = p.creator;
  if (p.timestamp !== undefined) {
    if (!Number.isSafeInteger(p.timestamp)) throw new DsvError('Usage', `signature timestamp ${p.timestamp} must be an integer number of seconds`);
    optional.timestamp = p.timestamp;
  }
  const doc = {
    critical: {
      identity: { 'docker-reference': p.dockerReference },
      image: { 'docker-manifest-digest': p.manifestDigest },
      type: SIGNATURE_TYPE,
    },
    optional,
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

function exactObject(ast: JsonAst, where: string, fields: string[] | undefined): Map<string, JsonAst> {
  if (ast.kind !== 'object') throw payloadInvalid(`${where} is not a JSON object`);
  const out = new Map<string, JsonAst>();
  for (const m of (ast as JsonObjectAst).members) {
    if (out.has(m.key)) throw payloadInvalid(`${where} has the field ${JSON.stringify(m.key)} twice`);
    if (fields && !fields.includes(m.key)) throw payloadInvalid(`${where} has an unknown field ${JSON.stringify(m.key)}`);
    out.set(m.key, m.value);
  }
  if (fields) for (const f of fields) if (!out.has(f)) throw payloadInvalid(`${where} lacks the field ${JSON.stringify(f)}`);
  return out;
}

function stringField(ast: JsonAst | undefined, where: string): string {
  if (!ast || ast.kind !== 'string') throw payloadInvalid(`${where} is not a string`);
  return ast.value;
}

/** Parses payload bytes strictly; any deviation is DsvError('SignatureInvalid', reason PayloadInvalid). */
export function parsePayload(bytes: Uint8Array): SimpleSigningPayload {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw payloadInvalid('not UTF-8');
  }
  let root: JsonAst;
  try {
    root = parseJsonAst(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw payloadInvalid(`not JSON (${e.message})`);
    throw e;
  }
  const top = exactObject(root, 'the payload', ['critical', 'optional']);
  const critical = exactObject(top.get('critical')!, 'critical', ['type', 'image', 'identity']);
  const type = stringField(critical.get('type'), 'critical.type');
  if (type !== SIGNATURE_TYPE) throw payloadInvalid(`critical.type ${JSON.stringify(type)} is not ${JSON.stringify(SIGNATURE_TYPE)}`);
  const image = exactObject(critical.get('image')!, 'critical.image', ['docker-manifest-digest']);
  const identity = exactObject(critical.get('identity')!, 'critical.identity', ['docker-reference']);
  const out: SimpleSigningPayload = {
    dockerReference: stringField(identity.get('docker-reference'), 'critical.identity.docker-reference'),
    manifestDigest: stringField(image.get('docker-manifest-digest'), 'critical.image.docker-manifest-digest'),
  };
  // Unknown optional fields are allowed (the spec says so); known ones must have their types.
  const optional = exactObject(top.get('optional')!, 'optional', undefined);
  const creator = optional.get('creator');
  if (creator !== undefined) out.creator = stringField(creator, 'optional.creator');
  const ts = optional.get('timestamp');
  if (ts !== undefined) {
    if (ts.kind !== 'number') throw payloadInvalid('optional.timestamp is not a number');
    const n = Number(ts.text);
    if (!Number.isSafeInteger(n)) throw payloadInvalid('optional.timestamp is not an integer');
    out.timestamp = n;
  }
  return out;
}
