/** Making a simple signature for an image, and checking one's claims against a manifest's exact bytes. */
import { DsvError, digestOf, formatDockerReference, parseDigest, parseDockerReference, type DigestAlgorithm } from '@dsv/core/formats';
import type { PayloadSigner } from './openpgp.js';
import { createPayload, type SimpleSigningPayload } from './payload.js';

export interface CreateSignatureOptions {
  /** The identity to sign (written in full normalised form: docker.io/library/busybox:latest). */
  dockerReference: string;
  /** The manifest's exact bytes; its sha256 is signed. */
  manifestBytes?: Uint8Array;
  /** Or the manifest digest itself (when the bytes are not at hand). */
  manifestDigest?: string;
  signer: PayloadSigner;
  creator?: string;
  /** Seconds since the epoch; default now. */
  timestamp?: number;
}

/** Builds the payload and has `signer` sign it; returns the signature bytes as stored in a lookaside. */
export async function createSimpleSignature(opts: CreateSignatureOptions): Promise<Uint8Array> {
  const ref = formatDockerReference(parseDockerReference(opts.dockerReference, { defaultRegistry: 'docker.io' }));
  let digest: string;
  if (opts.manifestBytes) {
    digest = digestOf(opts.manifestBytes);
    if (opts.manifestDigest !== undefined && opts.manifestDigest !== digest) {
      throw new DsvError('DigestMismatch', `manifest digest ${opts.manifestDigest} does not match the manifest bytes (${digest})`);
    }
  } else if (opts.manifestDigest !== undefined) {
    digest = parseDigest(opts.manifestDigest).digest;
  } else {
    throw new DsvError('Usage', 'createSimpleSignature needs the manifest bytes or its digest');
  }
  const payload: SimpleSigningPayload = {
    dockerReference: ref,
    manifestDigest: digest,
    timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
  };
  if (opts.creator !== undefined) payload.creator = opts.creator;
  const signed = await opts.signer(createPayload(payload));
  if (!(signed instanceof Uint8Array) || signed.length === 0) throw new DsvError('SignatureInvalid', 'the signer returned no signature');
  return signed;
}

/** True when `claimed` is the digest of `manifestBytes` (computed with the claimed algorithm over the exact bytes). */
export function payloadMatchesManifest(claimed: string, manifestBytes: Uint8Array): boolean {
  let algorithm: DigestAlgorithm;
  try {
    algorithm = parseDigest(claimed).algorithm;
  } catch {
    return false;
  }
  return digestOf(manifestBytes, algorithm) === claimed;
}
