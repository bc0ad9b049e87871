// The fleet-run memory governor: after an image of a `dsv sync` / `--all-tags` run, a full garbage collection when the heap and ArrayBuffers grew by more than a bound since the last one, at most one per interval.
import { setFlagsFromString } from 'node:v8';
import { exposedGc } from '@dsv/core/operations';

/**
 * Why: a fleet run's live heap is flat (≈ 17 MB after a full collection, bench/NOTES.md §16, §18, §20), but
 * each image leaves garbage that lived through two scavenges (its requests, parsers, manifests in flight) and
 * was promoted. V8 collects the old generation only at its limit, which context.ts's `--heap-growing-percent=400`
 * puts at ≈ 5 × the live heap (that factor saves the big copies a dozen mark-compacts, §10(d)), so the garbage
 * piled up to ≈ 80 MB and peak RSS grew with the number of tags. Between images nothing large is in flight,
 * so a full collection there is cheap (tens of ms for a 17 MB heap) and takes the heap back to what is live.
 * Bounded twice: only after `growthBytes` of growth since the last collection (V8's own or ours), and at most
 * one per `minIntervalMs`, so a run of big images, whose buffers in flight swing by tens of MB, pays at most a
 * few collections per minute. Single-image commands (copy, verify, sign) do not use it.
 */
export interface MemoryGovernorOptions {
  /** heapUsed + arrayBuffers now, in bytes (default: process.memoryUsage()). */
  used?: () => number;
  /** A full, synchronous collection (default: V8's gc(), exposed at run time). */
  collect?: () => void;
  /** Milliseconds, monotonic (default: performance.now()). */
  now?: () => number;
  /** Growth since the last collection that asks for one (default 16 MiB). */
  growthBytes?: number;
  /** At most one collection per this many milliseconds (default 2000). */
  minIntervalMs?: number;
}

export const DEFAULT_GOVERNOR_GROWTH = 16 * 1024 * 1024;
export const DEFAULT_GOVERNOR_INTERVAL_MS = 2000;

function processUsed(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A full collection by V8's gc() (core's exposedGc); none where it cannot be had. */
function v8Gc(): void {
  exposedGc()?.();
}

/**
 * A fleet run keeps V8's young generation at its starting size. V8 doubles the semi-spaces after enough
 * scavenges, and a run of hundreds of images gets there: ≈ 16 MiB more RSS for good, which the governor's
 * collections cannot give back (bench/NOTES.md §20: 800 tags 105 → 86 MiB, with less CPU). Set once per
 * process, before the run's first image; single-image commands keep V8's default, since a big image's
 * buffers in flight promote more with a small young generation (§17).
 */
let youngGenerationFixed = false;
export function fixYoungGeneration(): void {
  if (youngGenerationFixed) return;
  youngGenerationFixed = true;
  setFlagsFromString('--semi-space-growth-factor=1');
}

export class MemoryGovernor {
  private readonly used: () => number;
  private readonly collect: () => void;
  private readonly now: () => number;
  private readonly growth: number;
  private readonly interval: number;
  private base: number;
  private last: number;
  /** Collections made (debug, tests). */
  collections = 0;

  constructor(o: MemoryGovernorOptions = {}) {
    this.used = o.used ?? processUsed;
    this.collect = o.collect ?? v8Gc;
    this.now = o.now ?? (() => performance.now());
    this.growth = o.growthBytes ?? DEFAULT_GOVERNOR_GROWTH;
    this.interval = o.minIntervalMs ?? DEFAULT_GOVERNOR_INTERVAL_MS;
    this.base = this.used();
    this.last = -Infinity;
  }

  /** Called when an image of the run has finished; true when it collected. */
  imageDone(): boolean {
    const used = this.used();
    // A collection V8 made by itself lowers the base: growth counts from what was live after it.
    if (used < this.base) this.base = used;
    if (used - this.base <= this.growth) return false;
    const t = this.now();
    if (t - this.last < this.interval) return false;
    this.collect();
    this.collections++;
    this.last = t;
    this.base = this.used();
    return true;
  }
}
