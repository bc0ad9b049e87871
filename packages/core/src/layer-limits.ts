/**
 * How far a layer may inflate: a decompression bomb (a small blob that expands to gigabytes) stops at
 * min(an absolute cap, a ratio × the layer's compressed size — never below a floor), before a diff_id is
 * ever compared. The defaults hold in every command; callers raise them (--max-layer-size, --max-layer-ratio).
 */
import { DsvError } from './errors.js';

/** Largest uncompressed layer by default: 32 GiB. */
export const DEFAULT_MAX_LAYER_BYTES = 32 * 1024 ** 3;
/** Largest uncompressed / compressed ratio by default (gzip's own maximum is about 1032:1). */
export const DEFAULT_MAX_LAYER_RATIO = 100;
/** The ratio cap never goes below this: small layers of zeros and sparse files still pass. */
export const LAYER_RATIO_FLOOR_BYTES = 256 * 1024 ** 2;

export interface LayerLimits {
  /** Absolute cap on a layer's uncompressed size (default DEFAULT_MAX_LAYER_BYTES). */
  maxLayerBytes?: number;
  /** Cap on uncompressed / compressed size (default DEFAULT_MAX_LAYER_RATIO; 0: no ratio cap). */
  maxLayerRatio?: number;
}

/** The uncompressed bytes a layer of `compressedSize` bytes may inflate to. */
export function layerLimit(compressedSize: number, limits: LayerLimits = {}): number {
  const absolute = limits.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES;
  const ratio = limits.maxLayerRatio ?? DEFAULT_MAX_LAYER_RATIO;
  if (ratio === 0) return absolute;
  return Math.min(absolute, Math.max(LAYER_RATIO_FLOOR_BYTES, Math.ceil(ratio * Math.max(0, compressedSize))));
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4 };

/** `20GiB`, `500MB`, `1.5g`, `1073741824` → bytes; Usage error otherwise. */
export function parseByteSize(value: string, from: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new DsvError('Usage', `invalid ${from} "${value}": a size such as 20GiB, 500MB or 1073741824`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new DsvError('Usage', `invalid ${from} "${value}": must be at least 1 byte`);
  return bytes;
}

/** A ratio such as `100` or `0` (no ratio cap); Usage error otherwise. */
export function parseLayerRatio(value: string, from: string): number {
  const n = Number(value.trim());
  if (!value.trim() || !Number.isFinite(n) || n < 0) throw new DsvError('Usage', `invalid ${from} "${value}": a number ≥ 1, or 0 for no ratio cap`);
  if (n !== 0 && n < 1) throw new DsvError('Usage', `invalid ${from} "${value}": a ratio below 1 would refuse every layer`);
  return n;
}
