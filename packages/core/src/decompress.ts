import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createInflateRaw, type Gunzip, type InflateRaw } from 'node:zlib';

import type { Decompress as ZstdDecompress } from 'fzstd';
import { DsvError } from './errors.js';
import { GzipHeaderError, GzipHeaderParser, GzipTrailer } from './gzip-header.js';
import { loadOnce } from './lazy.js';

const INFLATE_CHUNK = 512 * 1024;
const EMPTY = Buffer.alloc(0);
/** fzstd on first use: most images are gzip, and every command imports core (≈ 12 ms). */
const loadFzstd = loadOnce(() => import('fzstd'));

export type Compression = 'gzip' | 'zstd' | 'none';

export interface DecompressOptions {
  /** Inflating past this many bytes fails the stream with LimitExceeded (a decompression bomb). */
  maxBytes?: number;
  /** What is being decompressed (a blob digest), used in error messages. */
  name?: string;
  /**
   * Check gzip's CRC-32 of the content (default true). A caller that digests the content and compares the digest
   * (a diff_id) passes false: the deflate data is then inflated raw, the CRC pass skipped (ISIZE still checked).
   * Corruption that still inflates then shows only in that digest.
   */
  crc?: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Compression recognised by its magic number (gzip 1f8b, zstd 28b52ffd); anything else is 'none'. */
export function detectCompression(firstBytes: Uint8Array): Compression {
  if (firstBytes.length >= 2 && firstBytes[0] === GZIP_MAGIC[0] && firstBytes[1] === GZIP_MAGIC[1]) return 'gzip';
  if (firstBytes.length >= 4 && ZSTD_MAGIC.every((b, i) => firstBytes[i] === b)) return 'zstd';
  return 'none';
}

/** One decompression engine behind the common stream: input in, output through `emit`. */
interface Engine {
  /** Feeds a chunk; `done` when the engine can take more input. */
  write(chunk: Buffer, done: (err?: Error) => void): void;
  /** Input is over; `done` once all output was emitted. */
  finish(done: (err?: Error) => void): void;
  /** The consumer wants more output. */
  resume(): void;
  destroy(): void;
}

/**
 * A decompressing Transform. `kind` 'auto' sniffs the magic number of the first bytes and reports what
 * it found in `detected` once known. Backpressure flows through: a slow consumer pauses inflation,
 * which stops taking input. Output over `maxBytes` is a LimitExceeded error; corrupt input is an
 * ArchiveInvalid error naming the blob.
 */
export class DecompressStream extends Transform {
  readonly kind: Compression | 'auto';
  /** The compression actually in use (after sniffing for 'auto'). */
  detected: Compression | undefined;
  /** Bytes produced so far. */
  outputBytes = 0;
  private readonly maxBytes: number | undefined;
  private readonly label: string;
  private readonly crc: boolean;
  private engine: Engine | undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  /** A write callback waiting for the consumer (zstd and none, which produce synchronously). */
  private waiting: (() => void) | undefined;
  private failed = false;

  constructor(kind: Compression | 'auto', opts: DecompressOptions = {}) {
    super();
    this.kind = kind;
    this.maxBytes = opts.maxBytes;
    this.label = opts.name ?? 'blob';
    this.crc = opts.crc ?? true;
    if (kind !== 'auto') this.start(kind);
  }

  private start(kind: Compression): void {
    this.detected = kind;
    if (kind === 'gzip') this.engine = this.crc ? this.gunzipEngine() : this.rawGzipEngine();
    else if (kind === 'zstd') this.engine = this.zstdEngine();
    else this.engine = this.plainEngine();
  }

  /** Pushes output downstream, enforcing the limit; false when the consumer is full (or we failed). */
  private output(data: Uint8Array): boolean {
    if (this.failed) return false;
    if (data.length === 0) return true;
    this.outputBytes += data.length;
    if (this.maxBytes !== undefined && this.outputBytes > this.maxBytes) {
      this.fail(new DsvError('LimitExceeded', `${this.label}: decompressed content is larger than the limit of ${this.maxBytes} bytes`, { name: this.label, limit: this.maxBytes }));
      return false;
    }
    return this.push(data);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.engine?.destroy();
    this.destroy(err);
  }

  private corrupt(kind: Compression, e: unknown): DsvError {
    if (e instanceof DsvError) return e;
    const why = e instanceof Error ? e.message : String(e);
    return new DsvError('ArchiveInvalid', `${this.label}: ${kind} data is corrupt: ${why}`, { name: this.label, compression: kind }, { cause: e });
  }

  private plainEngine(): Engine {
    return {
      write: (chunk, done) => {
        if (this.output(chunk)) done();
        else this.waiting = () => done();
      },
      finish: (done) => done(),
      resume: () => undefined,
      destroy: () => undefined,
    };
  }

  private zstdEngine(): Engine {
    let full = false;
    let z: ZstdDecompress | undefined;
    const run = (chunk: Uint8Array, final: boolean, done: (err?: Error) => void): void => {
      if (!z) {
        loadFzstd().then((fzstd) => {
          // fzstd may reuse its buffers: hand downstream a copy.
          z ??= new fzstd.Decompress((data) => {
            if (!this.output(Buffer.from(data))) full = true;
          });
          run(chunk, final, done);
        }, done);
        return;
      }
      full = false;
      try {
        z.push(chunk, final);
      } catch (e) {
        done(this.corrupt('zstd', e));
        return;
      }
      if (this.failed) return;
      if (full && !final) this.waiting = () => done();
      else done();
    };
    return {
      write: (chunk, done) => run(chunk, false, done),
      finish: (done) => run(new Uint8Array(0), true, done),
      resume: () => undefined,
      destroy: () => undefined,
    };
  }

  private gunzipEngine(): Engine {
    // zlib inflates on the libuv threadpool one output chunk at a time: its 16 KiB default makes a
    // round-trip per 16 KiB and left the main thread idle most of the time (bench/NOTES.md). 1 MiB chunks
    // (512 KiB here) are several times faster and keep memory bounded (one chunk per layer in flight).
    const g: Gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
    let finishing: ((err?: Error) => void) | undefined;
    g.on('data', (data: Buffer) => {
      if (!this.output(data)) g.pause();
    });
    g.on('error', (e) => {
      const err = this.corrupt('gzip', e);
      if (finishing) finishing(err);
      else this.fail(err);
    });
    g.on('end', () => finishing?.());
    return {
      write: (chunk, done) => {
        if (g.write(chunk)) done();
        else g.once('drain', () => done());
      },
      finish: (done) => {
        finishing = done;
        g.end();
      },
      resume: () => {
        if (!this.failed) g.resume();
      },
      destroy: () => g.destroy(),
    };
  }

  private rawGzipEngine(): Engine {
    // For callers that digest the content (crc: false). The member framing (RFC 1952: header, trailer, several
    // members) is parsed here and the deflate data between is inflated raw: zlib's gzip mode also computes the
    // CRC-32 of every output byte (≈ 4% of a signing copy's CPU samples, bench/NOTES.md §15), which the caller's
    // digest of the content makes redundant. ISIZE is still checked; trailing zero padding is ignored and any
    // other byte after a member must start the next one, as node:zlib's gunzip has it.
    let state: 'header' | 'body' | 'trailer' | 'between' | 'padding' = 'header';
    let header = new GzipHeaderParser();
    let trailer = new GzipTrailer();
    let inflater: InflateRaw | undefined;
    /** Bytes written to the current member's inflater, the last chunk written and its output so far. */
    let fed = 0;
    let last: Buffer = EMPTY;
    let memberOut = 0;
    let finished = false;
    /** The write (or finish) waiting for the inflater. */
    let next: ((err?: Error) => void) | undefined;
    const bad = (why: string) => this.corrupt('gzip', new Error(why));
    const takeNext = () => {
      const k = next;
      next = undefined;
      return k ?? (() => undefined);
    };

    const startMember = () => {
      const g = createInflateRaw({ chunkSize: INFLATE_CHUNK });
      inflater = g;
      fed = 0;
      last = EMPTY;
      memberOut = 0;
      g.on('data', (data: Buffer) => {
        memberOut += data.length;
        if (!this.output(data)) g.pause();
      });
      g.on('error', (e) => {
        if (inflater !== g) return;
        inflater = undefined;
        const err = this.corrupt('gzip', e);
        if (next) takeNext()(err);
        else this.fail(err);
      });
      g.on('end', () => {
        if (inflater !== g) return;
        // The deflate data is complete: what the inflater did not take (all in the last chunk: earlier ones were
        // taken whole) is the trailer and whatever follows it.
        const rest = fed > g.bytesWritten ? last.subarray(last.length - (fed - g.bytesWritten)) : EMPTY;
        last = EMPTY;
        inflater = undefined;
        g.destroy();
        state = 'trailer';
        trailer = new GzipTrailer();
        feed(rest, takeNext());
      });
    };

    const end = (done: (err?: Error) => void): void => {
      if (state === 'body' && inflater) {
        next = done;
        inflater.end();
      } else if (state === 'between' || state === 'padding') done();
      else done(bad('unexpected end of file'));
    };

    const feed = (input: Buffer, done: (err?: Error) => void): void => {
      let buf = input;
      try {
        while (buf.length > 0) {
          if (state === 'header') {
            buf = buf.subarray(header.consume(buf));
            if (header.done) {
              state = 'body';
              startMember();
            }
          } else if (state === 'body') {
            const g = inflater!;
            fed += buf.length;
            last = buf;
            const target = fed;
            next = done;
            g.write(buf, (err) => {
              // All of it taken: the member goes on. Less: the deflate data ended inside it, and 'end' follows.
              if (err || inflater !== g || g.bytesWritten !== target) return;
              last = EMPTY;
              const k = takeNext();
              if (finished) end(k);
              else k();
            });
            return;
          } else if (state === 'trailer') {
            buf = buf.subarray(trailer.consume(buf));
            if (trailer.done) {
              if (trailer.isize !== memberOut % 2 ** 32) throw bad('the size in the gzip trailer does not match the inflated size');
              state = 'between';
            }
          } else if (state === 'between') {
            if (buf[0] === 0) state = 'padding';
            else {
              state = 'header';
              header = new GzipHeaderParser();
            }
          } else buf = EMPTY;
        }
      } catch (e) {
        done(e instanceof GzipHeaderError ? bad(e.message) : (e as Error));
        return;
      }
      if (finished) end(done);
      else done();
    };

    return {
      write: (chunk, done) => feed(chunk, done),
      finish: (done) => {
        finished = true;
        end(done);
      },
      resume: () => {
        if (!this.failed) inflater?.resume();
      },
      destroy: () => inflater?.destroy(),
    };
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failed) return;
    if (!this.engine) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < 4) {
        cb();
        return;
      }
      chunk = Buffer.concat(this.head);
      this.head = [];
      this.start(detectCompression(chunk));
    }
    this.engine!.write(chunk, (err) => (err ? this.fail(err) : cb()));
  }

  override _flush(cb: TransformCallback): void {
    if (this.failed) return;
    if (!this.engine) {
      const rest = Buffer.concat(this.head);
      this.head = [];
      this.start(detectCompression(rest));
      if (rest.length > 0) {
        this.engine!.write(rest, (err) => (err ? this.fail(err) : this.engine!.finish((e) => (e ? this.fail(e) : cb()))));
        return;
      }
    }
    this.engine!.finish((err) => (err ? this.fail(err) : cb()));
  }

  override _read(size: number): void {
    const w = this.waiting;
    this.waiting = undefined;
    this.engine?.resume();
    w?.();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.failed = true;
    this.engine?.destroy();
    super._destroy(err, cb);
  }
}

/**
 * A Transform that inflates `kind` (gzip: multi-member streams accepted; zstd: multi-frame; none:
 * pass-through), failing with LimitExceeded once the output passes `maxBytes`.
 */
export function decompressor(kind: Compression | 'auto', opts: DecompressOptions = {}): DecompressStream {
  return new DecompressStream(kind, opts);
}
