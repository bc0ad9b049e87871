/**
 * One blob, one stream: source → (progress) → (inflate and diff_id hash, when signing or verifying) →
 * VerifiedBlob (digest and size) → destination. A blob the destination already has (or a dry run, or a
 * foreign layer) is still read once when its diff_id must be proven, and written nowhere.
 */
import { layerLimit } from '../layer-limits.js';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Compression } from '../decompress.js';
import { DiffIdHasher, type DiffIdOptions, type DiffIdResult } from '../diff-id.js';
import { VerifiedBlob, parseDigest, type Digest, type DigestAlgorithm } from '../digest.js';
import { DsvError } from '../errors.js';
import type { Descriptor } from '../model.js';
import type { ImageDestination, ImageReference, ImageSource, ProgressEvent } from '../transport.js';

/** What every blob of one copy shares. */
export interface BlobContext {
  source: ImageSource;
  destination: ImageDestination;
  dryRun: boolean;
  mountFrom?: ImageReference;
  maxLayerBytes?: number;
  maxLayerRatio?: number;
  onProgress?: (e: ProgressEvent) => void;
  debug: (m: string) => void;
}

export interface BlobJob {
  descriptor: Descriptor;
  /** The bytes, already read (a configuration) or made (a signed one): the source is not asked. */
  bytes?: Uint8Array;
  /** Inflate while streaming and hash the content with this algorithm (a layer whose diff_id is checked). */
  diffIdAlgorithm?: DigestAlgorithm;
  /** Not ours to store (a foreign layer): read only to check it. */
  readOnly?: boolean;
}

export interface BlobOutcome {
  /** Stored now (or, in a dry run, would be). */
  copied: boolean;
  bytes: number;
  compression?: Compression;
  /** The uncompressed content's digest, when asked for and the stream was whole. */
  diffId?: Digest;
  /** With a diff_id asked for: what went wrong reading or checking the blob (thrown otherwise). */
  error?: DsvError;
  /** The blob was whole but could not be inflated (corrupt data, limit). */
  inflateError?: DsvError;
}

export function asDsvError(e: unknown, what: string): DsvError {
  if (e instanceof DsvError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DsvError('IoError', `${what}: ${msg}`, {}, { cause: e });
}

const WRITE_STEP = 1024 * 1024;
const VERIFY_STEP = 4 * 1024 * 1024;

/** Counts bytes for progress reports. */
class Counter extends Transform {
  private done = 0;
  private next = 0;
  constructor(private readonly d: Descriptor, private readonly report: (e: ProgressEvent) => void, private readonly phase: ProgressEvent['phase'], private readonly step: number) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.done += chunk.length;
    if (this.done >= this.next || this.done === this.d.size) {
      this.next = this.done + this.step;
      this.report({ id: this.d.digest, done: this.done, total: this.d.size, phase: this.phase });
    }
    cb(null, chunk);
  }
}

/**
 * Passes the compressed bytes on unchanged and feeds them (with backpressure) to the diff_id hasher. A
 * failure to inflate never fails this stream: the bytes are still delivered and checked.
 */
class DiffIdTap extends Transform {
  private readonly hasher: DiffIdHasher;

  constructor(options: DiffIdOptions) {
    super();
    this.hasher = new DiffIdHasher(options);
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    // The chunk goes on at once (the upload does not wait for its inflation); only the next one waits
    // for an inflater that is behind.
    this.push(chunk);
    this.hasher.write(chunk, () => cb());
  }

  override _flush(cb: TransformCallback): void {
    this.hasher.end();
    cb();
  }

  /** Stops inflating (the copy gave up on this blob). */
  abort(): void {
    this.hasher.abort('blob stream abandoned');
  }

  /** After the stream: the compression found and the content digest (blobDigest: the VerifiedBlob's). */
  result(blobDigest: () => Digest): Promise<DiffIdResult> {
    return this.hasher.result(blobDigest);
  }
}

/** Streams one blob as the job says; see the file comment. */
export async function moveBlob(ctx: BlobContext, job: BlobJob): Promise<BlobOutcome> {
  const d = job.descriptor;
  const check = job.diffIdAlgorithm !== undefined;
  let write = !job.readOnly;
  let copied = false;
  if (write && (await ctx.destination.hasBlob(d))) {
    ctx.debug(`blob ${d.digest}: already at the destination`);
    write = false;
  }
  if (write && ctx.destination.tryReuseBlob && !ctx.dryRun) {
    if (await ctx.destination.tryReuseBlob(d, ctx.mountFrom ? { mountFrom: ctx.mountFrom } : {})) {
      ctx.debug(`blob ${d.digest}: reused${ctx.mountFrom ? ` (mounted from ${ctx.mountFrom.toString()})` : ''}`);
      write = false;
    }
  }
  if (write && ctx.dryRun) {
    ctx.debug(`blob ${d.digest}: would copy ${d.size} bytes`);
    write = false;
    copied = true;
  }
  if (!write && !check) return { copied, bytes: copied ? d.size : 0 };

  const out = new VerifiedBlob(d);
  // Its error is read from out.errored below; the source may fail it after the destination gave up.
  out.on('error', () => undefined);
  const stages: Transform[] = [];
  if (ctx.onProgress) stages.push(new Counter(d, ctx.onProgress, write ? 'write' : 'verify', write ? WRITE_STEP : VERIFY_STEP));
  let tap: DiffIdTap | undefined;
  if (job.diffIdAlgorithm) {
    tap = new DiffIdTap({
      algorithm: job.diffIdAlgorithm,
      sameAsBlob: job.diffIdAlgorithm === parseDigest(d.digest).algorithm,
      maxBytes: layerLimit(d.size, ctx),
      name: `layer ${d.digest}`,
    });
    stages.push(tap);
  }
  for (const s of stages) s.on('error', (e) => out.destroy(e));
  for (const [i, s] of stages.entries()) s.pipe(stages[i + 1] ?? out);
  const head = stages[0] ?? out;

  // The source is opened while the destination prepares its upload (a registry: the POST), not before:
  // one round trip less per blob. A source that fails fails the stream, and with it the upload.
  let raw: Readable | undefined;
  const opened = (job.bytes ? Promise.resolve(Readable.from([Buffer.from(job.bytes)])) : ctx.source.getBlob(d)).then(
    (r) => {
      raw = r;
      if (out.destroyed) return void r.destroy();
      r.on('error', (e) => out.destroy(e));
      r.pipe(head);
    },
    (e: unknown) => void out.destroy(e instanceof Error ? e : new Error(String(e))),
  );
  let failure: DsvError | undefined;
  try {
    if (write) {
      await ctx.destination.putBlob(d, out, ctx.mountFrom ? { mountFrom: ctx.mountFrom } : {});
    } else {
      await pipeline(out, new Writable({ write: (_c, _e, cb) => cb() }));
    }
  } catch (e) {
    // A destination may report a failed stream in its own words; the stream's error says what broke.
    failure = out.errored ? asDsvError(out.errored, `blob ${d.digest}`) : undefined;
    if (!failure || !check) {
      tap?.abort();
      throw failure ?? e;
    }
  } finally {
    await opened;
    for (const s of stages) if (!s.destroyed && s !== tap) s.destroy();
    if (!out.destroyed) out.destroy();
    if (raw && !raw.destroyed) raw.destroy();
  }
  const outcome: BlobOutcome = { copied: write || copied, bytes: write || copied ? d.size : 0 };
  if (tap) {
    const r = await tap.result(() => out.digester.digest());
    outcome.compression = r.compression;
    if (failure) outcome.error = failure;
    else if (r.error) outcome.inflateError = r.error;
    else if (r.diffId) outcome.diffId = r.diffId;
    else outcome.error = new DsvError('IoError', `blob ${d.digest}: not read to its end (its diff_id is unproven)`, { digest: d.digest });
    if (!tap.destroyed) tap.destroy();
  }
  if (failure) {
    outcome.copied = false;
    outcome.bytes = 0;
  }
  if (write && !failure) ctx.debug(`blob ${d.digest}: copied ${d.size} bytes`);
  return outcome;
}
