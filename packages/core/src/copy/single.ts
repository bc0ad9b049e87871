/**
 * One image of a copy, in two stages. stageImage: its configuration read once (when it will be rewritten
 * or its layers checked) and every blob streamed once, layers checked against rootfs.diff_ids on the way
 * when signing or verifying. finishImage (after every image was staged and proven): the configuration
 * rewritten and put, and the manifest that points at it made.
 */
import type { ImageConfig } from '../config.js';
import { digestOf, parseDigest, type Digest } from '../digest.js';
import { DsvError } from '../errors.js';
import { configPlatform, readConfig } from '../image.js';
import { inSequence, runLimited } from '../integrity.js';
import { platformString, replaceConfig, type ImageManifest } from '../manifest.js';
import type { Descriptor } from '../model.js';
import type { Signer } from '../signer.js';
import type { SignatureEntry, SignatureKind } from '../signatures.js';
import { asDsvError, type BlobContext, type BlobJob, type BlobOutcome } from './blob.js';
import { layerFailure, rewriteConfig } from './sign.js';

export interface CopiedImage {
  platform?: string;
  sourceManifestDigest: Digest;
  manifestDigest: Digest;
  sourceConfigDigest: Digest;
  configDigest: Digest;
  /** The signature added (when signing). */
  signature?: SignatureEntry;
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
}

/** How every image of one copy is handled. */
export interface ImagePlan {
  ctx: BlobContext;
  /** Blobs streamed at once (1 for a sequential source). */
  jobs: number;
  /** Prove every layer's diff_id (signing, or asked to verify). */
  check: boolean;
  sign?: { signer: Signer | Promise<Signer>; kind: SignatureKind };
  removeSignatures?: boolean;
  editConfig?: (config: ImageConfig) => ImageConfig;
  /** Streams a blob, each blob once per copy (see copy.ts). */
  transfer: (job: BlobJob) => Promise<BlobOutcome>;
}

export interface StagedImage {
  manifest: ImageManifest;
  descriptor?: Descriptor;
  platform?: string;
  config?: ImageConfig;
  results: BlobOutcome[];
  /** Integrity failures found while checking (only when the plan checks). */
  failures: DsvError[];
}

const modifies = (plan: ImagePlan): boolean => plan.sign !== undefined || plan.removeSignatures === true || plan.editConfig !== undefined;

export async function stageImage(plan: ImagePlan, m: ImageManifest, descriptor?: Descriptor): Promise<StagedImage> {
  const staged: StagedImage = { manifest: m, results: [], failures: [] };
  if (descriptor) staged.descriptor = descriptor;
  if (descriptor?.platform) staged.platform = platformString(descriptor.platform);
  const { source } = plan.ctx;
  let diffIds: Digest[] | undefined;
  if (modifies(plan) || plan.check) {
    try {
      staged.config = await readConfig(source, m);
    } catch (e) {
      if (!plan.check) throw e;
      staged.failures.push(asDsvError(e, `image configuration ${m.config.digest}`));
      return staged;
    }
    staged.platform ??= configPlatform(staged.config);
    diffIds = staged.config.diffIds;
    if (plan.check && diffIds.length !== m.layers.length) {
      staged.failures.push(
        new DsvError(
          'ConfigInvalid',
          `image configuration ${m.config.digest}: rootfs.diff_ids has ${diffIds.length} entries but manifest ${m.digest} has ${m.layers.length} layers`,
          { digest: m.config.digest, diffIds: diffIds.length, layers: m.layers.length },
        ),
      );
      return staged;
    }
  }

  const jobs: { job: BlobJob; layer?: number }[] = [];
  // A configuration to be rewritten is put by finishImage; one already read is not read again.
  if (!modifies(plan)) jobs.push({ job: staged.config ? { descriptor: m.config, bytes: staged.config.bytes } : { descriptor: m.config } });
  m.layers.forEach((d, layer) => {
    // Foreign layers (with urls) are not ours to copy, as with docker and skopeo; signing still reads them.
    const foreign = d.urls !== undefined && d.urls.length > 0;
    if (foreign && !plan.check) return;
    const job: BlobJob = { descriptor: d };
    if (foreign) job.readOnly = true;
    if (plan.check) job.diffIdAlgorithm = parseDigest(diffIds![layer]!).algorithm;
    jobs.push({ job, layer });
  });
  // A sequential source is read in manifest order, one blob at a time. Otherwise largest first: with
  // `jobs` parallel transfers, a big layer started last would run alone at the end.
  const sequential = source.blobOrder === 'sequential';
  if (!sequential) jobs.sort((a, b) => b.job.descriptor.size - a.job.descriptor.size);
  else if (source.blobSequence) inSequence(jobs, source.blobSequence(jobs.map((j) => j.job.descriptor)), (j) => j.job.descriptor);
  // Checked blobs are all read: announce them (done 0, size from the manifest) so progress knows the total.
  if (plan.check && plan.ctx.onProgress) for (const j of jobs) plan.ctx.onProgress({ id: j.job.descriptor.digest, done: 0, total: j.job.descriptor.size, phase: 'read' });
  const results = await runLimited(
    jobs.map((j) => () => plan.transfer(j.job)),
    sequential ? 1 : plan.jobs,
  );
  // Foreign layers are not copied, so not counted.
  staged.results = results.filter((_, i) => !jobs[i]!.job.readOnly);
  if (plan.check) {
    for (const [i, j] of jobs.entries()) {
      if (j.layer === undefined) continue;
      const failure = await layerFailure(source, j.layer, j.job.descriptor, diffIds![j.layer]!, results[i]!);
      if (failure) staged.failures.push(failure);
    }
    // Report layers in manifest order whatever order they were streamed in.
    staged.failures.sort((a, b) => Number(a.details.layer ?? -1) - Number(b.details.layer ?? -1));
  }
  return staged;
}

/** Rewrites and puts the configuration (when asked to), and makes the image's manifest. */
export async function finishImage(plan: ImagePlan, staged: StagedImage): Promise<{ copied: CopiedImage; bytes: Uint8Array; digest: Digest }> {
  const m = staged.manifest;
  const results = [...staged.results];
  let configDescriptor = m.config;
  let entry: SignatureEntry | undefined;
  if (modifies(plan)) {
    const config = staged.config!;
    const next = await rewriteConfig(config, plan);
    entry = next.entry;
    if (next.config.digest !== config.digest) configDescriptor = { ...m.config, digest: next.config.digest, size: next.config.bytes.length };
    results.push(await plan.transfer({ descriptor: configDescriptor, bytes: next.config.bytes }));
  }
  const changed = configDescriptor.digest !== m.config.digest;
  const bytes = changed ? replaceConfig(m, configDescriptor) : m.bytes;
  const digest = changed ? digestOf(bytes) : m.digest;
  const copied: CopiedImage = {
    sourceManifestDigest: m.digest,
    manifestDigest: digest,
    sourceConfigDigest: m.config.digest,
    configDigest: configDescriptor.digest,
    blobsCopied: results.filter((r) => r.copied).length,
    blobsSkipped: results.filter((r) => !r.copied).length,
    bytesCopied: results.reduce((n, r) => n + r.bytes, 0),
  };
  if (staged.platform !== undefined) copied.platform = staged.platform;
  if (entry) copied.signature = entry;
  return { copied, bytes, digest };
}
