/**
 * The streaming integrity engine: every blob of an image (or of every image of an index) is read ONCE;
 * the compressed bytes are counted and hashed against the manifest's descriptor, decompressed in the same
 * pass and hashed against the configuration's rootfs.diff_ids. Memory stays bounded whatever the layer
 * size (streams with backpressure, nothing buffered), several layers run in parallel.
 */
import { layerLimit } from './layer-limits.js';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageConfig } from './config.js';
import { detectCompression, type Compression } from './decompress.js';
import { blobDigestError, blobSizeError } from './blob-checks.js';
import { DigestingStream, parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { inflatePool } from './inflate-pool.js';
import { configPlatform, readConfig, resolveManifests, type ResolvedManifest } from './image.js';
import type { Manifest } from './manifest.js';
import type { Descriptor } from './model.js';
import type { ImageSource, ProgressEvent } from './transport.js';

export interface LayerCheck {
  index: number;
  descriptor: Descriptor;
  /** The compression found in the stream (by magic number). */
  compression: Compression;
  expectedDiffId?: Digest;
  actualDigest?: Digest;
  actualSize?: number;
  actualDiffId?: Digest;
  digestOk: boolean;
  sizeOk: boolean;
  diffIdOk: boolean;
  error?: DsvError;
}

export interface ImageCheck {
  manifestDigest: Digest;
  mediaType: string;
  platform?: string;
  configDigest: Digest;
  configOk: boolean;
  configError?: DsvError;
  layers: LayerCheck[];
  ok: boolean;
}

export interface IntegrityReport {
  reference: string;
  digest: Digest;
  kind: 'manifest' | 'index';
  images: ImageCheck[];
  ok: boolean;
}

export interface IntegrityOptions {
  /** The top manifest must hash to this (a by-digest reference); DigestMismatch is thrown otherwise. */
  expectedDigest?: Digest;
  /** Only the images of an index for this platform. */
  platform?: string;
  /** Layers streamed at once (default 4). */
  concurrency?: number;
  /** Largest uncompressed layer accepted (a decompression bomb is a LimitExceeded failure; default in layer-limits.ts). */
  maxLayerBytes?: number;
  /** Largest uncompressed / compressed ratio (default in layer-limits.ts; 0: none). */
  maxLayerRatio?: number;
  onProgress?: (e: ProgressEvent) => void;
}

/** What streaming one blob found. */
interface BlobResult {
  compression: Compression;
  actualDigest?: Digest;
  actualSize: number;
  /** Undefined when the content could not be decompressed to the end. */
  uncompressedDigest?: Digest;
  /** A failure of the compressed stream (read error, size or digest mismatch). */
  blobError?: DsvError;
  /** A failure to decompress (corrupt data, limit). */
  inflateError?: DsvError;
}

function asDsvError(e: unknown, what: string): DsvError {
  if (e instanceof DsvError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DsvError('IoError', `${what}: ${msg}`, {}, { cause: e });
}

const PROGRESS_STEP = 4 * 1024 * 1024;

/**
 * Streams one layer blob once: hashes and counts the compressed bytes, inflates them in the same pass and
 * hashes the result with the algorithm of `diffIdLike`.
 */
async function streamLayer(
  source: ImageSource,
  descriptor: Descriptor,
  diffIdLike: Digest | undefined,
  opts: IntegrityOptions,
  offThread: boolean,
): Promise<BlobResult> {
  const name = `layer ${descriptor.digest}`;
  if (source.digestBlob) {
    const hashed = await digestInPlace(source, descriptor, diffIdLike, opts);
    if (hashed) return hashed;
  }
  let raw;
  try {
    raw = await source.getBlob(descriptor);
  } catch (e) {
    return { compression: 'none', actualSize: 0, blobError: asDsvError(e, name) };
  }
  const checker = new DigestingStream({ digest: descriptor.digest, size: descriptor.size, name: `blob ${descriptor.digest}` });
  const algorithm = diffIdLike ? parseDigest(diffIdLike).algorithm : 'sha256';
  const hasher = inflatePool.hasher(
    { algorithm, sameAsBlob: algorithm === checker.digester.algorithm, maxBytes: layerLimit(descriptor.size, opts), name },
    descriptor.size,
    offThread,
  );
  let overrun = false;

  // Compressed side: bytes go to the hasher (with backpressure); after an inflate failure it takes them
  // without waiting, so a corrupt layer is still reported with its real digest.
  let nextProgress = PROGRESS_STEP;
  const feed = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (opts.onProgress && checker.digester.size >= nextProgress) {
        nextProgress = checker.digester.size + PROGRESS_STEP;
        opts.onProgress({ id: descriptor.digest, done: checker.digester.size, total: descriptor.size, phase: 'verify' });
      }
      hasher.write(chunk, () => cb());
    },
    final(cb) {
      hasher.end();
      cb();
    },
  });

  let blobError: DsvError | undefined;
  try {
    await pipeline(raw, checker, feed);
  } catch (e) {
    blobError = asDsvError(e, `blob ${descriptor.digest}`);
    if (blobError.code === 'SizeMismatch' && checker.digester.size > descriptor.size) overrun = true;
    hasher.abort(blobError.message);
  }
  const inflated = await hasher.result(() => checker.digester.digest());
  const result: BlobResult = { compression: inflated.compression, actualSize: checker.digester.size };
  const readToEnd = blobError === undefined || blobError.code === 'DigestMismatch' || (blobError.code === 'SizeMismatch' && !overrun);
  if (readToEnd) result.actualDigest = checker.digester.digest();
  if (blobError) result.blobError = blobError;
  else if (inflated.error) result.inflateError = inflated.error;
  else result.uncompressedDigest = inflated.diffId;
  opts.onProgress?.({ id: descriptor.digest, done: checker.digester.size, total: descriptor.size, phase: 'verify' });
  return result;
}

/**
 * A blob the source hashes where it is stored (ImageSource.digestBlob): checked against the descriptor as
 * DigestingStream checks a stream, and its diff_id is its digest. Undefined when it must be streamed after
 * all: compressed, a diff_id in another algorithm, or longer than the layer limit (the inflater reports that).
 */
async function digestInPlace(source: ImageSource, descriptor: Descriptor, diffIdLike: Digest | undefined, opts: IntegrityOptions): Promise<BlobResult | undefined> {
  const { algorithm } = parseDigest(descriptor.digest);
  if (diffIdLike && parseDigest(diffIdLike).algorithm !== algorithm) return undefined;
  const label = `blob ${descriptor.digest}`;
  let r;
  try {
    r = await source.digestBlob!(descriptor, algorithm);
  } catch (e) {
    return { compression: 'none', actualSize: 0, blobError: asDsvError(e, `layer ${descriptor.digest}`) };
  }
  if (detectCompression(r.head) !== 'none') return undefined;
  const limit = layerLimit(descriptor.size, opts);
  if (limit !== undefined && r.size > limit) return undefined;
  opts.onProgress?.({ id: descriptor.digest, done: r.size, total: descriptor.size, phase: 'verify' });
  const expected = { digest: descriptor.digest, size: descriptor.size, name: label };
  const blobError = blobSizeError(expected, r.size, true) ?? blobDigestError(expected, r.digest);
  // As from a stream: an overrun is reported before any digest of the whole exists.
  if (blobError) return { compression: 'none', actualSize: r.size, ...(r.size > descriptor.size ? {} : { actualDigest: r.digest }), blobError };
  return { compression: 'none', actualSize: r.size, actualDigest: r.digest, uncompressedDigest: r.digest };
}

/**
 * Runs `tasks` with at most `limit` at once, in order of submission. After a failure no new task starts;
 * the first error is thrown once every running task has settled (nothing keeps running behind the caller).
 */
export async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < tasks.length && !failure) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** Reorders `items` (in place) as `order` lists their descriptors; anything it leaves out keeps its place first. */
export function inSequence<T>(items: T[], order: readonly Descriptor[], descriptor: (t: T) => Descriptor): void {
  const rank = new Map<string, number>();
  order.forEach((d, i) => rank.set(d.digest, rank.get(d.digest) ?? i));
  const at = (t: T) => rank.get(descriptor(t).digest) ?? -1;
  items.sort((a, b) => at(a) - at(b));
}

function imageLabel(check: ImageCheck, many: boolean): string {
  return many ? `${check.platform ?? check.manifestDigest}: ` : '';
}

/**
 * Internal: the report together with the configurations that were read (for verification). `onConfig` gets
 * each configuration as soon as it is read, before any layer is: a caller can check its signatures meanwhile.
 */
export async function checkIntegrity(
  source: ImageSource,
  opts: IntegrityOptions & { onConfig?: (index: number, config: ImageConfig) => void } = {},
): Promise<{ report: IntegrityReport; top: Manifest; resolved: ResolvedManifest[]; configs: (ImageConfig | undefined)[] }> {
  const resolveOpts: { platform?: string; expectedDigest?: Digest } = {};
  if (opts.platform !== undefined) resolveOpts.platform = opts.platform;
  if (opts.expectedDigest !== undefined) resolveOpts.expectedDigest = opts.expectedDigest;
  const { top, manifests } = await resolveManifests(source, resolveOpts);
  // Layers that stream (not hashed where stored) may be inflated in a worker, which starts while the configurations are read.
  const offThread = !source.digestBlob && inflatePool.plan(manifests.flatMap((r) => r.manifest.layers));

  const configs: (ImageConfig | undefined)[] = [];
  const images: ImageCheck[] = [];
  const tasks: { blob: Descriptor; run: () => Promise<void> }[] = [];
  // One stream per distinct (blob, expected diff_id algorithm): a layer shared by images is read once.
  const streamed = new Map<string, Promise<BlobResult>>();

  for (const r of manifests) {
    const m = r.manifest;
    const check: ImageCheck = {
      manifestDigest: m.digest,
      mediaType: m.mediaType,
      configDigest: m.config.digest,
      configOk: true,
      layers: [],
      ok: false,
    };
    if (r.platform !== undefined) check.platform = r.platform;
    let config: ImageConfig | undefined;
    let diffIds: Digest[] | undefined;
    try {
      config = await readConfig(source, m);
      diffIds = config.diffIds;
      check.platform ??= configPlatform(config);
      if (check.platform === undefined) delete check.platform;
      if (diffIds.length !== m.layers.length) {
        check.configOk = false;
        check.configError = new DsvError(
          'ConfigInvalid',
          `image configuration ${m.config.digest}: rootfs.diff_ids has ${diffIds.length} entries but manifest ${m.digest} has ${m.layers.length} layers`,
          { digest: m.config.digest, diffIds: diffIds.length, layers: m.layers.length },
        );
      }
    } catch (e) {
      check.configOk = false;
      check.configError = asDsvError(e, `image configuration ${m.config.digest}`);
    }
    if (config) opts.onConfig?.(configs.length, config);
    configs.push(config);
    images.push(check);

    m.layers.forEach((descriptor, index) => {
      const expectedDiffId = diffIds?.[index];
      const layer: LayerCheck = { index, descriptor, compression: 'none', digestOk: false, sizeOk: false, diffIdOk: false };
      if (expectedDiffId !== undefined) layer.expectedDiffId = expectedDiffId;
      check.layers.push(layer);
      const run = async (): Promise<void> => {
        const key = `${descriptor.digest}|${descriptor.size}|${expectedDiffId ? parseDigest(expectedDiffId).algorithm : 'sha256'}`;
        let p = streamed.get(key);
        if (!p) {
          p = streamLayer(source, descriptor, expectedDiffId, opts, offThread);
          streamed.set(key, p);
        }
        const res = await p;
        layer.compression = res.compression;
        layer.actualSize = res.actualSize;
        if (res.actualDigest !== undefined) layer.actualDigest = res.actualDigest;
        if (res.uncompressedDigest !== undefined) layer.actualDiffId = res.uncompressedDigest;
        layer.sizeOk = res.blobError === undefined ? true : res.actualSize === descriptor.size && res.blobError.code !== 'SizeMismatch' && res.actualDigest !== undefined;
        layer.digestOk = res.actualDigest === descriptor.digest && layer.sizeOk;
        const where = `layer ${index} ${descriptor.digest}`;
        if (res.blobError) {
          // The checker names the blob by its digest, which `where` already says.
          const detail = res.blobError.message.replace(`blob ${descriptor.digest}: `, '');
          layer.error = new DsvError(res.blobError.code, `${where}: ${detail}`, { ...res.blobError.details, layer: index, digest: descriptor.digest }, { cause: res.blobError });
        } else if (res.inflateError) {
          layer.error = new DsvError(res.inflateError.code, `${where}: cannot decompress: ${res.inflateError.message}`, { ...res.inflateError.details, layer: index, digest: descriptor.digest }, { cause: res.inflateError });
        } else if (expectedDiffId !== undefined) {
          layer.diffIdOk = res.uncompressedDigest === expectedDiffId;
          if (!layer.diffIdOk) {
            layer.error = new DsvError(
              'DigestMismatch',
              `${where}: diff_id mismatch: the uncompressed content is ${res.uncompressedDigest}, the configuration says ${expectedDiffId}`,
              { layer: index, digest: descriptor.digest, expectedDiffId, actualDiffId: res.uncompressedDigest },
            );
          }
        } else if (config !== undefined && check.configOk) {
          // Unreachable while counts match; kept so a layer can never pass without its diff_id.
          layer.error = new DsvError('ConfigInvalid', `${where}: no diff_id in image configuration ${m.config.digest}`, { layer: index });
        }
        if (layer.error?.code === 'DigestMismatch' && source.diagnoseBlob) {
          const why = await source.diagnoseBlob(descriptor).catch((e: unknown) => asDsvError(e, where));
          if (why) layer.error = new DsvError(layer.error.code, `${where}: ${why.message}`, { ...layer.error.details, ...why.details }, { cause: layer.error });
        }
      };
      tasks.push({ blob: descriptor, run });
    });
  }

  // Tasks are in manifest order: a sequential source gets them one at a time, in its order.
  const sequential = source.blobOrder === 'sequential';
  if (sequential && source.blobSequence) inSequence(tasks, source.blobSequence(tasks.map((t) => t.blob)), (t) => t.blob);
  // Every blob announced (done 0, its size from the manifest) before any is read: progress knows the total.
  if (opts.onProgress) for (const t of tasks) opts.onProgress({ id: t.blob.digest, done: 0, total: t.blob.size, phase: 'verify' });
  await runLimited(
    tasks.map((t) => t.run),
    sequential ? 1 : (opts.concurrency ?? 4),
  );
  for (const check of images) {
    check.ok = check.configOk && check.layers.every((l) => l.digestOk && l.sizeOk && l.diffIdOk);
  }
  const report: IntegrityReport = {
    reference: source.reference.toString(),
    digest: top.digest,
    kind: top.kind,
    images,
    ok: images.length > 0 && images.every((i) => i.ok),
  };
  return { report, top, resolved: manifests, configs };
}

/**
 * Checks that everything an image (or each image of an index) consists of is what its manifest and
 * configuration say. Per-blob failures are reported, not thrown; a manifest that cannot be read or parsed
 * (or does not match `expectedDigest`) throws.
 */
export async function verifyIntegrity(source: ImageSource, opts: IntegrityOptions = {}): Promise<IntegrityReport> {
  return (await checkIntegrity(source, opts)).report;
}

/** One error per failure in the report; messages name the blob (and the platform for an index). */
export function integrityErrors(report: IntegrityReport): DsvError[] {
  const errors: DsvError[] = [];
  const many = report.images.length > 1;
  for (const image of report.images) {
    const prefix = imageLabel(image, many);
    const wrap = (e: DsvError) => (prefix ? new DsvError(e.code, `${prefix}${e.message}`, { ...e.details, manifest: image.manifestDigest }, { cause: e }) : e);
    if (image.configError) errors.push(wrap(image.configError));
    for (const layer of image.layers) {
      if (layer.error) errors.push(wrap(layer.error));
      else if (!(layer.digestOk && layer.sizeOk && layer.diffIdOk) && !image.configError) {
        errors.push(wrap(new DsvError('DigestMismatch', `layer ${layer.index} ${layer.descriptor.digest}: failed verification`, { layer: layer.index })));
      }
    }
  }
  return errors;
}
