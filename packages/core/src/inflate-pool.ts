/**
 * Layers inflated and their content hashed off the main thread, for the integrity engine (a copy with --verify or a
 * signing copy keeps them on its main thread: with the upload's buffers the worker took it over 150 MiB of peak RSS,
 * for no gain in time, bench/NOTES.md §25): a lazily started pool of worker threads
 * (inflate-worker.ts; one by default, which takes all the layers of a verify on two cores with less memory and CPU
 * than two, bench/NOTES.md §25) behind the DiffIdHasher interface. The main thread copies the compressed bytes
 * into batches it transfers (it never hands over a Buffer the source may still own), with at most IN_FLIGHT bytes
 * per layer not yet taken by the worker's inflater (bounded memory, backpressure on the caller). Small layers, and
 * any layer when a worker cannot start (the test runner's .ts sources), stay on the main thread.
 */
import { Worker } from 'node:worker_threads';
import { DiffIdHasher, type DiffIdOptions, type DiffIdResult } from './diff-id.js';
import type { Digest } from './digest.js';
import { DsvError } from './errors.js';
import type { FromWorker, ToWorker, WorkerOutcome } from './inflate-worker.js';

const BATCH = 512 * 1024;
const IN_FLIGHT = 1024 * 1024;
/**
 * Only a layer of OFF_THREAD_MIN_BYTES or more is inflated in the worker. A worker costs ≈ 0.1 s of CPU to start and
 * ≈ 35 MiB of peak RSS; it pays where one large layer's receive, inflate and hash run in series on the main thread
 * (1 GiB: 0.98 → 0.77 × skopeo), not where several smaller layers already share both cores (8 × 64 MiB: 4 % less
 * wall for +15 % CPU and 150 MiB peak; a single 8 or 32 MiB layer was slower; bench/NOTES.md §25).
 */
export const OFF_THREAD_MIN_BYTES = 128 * 1024 * 1024;

/** What both hashers offer: the compressed bytes in order (write waits on `ready`), then end() or abort(), then result(). */
export interface LayerHasher {
  write(chunk: Buffer, ready: () => void): void;
  end(): void;
  abort(why: string): void;
  result(blobDigest: () => Digest): Promise<DiffIdResult>;
}

interface PoolWorker {
  worker: Worker;
  ready: Promise<boolean>;
  jobs: Map<number, OffThreadHasher>;
  /** Jobs given to it, attached or still waiting for it to start. */
  load: number;
}

/** Where the worker module is; undefined when no worker can load it. */
export type WorkerLocator = () => Promise<{ url: string; mark: string } | undefined>;

const defaultLocator: WorkerLocator = async () => {
  const m = await import('./inflate-worker.js');
  return m.workerUrl.endsWith('.ts') ? undefined : { url: m.workerUrl, mark: m.WORKER_MARK };
};

export class InflatePool {
  private readonly workers: PoolWorker[] = [];
  private located: Promise<{ url: string; mark: string } | undefined> | undefined;
  private broken = false;
  private nextId = 1;

  constructor(
    private readonly locate: WorkerLocator = defaultLocator,
    private readonly size = 1,
  ) {}

  /**
   * Whether an image's layers (those to be streamed and inflated) are worth a worker; if so, starts it now, while the
   * caller reads what comes before them (it takes ≈ 0.1 s to load). An idle worker never holds the process.
   */
  plan(layers: readonly { size: number }[]): boolean {
    if (this.broken || !layers.some((l) => l.size >= OFF_THREAD_MIN_BYTES)) return false;
    if (this.workers.length === 0) this.spawn();
    return true;
  }

  /** A hasher for one layer: off the main thread when its image was worth it (plan()), it is large enough and workers can run. */
  hasher(options: DiffIdOptions, compressedSize: number, offThread: boolean): LayerHasher {
    if (!offThread || this.broken || compressedSize < OFF_THREAD_MIN_BYTES) return new DiffIdHasher(options);
    return new OffThreadHasher(this, options);
  }

  /** Attaches a job to the least busy worker (starting one while fewer than `size` run); false: run it here. */
  async attach(job: OffThreadHasher): Promise<boolean> {
    const pw = this.pick();
    if (!pw) return false;
    pw.load++;
    holdOpen(pw);
    if (!(await pw.ready) || !this.workers.includes(pw)) {
      pw.load--;
      holdOpen(pw);
      return false;
    }
    const id = this.nextId++;
    job.id = id;
    pw.jobs.set(id, job);
    job.post = (m, transfer) => pw.worker.postMessage(m, transfer ?? []);
    job.detach = () => {
      pw.jobs.delete(id);
      pw.load--;
      holdOpen(pw);
    };
    return true;
  }

  private pick(): PoolWorker | undefined {
    if (this.broken) return undefined;
    const idle = this.workers.find((w) => w.load === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((a, b) => (b.load < a.load ? b : a));
  }

  private spawn(): PoolWorker {
    this.located ??= this.locate().catch(() => undefined);
    const pw: PoolWorker = { worker: undefined as unknown as Worker, jobs: new Map(), ready: Promise.resolve(false), load: 0 };
    pw.ready = this.located.then(
      (where) =>
        new Promise<boolean>((resolve) => {
          if (!where) {
            this.fail(pw, undefined, true);
            return resolve(false);
          }
          let worker: Worker;
          try {
            worker = new Worker(new URL(where.url), { workerData: { [where.mark]: 1 } });
          } catch (e) {
            this.fail(pw, e, true);
            return resolve(false);
          }
          pw.worker = worker;
          let started = false;
          worker.on('message', (m: FromWorker) => {
            if (m.t === 'ready') {
              started = true;
              resolve(true);
            } else pw.jobs.get(m.id)?.receive(m);
          });
          const gone = (e: unknown) => {
            if (!started) resolve(false);
            this.fail(pw, e, !started);
          };
          worker.on('error', gone);
          worker.on('exit', (code) => gone(new Error(`exited with code ${code}`)));
          holdOpen(pw);
        }),
    );
    this.workers.push(pw);
    return pw;
  }

  /** A worker that could not start or died: its jobs fail; one that never started turns the pool off. */
  private fail(pw: PoolWorker, e: unknown, neverStarted: boolean): void {
    const i = this.workers.indexOf(pw);
    if (i >= 0) this.workers.splice(i, 1);
    if (neverStarted) this.broken = true;
    const why = `layer inflating thread failed: ${e instanceof Error ? e.message : String(e)}`;
    for (const job of [...pw.jobs.values()]) job.receive({ t: 'done', id: job.id, outcome: { compression: 'none', error: { code: 'IoError', message: why, details: {} } } });
  }

  /** Layers being hashed in workers now. */
  jobs(): number {
    return this.workers.reduce((n, w) => n + w.jobs.size, 0);
  }

  /** Ends the workers (for tests; the process never waits for idle ones). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    this.broken = true;
    await Promise.all(ws.map((w) => w.worker?.terminate()));
  }
}

/**
 * A worker with jobs (attached or waiting for it to start) keeps the process alive: the caller may be waiting for
 * nothing but its answer. An idle one never does. (Called after its listeners are on, which would ref its port.)
 */
function holdOpen(pw: PoolWorker): void {
  if (!pw.worker) return;
  if (pw.load > 0) pw.worker.ref();
  else pw.worker.unref();
}

type Queued = { t: 'data'; buf: ArrayBuffer; len: number } | { t: 'end' } | { t: 'abort'; why: string };

/** DiffIdHasher's contract, the work done by a pool worker (or here, when none could start). */
class OffThreadHasher implements LayerHasher {
  id = 0;
  post: ((m: ToWorker, transfer?: ArrayBuffer[]) => void) | undefined;
  detach: (() => void) | undefined;
  private local: DiffIdHasher | undefined;
  /** Messages waiting for the worker to start. */
  private queue: Queued[] | undefined = [];
  private batch: Buffer | undefined;
  private batchLen = 0;
  private inFlight = 0;
  /** Batches the worker gave back (gzip only): filled again instead of new memory for every batch. */
  private readonly free: ArrayBuffer[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  private aborted = false;
  private outcome: WorkerOutcome | undefined;
  private settle!: (o: WorkerOutcome | undefined) => void;
  private readonly settled = new Promise<WorkerOutcome | undefined>((r) => (this.settle = r));

  constructor(pool: InflatePool, options: DiffIdOptions) {
    void pool.attach(this).then((attached) => {
      const queue = this.queue ?? [];
      this.queue = undefined;
      if (!attached) {
        const local = (this.local = new DiffIdHasher(options));
        for (const m of queue) this.apply(local, m);
        // Bytes still being batched come before any written from now on (straight to `local`).
        if (this.batch && this.batchLen > 0) local.write(this.batch.subarray(0, this.batchLen), () => undefined);
        this.batch = undefined;
        this.batchLen = 0;
        this.inFlight = 0;
        this.release();
        this.settle(undefined);
        return;
      }
      this.post!({ t: 'open', id: this.id, options });
      for (const m of queue) this.send(m);
    });
  }

  private apply(local: DiffIdHasher, m: Queued): void {
    if (m.t === 'data') local.write(Buffer.from(m.buf, 0, m.len), () => undefined);
    else if (m.t === 'end') local.end();
    else local.abort(m.why);
  }

  private send(m: Queued): void {
    if (this.outcome) return;
    if (this.queue) this.queue.push(m);
    else if (this.local) this.apply(this.local, m);
    else if (m.t === 'data') this.post!({ t: 'data', id: this.id, buf: m.buf, len: m.len }, [m.buf]);
    else this.post!(m.t === 'end' ? { t: 'end', id: this.id } : { t: 'abort', id: this.id, why: m.why });
  }

  private flush(): void {
    if (!this.batch || this.batchLen === 0) return;
    const buf = this.batch.buffer as ArrayBuffer;
    const len = this.batchLen;
    this.batch = undefined;
    this.batchLen = 0;
    this.send({ t: 'data', buf, len });
  }

  private release(): void {
    const w = this.waiting;
    if (w && (this.inFlight < IN_FLIGHT || this.outcome || this.local)) {
      this.waiting = undefined;
      w();
    }
  }

  receive(m: FromWorker): void {
    if (m.t === 'ack') {
      this.inFlight -= m.n;
      this.release();
    } else if (m.t === 'free') {
      if (!this.outcome && this.free.length < IN_FLIGHT / BATCH + 1) this.free.push(m.buf);
    } else if (m.t === 'done' && !this.outcome) {
      this.outcome = m.outcome;
      this.detach?.();
      this.release();
      this.settle(m.outcome);
    }
  }

  write(chunk: Buffer, ready: () => void): void {
    if (this.aborted || this.ended || this.outcome) return ready();
    if (this.local) return this.local.write(chunk, ready);
    let at = 0;
    while (at < chunk.length) {
      // Its own memory, never Node's shared pool: the whole ArrayBuffer is transferred.
      if (!this.batch) {
        const reused = this.free.pop();
        this.batch = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH);
      }
      const n = Math.min(BATCH - this.batchLen, chunk.length - at);
      chunk.copy(this.batch, this.batchLen, at, at + n);
      this.batchLen += n;
      this.inFlight += n;
      at += n;
      if (this.batchLen === BATCH) this.flush();
    }
    if (this.inFlight < IN_FLIGHT) return ready();
    // What is still in the batch counts too: send it, or no acknowledgement may ever come for it.
    this.flush();
    this.waiting = ready;
  }

  end(): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    this.flush();
    this.send({ t: 'end' });
  }

  abort(why: string): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.batch = undefined;
    this.batchLen = 0;
    this.send({ t: 'abort', why });
  }

  async result(blobDigest: () => Digest): Promise<DiffIdResult> {
    if (!this.ended) this.abort('blob stream ended early');
    const outcome = await this.settled;
    if (!outcome) return this.local!.result(blobDigest);
    const r: DiffIdResult = { compression: outcome.compression };
    if (outcome.error) r.error = new DsvError(outcome.error.code, outcome.error.message, outcome.error.details);
    else if (outcome.sameAsBlob) r.diffId = blobDigest();
    else if (outcome.diffId !== undefined) r.diffId = outcome.diffId;
    return r;
  }
}

/** The process's pool. */
export const inflatePool = new InflatePool();
