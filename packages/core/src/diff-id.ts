/**
 * A layer's diff_id while its compressed bytes stream past, shared by the copy and the integrity engine:
 * the bytes are inflated (gzip, zstd, or none, by magic number) and the content hashed; an uncompressed
 * layer's diff_id is the blob digest computed anyway. Writes take a callback for backpressure; a failure
 * to inflate never throws here, it is the result.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressor, type Compression, type DecompressStream } from './decompress.js';
import { Digester, type Digest, type DigestAlgorithm } from './digest.js';
import { DsvError } from './errors.js';

/**
 * gzip input is handed to the inflater in batches of this size: node:zlib runs every write as at least one job on
 * the thread pool (a wake-up there and a completion back here), and the socket gives 64 KiB at a time; batching
 * takes a 290 MiB verify from ≈ 4.6 k jobs to ≈ 1.1 k (bench/NOTES.md §29).
 */
const GZIP_BATCH = 512 * 1024;

export interface DiffIdOptions {
  algorithm: DigestAlgorithm;
  /** The blob digest uses the same algorithm: an uncompressed layer's diff_id is that digest. */
  sameAsBlob: boolean;
  /** Content over this many bytes is a LimitExceeded failure. */
  maxBytes: number | undefined;
  /** Names the layer in errors. */
  name: string;
}

export interface DiffIdResult {
  compression: Compression;
  /** The content digest; undefined on error or when the stream was not read to its end. */
  diffId?: Digest;
  /** The content could not be inflated (corrupt data, limit). */
  error?: DsvError;
}

/** Feed it the compressed bytes in order, then `end()` (or `abort()`), then read `result()`. */
export class DiffIdHasher {
  private readonly inflater: DecompressStream;
  private readonly digester: Digester;
  private readonly inflated: Promise<void>;
  private error: DsvError | undefined;
  private ended = false;
  private aborted = false;
  /** The gzip batch being filled (batchLen bytes so far), and batches the inflater is through with. */
  private batch: Buffer | undefined;
  private batchLen = 0;
  private readonly spare: Buffer[] = [];

  constructor(private readonly o: DiffIdOptions) {
    const inflater = (this.inflater = decompressor('auto', { maxBytes: o.maxBytes, name: o.name, crc: false }));
    const digester = (this.digester = new Digester(o.algorithm));
    this.inflated = pipeline(
      inflater,
      new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _enc, cb) {
          if (!(o.sameAsBlob && inflater.detected === 'none')) digester.update(chunk);
          cb();
        },
      }),
    ).catch((e: unknown) => {
      this.error = e instanceof DsvError ? e : new DsvError('IoError', `${o.name}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    });
  }

  private get stopped(): boolean {
    return this.error !== undefined || this.inflater.destroyed;
  }

  /**
   * Takes a chunk; `ready` runs when the next may come (at once unless the inflater is behind). `consumed`, if
   * given, runs once nothing here holds the chunk any more, so its memory may be refilled: gzip content once the
   * inflater is through with it (its header and trailer parsers copy what they keep) or at once when it was copied
   * into a batch, any chunk not taken at all. Never for plain content (handed on as it is), zstd (its decoder may keep
   * input), a first chunk too short to tell, or a stream that failed.
   */
  write(chunk: Buffer, ready: () => void, consumed?: () => void): void {
    if (this.aborted || this.ended || this.stopped) {
      consumed?.();
      return ready();
    }
    if (this.inflater.detected !== 'gzip' || (this.batchLen === 0 && chunk.length >= GZIP_BATCH)) return this.feed(chunk, ready, consumed);
    // Copied into the batch: the caller may have the chunk back at once; a full batch goes to the inflater.
    let off = 0;
    let full: Buffer | undefined;
    while (off < chunk.length) {
      const batch = (this.batch ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(GZIP_BATCH));
      const n = chunk.copy(batch, this.batchLen, off);
      off += n;
      this.batchLen += n;
      if (this.batchLen === GZIP_BATCH) {
        // A chunk filling more than one batch: the earlier ones go without waiting (the inflater queues them).
        if (full) this.feed(full, () => undefined, this.recycle(full));
        full = this.takeBatch();
      }
    }
    consumed?.();
    if (!full) return ready();
    this.feed(full, ready, this.recycle(full));
  }

  private takeBatch(): Buffer {
    const b = this.batch!.subarray(0, this.batchLen);
    this.batch = undefined;
    this.batchLen = 0;
    return b;
  }

  /** The batch goes back to the spares once the inflater is through with it (its parsers copy what they keep). */
  private recycle(b: Buffer): () => void {
    return () => {
      if (b.length === GZIP_BATCH && this.spare.length < 2) this.spare.push(Buffer.from(b.buffer, b.byteOffset, GZIP_BATCH));
    };
  }

  private feed(chunk: Buffer, ready: () => void, consumed?: () => void): void {
    const inflater = this.inflater;
    const through = consumed && ((err?: Error | null) => err || (inflater.detected === 'gzip' && consumed()));
    if (inflater.write(chunk, through) || inflater.destroyed) return ready();
    const release = () => {
      inflater.off('drain', release);
      inflater.off('close', release);
      ready();
    };
    inflater.on('drain', release);
    inflater.on('close', release);
  }

  /** Every byte was written. */
  end(): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    if (this.stopped) return;
    if (this.batchLen > 0) this.inflater.write(this.takeBatch());
    this.inflater.end();
  }

  /** Stops inflating: the blob was not read to its end. */
  abort(why: string): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.inflater.destroy(new Error(why));
  }

  /** After end() or abort(): the compression found and (after end) the content digest or why there is none. */
  async result(blobDigest: () => Digest): Promise<DiffIdResult> {
    if (!this.ended) this.abort('blob stream ended early');
    await this.inflated;
    const compression = this.inflater.detected ?? 'none';
    if (!this.ended) return { compression };
    if (this.error) return { compression, error: this.error };
    return { compression, diffId: this.o.sameAsBlob && compression === 'none' ? blobDigest() : this.digester.digest() };
  }
}
