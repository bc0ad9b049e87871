/**
 * Deterministic partition of work by repository across machines: `--shard INDEX/COUNT`, or a Kubernetes
 * Indexed Job's JOB_COMPLETION_INDEX with a count. The same repository lands in the same shard on every
 * run and every machine (SHA-256 of its full name), so retried or duplicated shards only repeat work.
 */
import { createHash } from 'node:crypto';
import { DsvError } from '@dsv/core/formats';

export interface Shard {
  index: number;
  count: number;
}

export const MAX_SHARDS = 100_000;

/** `INDEX/COUNT` (0 ≤ INDEX < COUNT); Usage error otherwise. */
export function parseShard(value: string, from = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) throw new DsvError('Usage', `invalid ${from} "${value}": expected INDEX/COUNT, e.g. 0/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new DsvError('Usage', `invalid ${from} "${value}": COUNT must be 1..${MAX_SHARDS}`);
  if (index >= count) throw new DsvError('Usage', `invalid ${from} "${value}": INDEX must be below COUNT (0..${count - 1})`);
  return { index, count };
}

/** The shard a repository belongs to: the first 6 bytes of SHA-256 of `host/repository`, modulo COUNT. */
export function shardOf(repository: string, count: number): number {
  const h = createHash('sha256').update(repository, 'utf8').digest();
  return h.readUIntBE(0, 6) % count;
}

export function inShard(repository: string, shard: Shard | undefined): boolean {
  return shard === undefined || shardOf(repository, shard.count) === shard.index;
}
