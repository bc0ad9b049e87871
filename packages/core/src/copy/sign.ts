/**
 * The signature step of a copy: a configuration gets its signature (or loses its signatures) only after
 * every layer of every image was streamed and its diff_id proven, and before any manifest is put.
 * Also the errors that stop it: one per failed blob, gathered into one refusal.
 */
import type { ImageConfig } from '../config.js';
import { DsvError } from '../errors.js';
import type { Descriptor } from '../model.js';
import type { Signer } from '../signer.js';
import { addSignature, readSignatures, withSignatures, type SignatureEntry, type SignatureKind } from '../signatures.js';
import type { ImageSource } from '../transport.js';
import type { BlobOutcome } from './blob.js';

/** The configuration to write instead of `config` (the same object when nothing changes). */
export async function rewriteConfig(
  config: ImageConfig,
  how: { sign?: { signer: Signer | Promise<Signer>; kind: SignatureKind }; removeSignatures?: boolean; editConfig?: (config: ImageConfig) => ImageConfig },
): Promise<{ config: ImageConfig; entry?: SignatureEntry }> {
  if (how.sign) {
    const signed = await addSignature(config, await how.sign.signer, how.sign.kind);
    return { config: signed.config, entry: signed.entry };
  }
  if (how.editConfig) return { config: how.editConfig(config) };
  if (how.removeSignatures && readSignatures(config).length > 0) return { config: withSignatures(config, []) };
  return { config };
}

/**
 * What a layer's stream found, as an error naming the layer (undefined when it holds). A digest
 * mismatch is explained by the source when it can (diagnoseBlob).
 */
export async function layerFailure(source: ImageSource, index: number, d: Descriptor, expectedDiffId: string, r: BlobOutcome): Promise<DsvError | undefined> {
  const where = `layer ${index} ${d.digest}`;
  let error: DsvError | undefined;
  if (r.error) {
    // The stream names the blob by its digest, which `where` already says.
    const detail = r.error.message.replace(`blob ${d.digest}: `, '');
    error = new DsvError(r.error.code, `${where}: ${detail}`, { ...r.error.details, layer: index, digest: d.digest }, { cause: r.error });
  } else if (r.inflateError) {
    const e = r.inflateError;
    error = new DsvError(e.code, `${where}: cannot decompress: ${e.message}`, { ...e.details, layer: index, digest: d.digest }, { cause: e });
  } else if (r.diffId !== expectedDiffId) {
    error = new DsvError(
      'DigestMismatch',
      `${where}: diff_id mismatch: the uncompressed content is ${r.diffId}, the configuration says ${expectedDiffId}`,
      { layer: index, digest: d.digest, expectedDiffId, actualDiffId: r.diffId },
    );
  }
  if (error?.code === 'DigestMismatch' && source.diagnoseBlob) {
    const why = await source.diagnoseBlob(d).catch((e: unknown) => (e instanceof DsvError ? e : undefined));
    if (why) error = new DsvError(error.code, `${where}: ${why.message}`, { ...error.details, ...why.details }, { cause: error });
  }
  return error;
}

export function integrityFailure(what: string, reference: string, errors: DsvError[]): DsvError {
  const first = errors[0];
  const list = errors.map((e) => e.message).join('; ');
  return new DsvError(first?.code ?? 'DigestMismatch', `refusing to ${what} ${reference}: ${errors.length} integrity failure${errors.length === 1 ? '' : 's'}: ${list}`, {
    reference,
    errors: errors.map((e) => ({ code: e.code, message: e.message, ...e.details })),
  });
}
