/**
 * Progress of long transfers on stderr, `--progress auto|bar|plain|none`: a one-line bar on a terminal
 * (auto's choice there), per-blob lines (plain: auto's choice in a CI log, CI set), or nothing (auto's
 * choice on any other pipe, so a script's stderr holds only errors).
 * Each blob counts once, with its size from the manifest, whatever passes it goes through (verify, then
 * write): the bar shows the current pass over every blob known, with rate and ETA. The bar is cleared
 * before anything else is written (the shell's Output calls clear()). --json and --quiet show none.
 */
import type { ProgressEvent } from '@dsv/core/transport';

export const PROGRESS_MODES = ['auto', 'bar', 'plain', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface Progress {
  /** Give this to SystemContext.onProgress / copy / verify options; undefined when disabled. */
  onProgress?: (event: ProgressEvent) => void;
  /** Clears the bar (call before printing anything else, and at the end). */
  clear(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const VERB: Record<ProgressEvent['phase'], string> = { read: 'reading', verify: 'verifying', write: 'writing' };
const DONE: Record<ProgressEvent['phase'], string> = { read: 'read', verify: 'verified', write: 'written' };

interface Blob {
  total?: number;
  done: number;
  phase: ProgressEvent['phase'];
  /** A done:0 announcement only (the blob is planned, nothing moved yet). */
  started: boolean;
}

/** A blob digest (what transfers report); other ids are files being written or notices (a registry's Retry-After). */
const DIGEST_ID = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{16,}$/;

/** What has moved: each blob once (by digest), in the pass it is in now. */
export class ProgressTracker {
  readonly blobs = new Map<string, Blob>();
  phase: ProgressEvent['phase'] = 'read';
  /** The latest event that is not a blob's (an archive file being written), shown instead of the bar while it is the latest. */
  side: ProgressEvent | undefined;
  readonly #reported = new Set<string>();
  #samples: Array<[number, number]> = [];

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records an event. Returns the blob when this event finished it for the first time (plain mode's
   * lines), or a notice (an event that is no blob's, without size or progress) to print as it is.
   */
  update(e: ProgressEvent): { id: string; size: number; phase: ProgressEvent['phase'] } | { notice: string } | undefined {
    if (!DIGEST_ID.test(e.id)) {
      if (e.done === 0 && e.total === undefined) return { notice: e.id };
      this.side = e;
      return undefined;
    }
    this.side = undefined;
    const b = this.blobs.get(e.id);
    const total = e.total ?? b?.total;
    const complete = (x: Blob | undefined) => x !== undefined && x.started && x.total !== undefined && x.done >= x.total;
    let next: Blob;
    if (!b) next = { done: e.done, phase: e.phase, started: e.done > 0 };
    // Another pass over a blob already through one (verified, now written): it starts again, still one blob.
    else if (complete(b) && (b.phase !== e.phase || e.done < b.done)) next = { done: e.done, phase: e.phase, started: true };
    // The same pass, maybe seen from both ends (a registry read and the upload it feeds): the one further on.
    else next = { done: Math.max(b.done, e.done), phase: b.started ? b.phase : e.phase, started: b.started || e.done > 0 };
    if (total !== undefined) next.total = total;
    this.blobs.set(e.id, next);
    if (e.done > 0) this.phase = next.phase;
    this.#samples.push([this.now(), this.done]);
    while (this.#samples.length > 2 && this.now() - this.#samples[0]![0] > 5000) this.#samples.shift();
    if (complete(next) && !this.#reported.has(e.id)) {
      this.#reported.add(e.id);
      return { id: e.id, size: next.total!, phase: next.phase };
    }
    return undefined;
  }

  get done(): number {
    let n = 0;
    for (const b of this.blobs.values()) n += b.total !== undefined ? Math.min(b.done, b.total) : b.done;
    return n;
  }

  /** The sum of the blobs' sizes, or undefined while one is unknown. */
  get total(): number | undefined {
    let n = 0;
    for (const b of this.blobs.values()) {
      if (b.total === undefined) return undefined;
      n += b.total;
    }
    return n;
  }

  get finished(): number {
    let n = 0;
    for (const b of this.blobs.values()) if (b.started && b.total !== undefined && b.done >= b.total) n++;
    return n;
  }

  /** Bytes per second over the last few seconds (undefined until there is something to measure). */
  get rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last[0] - first[0] < 200 || last[1] <= first[1]) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  /** The bar: `writing [####----] 12.0 MiB / 24.0 MiB, 2/3 blobs, 40.1 MiB/s, ETA 0:01`. */
  render(width = 24): string {
    if (this.side) return `${VERB[this.side.phase]} ${this.side.id.split('/').pop()} ${formatBytes(this.side.done)}`;
    const label = VERB[this.phase];
    const n = this.blobs.size;
    const count = `${this.finished}/${n} blob${n === 1 ? '' : 's'}`;
    const rate = this.rate;
    const total = this.total;
    if (total === undefined || total === 0) return `${label} ${formatBytes(this.done)} (${count})${rate ? `, ${formatBytes(rate)}/s` : ''}`;
    const done = this.done;
    const filled = Math.round(Math.min(1, done / total) * width);
    const eta = rate && done < total ? `, ETA ${formatDuration((total - done) / rate)}` : '';
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${formatBytes(done)} / ${formatBytes(total)} (${count})${rate ? `, ${formatBytes(rate)}/s` : ''}${eta}`;
  }

  /** The per-blob line (plain mode) for a blob this tracker just saw finish. */
  line(f: { id: string; size: number; phase: ProgressEvent['phase'] }): string {
    const total = this.total;
    return `${f.id.length > 19 ? f.id.slice(0, 19) : f.id} ${DONE[f.phase]}, ${formatBytes(f.size)} (${this.finished}/${this.blobs.size} blobs${total !== undefined ? `, ${formatBytes(this.done)} / ${formatBytes(total)}` : ''})`;
  }
}

/** The text of the bar for these events (exported for tests). */
export function renderProgress(items: Map<string, ProgressEvent>, width = 24): string {
  const t = new ProgressTracker(() => 0);
  for (const e of items.values()) t.update(e);
  return t.render(width);
}

/** `auto`: a bar on a terminal; per-blob lines in a CI log (CI set and not false, as CI services set it); else none. */
export function resolveProgressMode(mode: ProgressMode, stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>> = {}): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  if (stream.isTTY === true) return 'bar';
  const ci = env.CI?.trim().toLowerCase();
  return ci && ci !== '0' && ci !== 'false' ? 'plain' : 'none';
}

export interface ProgressOptions {
  mode?: ProgressMode;
  /** The prefix of plain lines (`dsv: `). */
  prog?: string;
  /** The environment (CI) for `auto`. */
  env?: Readonly<Record<string, string | undefined>>;
  now?: () => number;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  enabled = true,
  opts: ProgressOptions = {},
): Progress {
  const mode = enabled ? resolveProgressMode(opts.mode ?? 'auto', stream, opts.env) : 'none';
  if (mode === 'none') return { clear() {} };
  const tracker = new ProgressTracker(opts.now);
  if (mode === 'plain') {
    const prefix = opts.prog ? `${opts.prog}: ` : '';
    return {
      onProgress(event) {
        const r = tracker.update(event);
        if (r && 'notice' in r) stream.write(`${prefix}${r.notice}\n`);
        else if (r) stream.write(`${prefix}${tracker.line(r)}\n`);
      },
      clear() {},
    };
  }
  let last = 0;
  let shown = false;
  const draw = () => {
    const cols = stream.columns || 80;
    stream.write(`\r${tracker.render().slice(0, Math.max(10, cols - 1))}\x1b[K`);
    shown = true;
  };
  return {
    onProgress(event) {
      const r = tracker.update(event);
      if (r && 'notice' in r) {
        // A notice (a registry asked to wait) on its own line, the bar redrawn under it.
        stream.write(`\r${r.notice}\x1b[K\n`);
        shown = false;
      }
      // Announcements (done 0: the plan, nothing moved yet) only count; the bar shows once bytes move.
      if (event.done === 0 && !r) return;
      const now = Date.now();
      if (now - last < 100 && !r) return;
      last = now;
      draw();
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** A --progress value (Usage-worthy message otherwise). */
export function parseProgressMode(value: unknown): ProgressMode {
  const v = String(Array.isArray(value) ? value[value.length - 1] : value).toLowerCase();
  if (!(PROGRESS_MODES as readonly string[]).includes(v)) throw new Error(`invalid --progress "${String(value)}" (${PROGRESS_MODES.join(', ')})`);
  return v as ProgressMode;
}
