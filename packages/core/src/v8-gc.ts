// V8's gc() without the --expose-gc command-line flag, for code that must free dead buffers at a point it
// knows (the inflate worker, the fleet runs' memory governor).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's gc(): a full collection, or a young-generation one with `{ type: 'minor' }`. */
export type V8Gc = (options?: { type: 'major' | 'minor' }) => void;

let gc: V8Gc | undefined | null;

/**
 * V8's gc(), or undefined where it cannot be had. The flag exposes it to contexts created afterwards, so a new
 * context hands it over; the flag is put back as it was, so this process's own global gains no `gc`.
 */
export function exposedGc(): V8Gc | undefined {
  if (gc === undefined) {
    gc = null;
    try {
      const had = typeof (globalThis as { gc?: unknown }).gc === 'function';
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as V8Gc;
      if (!had) setFlagsFromString('--no-expose-gc');
    } catch {
      // Without it dead buffers are collected later, as V8 decides.
    }
  }
  return gc ?? undefined;
}
