/** Making cosign signatures with a key (keyless signing is not provided) and adding them to an image's `.sig` tag. */
import type { KeyObject } from 'node:crypto';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, type CosignAttachment } from './attachment.js';
import { signBytes } from './crypto.js';
import { createCosignPayload } from './payload.js';
import { addCosignSignatures, type TagStore } from './store.js';

export interface CosignSignOptions {
  /** The identity the signature claims (`critical.identity.docker-reference`). */
  dockerReference: string;
  /** Digest of the image manifest's exact bytes. */
  manifestDigest: string;
  privateKey: KeyObject;
  /** `optional` of the payload (cosign's `-a key=value`); null when absent. */
  optional?: Record<string, unknown> | null;
}

/** One signature layer: the payload, signed, with its signature annotation. */
export function createCosignSignature(opts: CosignSignOptions): CosignAttachment {
  const payload = createCosignPayload(opts);
  const signature = signBytes(opts.privateKey, payload);
  return { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, payload, annotations: { [SIGNATURE_ANNOTATION]: Buffer.from(signature).toString('base64') } };
}

/** Signs the image and appends the signature to its `sha256-<hex>.sig` manifest; returns that manifest's digest (undefined: already signed so). */
export async function signImage(store: TagStore, opts: CosignSignOptions): Promise<string | undefined> {
  return addCosignSignatures(store, opts.manifestDigest, [createCosignSignature(opts)]);
}
