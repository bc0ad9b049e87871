/**
 * The simple-signing format as a policy plug-in: it lists an image's simple signatures (from wherever the
 * caller's source reads them) and verifies each against a signedBy requirement's keys. The shapes match
 * @dsv/policy's SignatureFormat structurally, so this package does not depend on the policy package.
 */
import { DsvError } from '@dsv/core/formats';
import { MAX_SIGNATURES } from './limits.js';
import { readLookasideSignatures } from './lookaside.js';
import type { RequestFunction } from './http.js';
import { readPublicKeys, verifySimpleSignature } from './openpgp.js';
import { lookasideBase, type RegistriesD } from './registries-d.js';
import { payloadMatchesManifest } from './signature.js';

export interface SimpleImage {
  dockerReference?: string;
  manifestDigest: string;
  manifestBytes?: Uint8Array;
  context?: unknown;
}

/** Where an image's simple signatures come from. */
export type SimpleSignatureSource = (image: SimpleImage) => Promise<Uint8Array[]>;

export interface SimpleFact {
  valid: boolean;
  keyId?: string;
  signer?: string;
  identity?: string;
  manifestDigest?: string;
  reason?: string;
  code?: string;
}

export interface SimpleSigningFormat {
  readonly name: 'simple-signing';
  readonly requirementTypes: readonly ['signedBy'];
  listSignatures(image: SimpleImage): Promise<Array<{ origin: string; data: unknown }>>;
  verifySignature(candidate: { origin: string; data: unknown }, keys: Array<{ kind: string; origin: string; bytes: Uint8Array }>, image: SimpleImage): Promise<SimpleFact>;
}

export function simpleSigningFormat(opts: { source: SimpleSignatureSource; now?: Date }): SimpleSigningFormat {
  return {
    name: 'simple-signing',
    requirementTypes: ['signedBy'] as const,
    async listSignatures(image) {
      const sigs = await opts.source(image);
      if (sigs.length > MAX_SIGNATURES) throw new DsvError('LimitExceeded', `the image has more than ${MAX_SIGNATURES} simple signatures`);
      return sigs.map((data, i) => ({ origin: `simple signature ${i + 1}`, data }));
    },
    async verifySignature(candidate, keys, image) {
      if (!(candidate.data instanceof Uint8Array)) return { valid: false, code: 'malformed', reason: 'not a simple signature' };
      const publicKeys = [];
      for (const k of keys) if (k.kind === 'key') publicKeys.push(...(await readPublicKeys(k.bytes, k.origin)));
      const v = await verifySimpleSignature(candidate.data, publicKeys, opts.now ? { now: opts.now } : {});
      const fact: SimpleFact = { valid: v.valid };
      if (v.fingerprint ?? v.keyId) fact.keyId = v.fingerprint ?? v.keyId;
      if (v.signer !== undefined) fact.signer = v.signer;
      if (v.payload) {
        fact.identity = v.payload.dockerReference;
        fact.manifestDigest = v.payload.manifestDigest;
      }
      if (!v.valid) return { ...fact, reason: v.reason ?? 'invalid', code: v.code ?? 'bad-signature' };
      if (image.manifestBytes && !payloadMatchesManifest(v.payload!.manifestDigest, image.manifestBytes)) {
        return { ...fact, valid: false, code: 'digest-mismatch', reason: `the signature is for manifest ${v.payload!.manifestDigest}, which is not the digest of the image's manifest bytes` };
      }
      return fact;
    },
  };
}

/** A source reading the lookaside store registries.d names for the image's docker reference (none configured: no signatures). */
export function lookasideSource(config: RegistriesD, opts: { request?: RequestFunction } = {}): SimpleSignatureSource {
  return async (image) => {
    if (image.dockerReference === undefined) return [];
    const base = lookasideBase(config, image.dockerReference, false);
    if (base === undefined) return [];
    return readLookasideSignatures(base, image.dockerReference, image.manifestDigest, opts);
  };
}
