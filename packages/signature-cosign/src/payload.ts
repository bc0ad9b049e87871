/** The cosign "simple signing" payload (`application/vnd.dev.cosign.simplesigning.v1+json`), created and parsed strictly. */
import { DsvError, parseDigest, parseDockerReference } from '@dsv/core';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export interface CosignPayload {
  dockerReference: string;
  manifestDigest: string;
  /** `optional` as written (null when absent). */
  optional: Record<string, unknown> | null;
}

/** The payload bytes cosign writes (Go's field order, `"optional":null` unless given). */
export function createCosignPayload(p: { dockerReference: string; manifestDigest: string; optional?: Record<string, unknown> | null }): Uint8Array {
  parseDigest(p.manifestDigest);
  return Buffer.from(JSON.stringify({
    critical: {
      identity: { 'docker-reference': p.dockerReference },
      image: { 'docker-manifest-digest': p.manifestDigest },
      type: COSIGN_SIGNATURE_TYPE,
    },
    optional: p.optional ?? null,
  }));
}

function invalid(why: string): DsvError {
  return new DsvError('SignatureInvalid', `cosign payload: ${why}`);
}

function objectWith(v: unknown, fields: string[], where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where} is not an object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw invalid(`unknown field ${where}.${k}`);
  for (const k of fields) if (!(k in o)) throw invalid(`missing field ${where}.${k}`);
  return o;
}

/** Parses payload bytes as containers/image does: exactly the known critical fields, a valid reference and digest. */
export function parseCosignPayload(bytes: Uint8Array): CosignPayload {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not an object');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'critical' && k !== 'optional') throw invalid(`unknown field ${k}`);
  const critical = objectWith(top.critical, ['identity', 'image', 'type'], 'critical');
  if (critical.type !== COSIGN_SIGNATURE_TYPE) throw invalid(`critical.type is ${JSON.stringify(critical.type)}, not "${COSIGN_SIGNATURE_TYPE}"`);
  const image = objectWith(critical.image, ['docker-manifest-digest'], 'critical.image');
  const identity = objectWith(critical.identity, ['docker-reference'], 'critical.identity');
  const digest = image['docker-manifest-digest'];
  const ref = identity['docker-reference'];
  if (typeof digest !== 'string') throw invalid('critical.image.docker-manifest-digest is not a string');
  if (typeof ref !== 'string') throw invalid('critical.identity.docker-reference is not a string');
  try {
    parseDigest(digest);
  } catch {
    throw invalid(`critical.image.docker-manifest-digest ${JSON.stringify(digest)} is not a digest`);
  }
  try {
    parseDockerReference(ref);
  } catch {
    throw invalid(`critical.identity.docker-reference ${JSON.stringify(ref)} is not a docker reference`);
  }
  const optional = top.optional;
  if (optional !== undefined && optional !== null && (typeof optional !== 'object' || Array.isArray(optional))) throw invalid('optional is not an object');
  return { dockerReference: ref, manifestDigest: digest, optional: (optional as Record<string, unknown> | undefined) ?? null };
}
