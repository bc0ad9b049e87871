/**
 * The worker side of the inflate pool (inflate-pool.ts): a thread that inflates and hashes layers with the same
 * DiffIdHasher the main thread uses, jobs multiplexed by id. Loaded in a worker only when `workerData` carries the
 * marker; the pool reaches this module by dynamic import() (its own chunk in the app bundles) for its URL.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DiffIdHasher, type DiffIdOptions } from './diff-id.js';
import type { Digest } from './digest.js';
import { DsvError } from './errors.js';
import { exposedGc } from './v8-gc.js';

export const WORKER_MARK = 'dsvInflateWorker';
/** Where a Worker finds this module (a .ts file under the test runner, which a worker cannot load). */
export const workerUrl: string = import.meta.url;

export type ToWorker =
  | { t: 'open'; id: number; options: DiffIdOptions }
  | { t: 'data'; id: number; buf: ArrayBuffer; len: number }
  | { t: 'end'; id: number }
  | { t: 'abort'; id: number; why: string };

export interface WorkerOutcome {
  compression: 'gzip' | 'zstd' | 'none';
  diffId?: Digest;
  /** Uncompressed with the blob's algorithm: the diff_id is the blob digest, which the main thread has. */
  sameAsBlob?: true;
  error?: { code: DsvError['code']; message: string; details: Record<string, unknown> };
}

/** `ack`: the inflater takes more (flow control); `free`: a batch's memory back to be refilled (see serve()). */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'ack'; id: number; n: number }
  | { t: 'free'; id: number; buf: ArrayBuffer }
  | { t: 'done'; id: number; outcome: WorkerOutcome };

/**
 * The inflater's output (512 KiB buffers, ≈ 1.8 × the input) dies at once, but this thread allocates almost no other
 * JavaScript, so V8 would collect it only after 64 MiB more external memory: tens of MiB of dead buffers per worker,
 * and fresh pages to fault in for the next ones. A young-generation collection per YOUNG_GC_EVERY bytes taken keeps
 * them reused (bench/NOTES.md §25).
 */
const YOUNG_GC_EVERY = 4 * 1024 * 1024;
let sinceGc = 0;

function collectYoung(): void {
  exposedGc()?.({ type: 'minor' });
}

function serve(port: MessagePort): void {
  const jobs = new Map<number, DiffIdHasher>();
  const finish = (id: number, hasher: DiffIdHasher) => {
    jobs.delete(id);
    let same = false;
    void hasher
      .result(() => {
        same = true;
        return '' as Digest;
      })
      .then((r) => {
        const outcome: WorkerOutcome = { compression: r.compression };
        if (r.error) outcome.error = { code: r.error.code, message: r.error.message, details: r.error.details };
        else if (same) outcome.sameAsBlob = true;
        else if (r.diffId !== undefined) outcome.diffId = r.diffId;
        port.postMessage({ t: 'done', id, outcome } satisfies FromWorker);
      });
  };
  port.on('message', (m: ToWorker) => {
    if (m.t === 'open') {
      jobs.set(m.id, new DiffIdHasher(m.options));
      return;
    }
    const hasher = jobs.get(m.id);
    if (!hasher) return;
    if (m.t === 'data') {
      sinceGc += m.len;
      if (sinceGc >= YOUNG_GC_EVERY) {
        sinceGc = 0;
        collectYoung();
      }
      // The batch's memory goes back to be refilled once the hasher no longer holds it (gzip only; DiffIdHasher says when).
      hasher.write(
        Buffer.from(m.buf, 0, m.len),
        () => port.postMessage({ t: 'ack', id: m.id, n: m.len } satisfies FromWorker),
        () => port.postMessage({ t: 'free', id: m.id, buf: m.buf } satisfies FromWorker, [m.buf]),
      );
    } else if (m.t === 'end') {
      hasher.end();
      finish(m.id, hasher);
    } else {
      hasher.abort(m.why);
      finish(m.id, hasher);
    }
  });
  port.postMessage({ t: 'ready' } satisfies FromWorker);
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[WORKER_MARK] === 1) serve(parentPort);
