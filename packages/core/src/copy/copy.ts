/**
 * copyImage: one pass over an image (or every image of an index, or one platform of it). The manifest
 * tree is read once; each blob is streamed once from source to destination, checked on the way (digest
 * and size always, diff_id too when signing or verifying); signatures are made once every layer is
 * proven, manifests are put after every blob, and commit() is the only thing that makes it visible.
 */
import type { ImageConfig } from '../config.js';
import type { Digest } from '../digest.js';
import type { Manifest } from '../manifest.js';
import { DsvError } from '../errors.js';
import { readManifest, resolveManifests } from '../image.js';
import type { Signer } from '../signer.js';
import type { SignatureKind } from '../signatures.js';
import type { ImageDestination, ImageReference, ImageSource, ProgressEvent } from '../transport.js';
import { moveBlob, type BlobContext, type BlobJob, type BlobOutcome } from './blob.js';
import { checkSupported, imagesOf, readTree, rebuild, type Built, type Node } from './multiple.js';
import { integrityFailure } from './sign.js';
import { finishImage, stageImage, type CopiedImage, type ImagePlan, type StagedImage } from './single.js';

export type { CopiedImage } from './single.js';

export interface CopyOptions {
  /**
   * Sign (or endorse / re-sign) every copied image with this signer. It may still be loading (its key,
   * its crypto code): the transfer starts at once and a signer that fails stops the copy when it fails.
   */
  sign?: { signer: Signer | Promise<Signer>; kind: SignatureKind };
  /** Copy with the signatures label emptied. */
  removeSignatures?: boolean;
  /**
   * Copy with each configuration replaced by what this returns (given the source configuration): e.g. some
   * signature entries removed (removeSignatureEntries). The same object: that image is copied unchanged.
   */
  editConfig?: (config: ImageConfig) => ImageConfig;
  /** From an index, copy only the image for this platform (the result is that image alone). */
  platform?: string;
  /** Blobs transferred at once (default 4; a sequential source is read one blob at a time). */
  jobs?: number;
  /** Compute everything (including signatures), write nothing. */
  dryRun?: boolean;
  /** Check every layer against its diff_id on the way and refuse to commit a broken image (always done when signing). */
  verify?: boolean;
  /** Largest uncompressed layer accepted while checking diff_ids (a decompression bomb fails with LimitExceeded). */
  maxLayerBytes?: number;
  /** Largest uncompressed / compressed layer ratio (default in layer-limits.ts; 0: none). */
  maxLayerRatio?: number;
  onProgress?: (e: ProgressEvent) => void;
  debug?: (m: string) => void;
  /** A repository on the destination's registry holding the blobs (cross-repository mount). */
  mountFrom?: ImageReference;
  /** The source's top-level manifest, already read from `source` by the caller: not read again. */
  top?: Manifest;
}

export interface CopyResult {
  /** Digest of the source's top-level manifest (the index, when one platform was picked from it). */
  sourceDigest: Digest;
  /** Digest of the top-level manifest written (or that would be written). */
  destinationDigest: Digest;
  kind: 'manifest' | 'index';
  images: CopiedImage[];
  /** The top-level manifest bytes written (or that would be written). */
  manifestBytes?: Uint8Array;
  dryRun: boolean;
}

/**
 * Copies an image (or every image of an index, or one platform of it) from `source` to `destination`.
 * Unmodified images keep their exact manifest bytes and digest. With `sign` each configuration gets the
 * signature, and manifests (and the index) are rewritten to point at the new configurations. Blobs
 * already at the destination are not written (but still read once when their diff_id must be proven);
 * a mismatch aborts before anything is committed.
 */
export async function copyImage(source: ImageSource, destination: ImageDestination, options: CopyOptions = {}): Promise<CopyResult> {
  const reference = source.reference.toString();
  const debug = options.debug ?? (() => undefined);
  const dryRun = options.dryRun === true;
  if ([options.sign, options.removeSignatures, options.editConfig].filter(Boolean).length > 1) throw new DsvError('Usage', 'one copy either signs, removes signatures or edits the configuration');

  // What to copy: the tree, read once.
  const top = options.top ?? (await readManifest(source));
  let root: Node;
  if (top.kind === 'index' && options.platform !== undefined) {
    const { manifests } = await resolveManifests(source, { platform: options.platform, top });
    const chosen = manifests[0]!;
    if (manifests.length > 1) debug(`${manifests.length} images match ${options.platform}; copying the first, ${chosen.manifest.digest}`);
    root = chosen.descriptor ? { kind: 'manifest', manifest: chosen.manifest, descriptor: chosen.descriptor } : { kind: 'manifest', manifest: chosen.manifest };
  } else {
    root = await readTree(source, top);
  }
  checkSupported(root, destination.supportedManifestMediaTypes(), destination.reference.toString());

  const ctx: BlobContext = { source, destination, dryRun, debug };
  if (options.mountFrom) ctx.mountFrom = options.mountFrom;
  if (options.maxLayerBytes !== undefined) ctx.maxLayerBytes = options.maxLayerBytes;
  if (options.maxLayerRatio !== undefined) ctx.maxLayerRatio = options.maxLayerRatio;
  if (options.onProgress) ctx.onProgress = options.onProgress;
  // Each blob once per copy: an image sharing a blob with one handled before waits for it.
  const transfers = new Map<string, Promise<BlobOutcome>>();
  const transfer = async (job: BlobJob): Promise<BlobOutcome> => {
    const key = `${job.descriptor.digest}|${job.diffIdAlgorithm ?? ''}`;
    const earlier = transfers.get(key);
    if (earlier) {
      const { copied: _c, bytes: _b, ...found } = await earlier;
      return { copied: false, bytes: 0, ...found };
    }
    const p = moveBlob(ctx, job);
    transfers.set(key, p);
    return p;
  };
  const plan: ImagePlan = { ctx, jobs: Math.max(1, options.jobs ?? 4), check: options.sign !== undefined || options.verify === true, transfer };
  if (options.sign) plan.sign = options.sign;
  if (options.removeSignatures) plan.removeSignatures = true;
  if (options.editConfig) plan.editConfig = options.editConfig;

  // Every blob of every image, streamed once; nothing is signed before all of them are proven.
  const nodes = imagesOf(root);
  const staged = new Map<string, StagedImage>();
  const staging = (async () => {
    for (const n of nodes) staged.set(n.manifest.digest, await stageImage(plan, n.manifest, n.descriptor));
  })();
  // The signer loads while the blobs stream (it is needed only once they are proven); one that fails to
  // load ends the copy then, not after the last blob. Nothing is committed either way.
  await Promise.all([staging, options.sign?.signer]);
  if (plan.check) {
    const many = nodes.length > 1;
    const failures = [...staged.values()].flatMap((s) =>
      s.failures.map((e) => (many ? new DsvError(e.code, `${s.platform ?? s.manifest.digest}: ${e.message}`, { ...e.details, manifest: s.manifest.digest }, { cause: e }) : e)),
    );
    if (failures.length > 0) throw integrityFailure(options.sign ? 'sign' : 'copy', reference, failures);
    debug(`integrity of ${reference} verified (${nodes.length} image${nodes.length === 1 ? '' : 's'})`);
  }

  const images: CopiedImage[] = [];
  const finished = new Map<string, Promise<{ bytes: Uint8Array; digest: Digest }>>();
  const image = (m: { digest: Digest }) => {
    let p = finished.get(m.digest);
    if (!p) {
      p = finishImage(plan, staged.get(m.digest)!).then((r) => {
        images.push(r.copied);
        return r;
      });
      finished.set(m.digest, p);
    }
    return p;
  };
  const children: Built[] = [];
  const written = await rebuild(root, image, children);
  if (!dryRun) {
    for (const m of children) await destination.putManifest(m.bytes, m.mediaType, m.digest);
    await destination.putManifest(written.bytes, written.mediaType);
    await destination.commit();
    debug(`${destination.reference.toString()}: committed ${written.digest}`);
  }
  return {
    sourceDigest: top.digest,
    destinationDigest: written.digest,
    kind: root.kind,
    images,
    manifestBytes: written.bytes,
    dryRun,
  };
}
