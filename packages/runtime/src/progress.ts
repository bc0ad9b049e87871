/**
 * A one-line progress bar for long transfers, drawn on stderr only when it is a terminal; on a pipe
 * (or with --json) nothing is printed at all.
 */
import type { ProgressEvent } from '@dsv/core/transport';

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

/** The text of the bar for the current state (exported for tests). */
export function renderProgress(items: Map<string, ProgressEvent>, width = 24): string {
  let done = 0;
  let total = 0;
  let known = true;
  let finished = 0;
  let phase: ProgressEvent['phase'] = 'read';
  for (const e of items.values()) {
    done += e.done;
    phase = e.phase;
    if (e.total === undefined) known = false;
    else {
      total += e.total;
      if (e.done >= e.total) finished++;
    }
  }
  const label = phase === 'verify' ? 'verifying' : phase === 'write' ? 'writing' : 'reading';
  if (!known || total === 0) return `${label} ${formatBytes(done)} (${items.size} blob${items.size === 1 ? '' : 's'})`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${formatBytes(done)} / ${formatBytes(total)} (${finished}/${items.size} blobs)`;
}

export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, enabled = true): Progress {
  if (!enabled || !stream.isTTY) return { clear() {} };
  const items = new Map<string, ProgressEvent>();
  let last = 0;
  let shown = false;
  const draw = () => {
    const cols = stream.columns || 80;
    stream.write(`\r${renderProgress(items).slice(0, Math.max(10, cols - 1))}\x1b[K`);
    shown = true;
  };
  return {
    onProgress(event) {
      items.set(`${event.phase}:${event.id}`, event);
      const now = Date.now();
      if (now - last < 100 && !(event.total !== undefined && event.done >= event.total)) return;
      last = now;
      draw();
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
