/**
 * Hashing tar-split layers off the main thread: a pool of worker threads (one per core, at most 2) that
 * rebuild a layer's tar stream from the segments the main thread parsed and the files it opened (with
 * directoryFileGetter's checks), reading each file straight into one reused 1 MiB buffer, and hash it
 * (SHA-256 / SHA-512). Only the digest, the length and the first 512 bytes come back: no bytes are handed
 * over, so no fresh memory is faulted in per chunk (bench/NOTES.md §23).
 *
 * The first hasher is the main thread itself, running the same code between its other work: hashing starts at
 * once, while a worker starts (≈ 75 ms of CPU each), and a 2-core machine starts one worker, not two.
 *
 * Bounded: at most MAX_OPEN files open and MAX_OPS entries queued ahead of a hasher per layer; one 1 MiB
 * buffer per layer being hashed.
 */
import { availableParallelism } from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { DsvError, parseDigest, type Digest, type DigestAlgorithm } from '@dsv/core/formats';
import { directoryFileGetter, readTarSplitEntries } from './tarsplit.js';

const CHUNK = 1024 * 1024;
const HEAD = 512;
const MAX_OPEN = 64;
const MAX_OPS = 4096;

/**
 * What a hasher runs (plain JavaScript, evaluated: no file to ship beside the bundles), given `parentPort`,
 * `readSync`, `createHash`, `Buffer` and `setImmediate`. Per job: a queue of entries (`s`: segment bytes;
 * `f`, `n`, `r`: descriptor, size, name of a file), one chunk filled and hashed per turn, jobs taking turns
 * (setImmediate between turns lets new entries and cancels in, and on the main thread its other work).
 */
const HASHER_BODY = `
const CHUNK = ${CHUNK};
const HEAD = ${HEAD};
const jobs = new Map();
let scheduled = false;
const schedule = () => { if (!scheduled) { scheduled = true; setImmediate(step); } };
const held = (job) => { const fds = job.released; for (let i = job.at; i < job.ops.length; i++) if (job.ops[i].f !== undefined) fds.push(job.ops[i].f); return fds; };
parentPort.on('message', (m) => {
  if (m.t === 'close') { jobs.clear(); return; }
  const job = jobs.get(m.id);
  if (m.t === 'open') {
    jobs.set(m.id, { id: m.id, algorithm: m.algorithm, hash: createHash(m.algorithm), ops: [], at: 0, off: 0, ended: false,
      out: Buffer.allocUnsafeSlow(CHUNK), len: 0, size: 0, head: undefined, released: [], opsDone: 0, reported: 0 });
  } else if (!job) {
    if (m.t === 'cancel') parentPort.postMessage({ t: 'cancelled', id: m.id, fds: [] });
    return;
  } else if (m.t === 'ops') {
    for (const op of m.ops) job.ops.push(op);
  } else if (m.t === 'end') {
    job.ended = true;
  } else if (m.t === 'cancel') {
    jobs.delete(m.id);
    parentPort.postMessage({ t: 'cancelled', id: m.id, fds: held(job) });
    return;
  }
  schedule();
});
parentPort.postMessage({ t: 'ready' });
function fail(job, code, message, file) {
  jobs.delete(job.id);
  parentPort.postMessage({ t: 'error', id: job.id, code, message, file, fds: held(job) });
}
// Fills the job's chunk from its queued entries; false when the job failed.
function fill(job) {
  const out = job.out;
  while (job.len < CHUNK && job.at < job.ops.length) {
    const op = job.ops[job.at];
    if (op.s !== undefined) {
      const n = Math.min(CHUNK - job.len, op.s.length - job.off);
      out.set(op.s.subarray(job.off, job.off + n), job.len);
      job.len += n; job.off += n;
      if (job.off < op.s.length) continue;
    } else {
      const want = Math.min(CHUNK - job.len, op.n - job.off);
      let got;
      try { got = readSync(op.f, out, job.len, want, job.off); } catch (e) { fail(job, 'IoError', 'cannot read "' + op.r + '": ' + (e.code || e.message), op.r); return false; }
      if (got === 0) { fail(job, 'SizeMismatch', 'file "' + op.r + '" changed on disk: ' + job.off + ' bytes, tar-split says ' + op.n, op.r); return false; }
      job.len += got; job.off += got;
      if (job.off < op.n) continue;
      // A longer file also means it changed after the layer was stored.
      let more = 0;
      try { more = readSync(op.f, Buffer.alloc(1), 0, 1, op.n); } catch (e) { fail(job, 'IoError', 'cannot read "' + op.r + '": ' + (e.code || e.message), op.r); return false; }
      if (more) { fail(job, 'SizeMismatch', 'file "' + op.r + '" changed on disk: longer than the ' + op.n + ' bytes tar-split records', op.r); return false; }
      job.released.push(op.f);
    }
    job.ops[job.at] = undefined; job.at++; job.off = 0; job.opsDone++;
  }
  if (job.at > 4096) { job.ops = job.ops.slice(job.at); job.at = 0; }
  return true;
}
function step() {
  scheduled = false;
  let busy = false;
  for (const job of [...jobs.values()]) {
    if (!fill(job)) continue;
    const drained = job.at >= job.ops.length;
    if (job.len === CHUNK || (drained && job.ended && job.len > 0)) {
      const out = job.out.subarray(0, job.len);
      if (!job.head) job.head = Buffer.from(out.subarray(0, HEAD));
      job.hash.update(out);
      job.size += job.len;
      job.len = 0;
    }
    if (drained && job.ended) {
      jobs.delete(job.id);
      parentPort.postMessage({ t: 'done', id: job.id, digest: job.algorithm + ':' + job.hash.digest('hex'), size: job.size, head: job.head, fds: job.released });
      continue;
    }
    // Descriptors read to their end go back to be closed; progress lets more entries come.
    if (job.released.length >= 16 || (drained && (job.released.length || job.reported !== job.opsDone))) {
      parentPort.postMessage({ t: 'progress', id: job.id, fds: job.released, opsDone: job.opsDone });
      job.released = []; job.reported = job.opsDone;
    }
    if (!drained) busy = true;
  }
  if (busy) schedule();
}
`;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
${HASHER_BODY}`;

/**
 * The hasher on the main thread, shaped as the pool uses a Worker: messages go both ways asynchronously (as
 * between threads) and segment bytes are not copied (tar-split gives each its own buffer).
 */
class MainThreadHasher extends EventEmitter {
  private deliver?: (m: unknown) => void;

  constructor() {
    super();
    const port = {
      on: (_event: 'message', fn: (m: unknown) => void) => (this.deliver = fn),
      postMessage: (m: unknown) => queueMicrotask(() => this.emit('message', m)),
    };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the same source the workers evaluate
    new Function('parentPort', 'readSync', 'createHash', 'Buffer', 'setImmediate', HASHER_BODY)(port, readSync, createHash, Buffer, setImmediate);
  }

  postMessage(m: unknown): void {
    queueMicrotask(() => this.deliver?.(m));
  }

  ref(): void {}
  unref(): void {}

  async terminate(): Promise<number> {
    this.deliver?.({ t: 'close' });
    this.deliver = undefined;
    this.emit('exit', 0);
    return 0;
  }
}

type FromWorker =
  | { t: 'progress'; id: number; fds: number[]; opsDone: number }
  | { t: 'done'; id: number; digest: string; size: number; head?: Uint8Array; fds: number[] }
  | { t: 'error'; id: number; code: 'IoError' | 'SizeMismatch'; message: string; file: string; fds: number[] }
  | { t: 'cancelled'; id: number; fds: number[] };

/** A layer's metadata (tar-split), the directory holding its files, and its label for messages. */
export interface LayerFiles {
  metadata: Readable;
  dir: string;
  layer: string;
}

export interface LayerDigest {
  digest: Digest;
  /** Length of the rebuilt tar stream. */
  size: number;
  /** Its first bytes (up to 512). */
  head: Uint8Array;
}

/** What the pool uses of a hasher: a Worker or the MainThreadHasher. */
interface Hasher {
  postMessage(m: unknown): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'message', fn: (m: FromWorker | { t: 'ready' }) => void): unknown;
  on(event: 'error', fn: (e: unknown) => void): unknown;
  on(event: 'exit', fn: (code: number) => void): unknown;
}

interface PoolWorker {
  worker: Hasher;
  jobs: Map<number, (m: FromWorker) => void>;
  /** It runs (a worker says so once started). */
  ready: boolean;
  /** Layers given to it and not yet settled (0 or 1). */
  load: number;
}

/**
 * Up to 2 hashers (one per core): the main thread first, then a worker thread when a layer waits while every
 * hasher is busy. Each hashes one layer at a time and takes the next waiting one when done, so the layers spread
 * over the hashers as each finishes (a slow start or other work on the main thread is balanced out). `mainThread:
 * false`: workers only. close() ends them.
 */
export class TarSplitHashPool {
  private readonly size: number;
  private readonly mainThread: boolean;
  private readonly workers: PoolWorker[] = [];
  private readonly waiting: { resolve: (pw: PoolWorker) => void; reject: (e: Error) => void }[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size = Math.max(1, Math.min(2, availableParallelism())), opts: { mainThread?: boolean } = {}) {
    this.size = size;
    this.mainThread = opts.mainThread ?? true;
  }

  /** A hasher with no layer, once one is free: layers wait here so that each goes to whichever hasher frees first. */
  private acquire(): Promise<PoolWorker> {
    if (this.closed) return Promise.reject(new DsvError('IoError', 'the layer hashing pool is closed'));
    const free = this.free();
    if (free) {
      free.load++;
      return Promise.resolve(free);
    }
    const waiting = new Promise<PoolWorker>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.grow();
    return waiting;
  }

  private free(): PoolWorker | undefined {
    return this.workers.find((w) => w.ready && w.load === 0);
  }

  private release(pw: PoolWorker): void {
    pw.load--;
    this.dispatch();
  }

  private dispatch(): void {
    for (let free = this.free(); free && this.waiting.length; free = this.free()) {
      free.load++;
      this.waiting.shift()!.resolve(free);
    }
  }

  /** Starts a hasher when a layer waits and fewer than `size` exist: the main thread's at once, a worker's once it runs. */
  private grow(): void {
    if (this.workers.length >= this.size) return;
    const local = this.mainThread && !this.workers.some((w) => w.worker instanceof MainThreadHasher);
    const worker: Hasher = local ? new MainThreadHasher() : new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
    const pw: PoolWorker = { worker, jobs: new Map(), ready: false, load: 0 };
    worker.on('message', (m: FromWorker | { t: 'ready' }) => {
      if (m.t !== 'ready') pw.jobs.get(m.id)?.(m);
      else if (!this.closed) {
        pw.ready = true;
        this.dispatch();
        if (!pw.load) worker.unref();
      }
    });
    const failAll = (e: unknown) => {
      const i = this.workers.indexOf(pw);
      if (i >= 0) this.workers.splice(i, 1);
      const message = `layer hashing thread failed: ${e instanceof Error ? e.message : String(e)}`;
      for (const [id, onMessage] of [...pw.jobs]) onMessage({ t: 'error', id, code: 'IoError', message, file: '', fds: [] });
      // A hasher that never ran: the layers waiting for it fail rather than wait for nothing.
      if (!pw.ready && !this.workers.some((w) => w.ready)) for (const w of this.waiting.splice(0)) w.reject(new DsvError('IoError', message));
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`exited with code ${code}`)));
    // A starting worker holds the process open (a layer waits for it); once running, only while it has a layer.
    this.workers.push(pw);
  }

  /**
   * The digest (in `algorithm`) and length of the layer's tar stream rebuilt from `metadata` and the files
   * under `dir`, and its first bytes. Fails naming the layer and the file when a file is missing, not a
   * regular file, outside the directory, or shorter or longer than tar-split says; on malformed metadata.
   */
  async digest(opts: LayerFiles & { algorithm: DigestAlgorithm; signal?: AbortSignal }): Promise<LayerDigest> {
    let pw: PoolWorker | undefined;
    try {
      opts.signal?.throwIfAborted();
      pw = await this.acquire();
      opts.signal?.throwIfAborted();
    } catch (e) {
      if (pw) this.release(pw);
      opts.metadata.destroy();
      throw e;
    }
    try {
      return await this.run(pw, opts);
    } finally {
      this.release(pw);
    }
  }

  private run(pw: PoolWorker, opts: LayerFiles & { algorithm: DigestAlgorithm; signal?: AbortSignal }): Promise<LayerDigest> {
    const { metadata, dir, layer: label, algorithm, signal } = opts;
    return new Promise<LayerDigest>((resolve, reject) => {
      const id = this.nextId++;
      const getter = directoryFileGetter(dir, label);
      const open = new Map<number, FileHandle>();
      let opsSent = 0;
      let opsDone = 0;
      let finished = false; // the worker holds none of our descriptors any more
      let stopped: Error | undefined; // failed or cancelled on this side: feed no more
      let wake: (() => void) | undefined;
      const post = (m: unknown) => pw.worker.postMessage(m);
      const release = (fds: number[]) => {
        for (const fd of fds) {
          const h = open.get(fd);
          open.delete(fd);
          void h?.close().catch(() => {});
        }
      };
      const onAbort = () => cancel(signal!.reason instanceof Error ? signal!.reason : new DsvError('IoError', `${label}: aborted`));
      const settle = () => {
        finished = true;
        pw.jobs.delete(id);
        if (!pw.jobs.size) pw.worker.unref();
        signal?.removeEventListener('abort', onAbort);
        metadata.destroy();
        release([...open.keys()]);
        wake?.();
      };
      const cancel = (why: Error) => {
        if (finished || stopped) return;
        stopped = why;
        post({ t: 'cancel', id });
        wake?.();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      pw.jobs.set(id, (m) => {
        if (m.fds.length) release(m.fds);
        switch (m.t) {
          case 'progress':
            opsDone = m.opsDone;
            wake?.();
            return;
          case 'done':
            settle();
            resolve({ digest: parseDigest(m.digest).digest, size: m.size, head: m.head ?? new Uint8Array(0) });
            return;
          case 'error':
            settle();
            reject(stopped ?? new DsvError(m.code, `${label}: ${m.message}`, m.file ? { file: m.file } : {}));
            return;
          case 'cancelled':
            settle();
            reject(stopped ?? new DsvError('IoError', `${label}: hashing stopped`));
            return;
        }
      });
      // While it hashes for us the worker keeps the process alive (its answer may be all we wait for).
      pw.worker.ref();
      post({ t: 'open', id, algorithm });

      const feed = async () => {
        let batch: ({ s: Uint8Array } | { f: number; n: number; r: string })[] = [];
        let batchBytes = 0;
        const flush = () => {
          if (!batch.length) return;
          post({ t: 'ops', id, ops: batch });
          opsSent += batch.length;
          batch = [];
          batchBytes = 0;
        };
        for await (const entry of readTarSplitEntries(metadata, { layer: label })) {
          if (finished || stopped) return;
          if (entry.type === 2) {
            if (!entry.payload!.length) continue;
            batch.push({ s: entry.payload! });
            batchBytes += entry.payload!.length;
          } else {
            if (entry.size === 0) continue;
            const { handle, rel } = await getter(entry.nameBytes!);
            if (finished || stopped) {
              await handle.close();
              return;
            }
            open.set(handle.fd, handle);
            batch.push({ f: handle.fd, n: entry.size, r: rel });
          }
          if (batch.length >= 256 || batchBytes >= 256 * 1024) flush();
          // Bounded: with so many files open or entries queued ahead of the worker, wait for it.
          while (!finished && !stopped && (open.size >= MAX_OPEN || opsSent - opsDone >= MAX_OPS)) {
            flush();
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        }
        flush();
        if (!finished && !stopped) post({ t: 'end', id });
      };
      feed().catch((e: unknown) => {
        const err = e instanceof DsvError ? e : new DsvError('IoError', `${label}: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
        // The worker gives back the descriptors it holds, then the job fails with this error.
        if (finished) release([...open.keys()]);
        else cancel(err);
      });
    });
  }

  /** Ends the workers (layers still being hashed fail). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new DsvError('IoError', 'the layer hashing pool is closed'));
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }
}
