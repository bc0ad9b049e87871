/** The partition: every repository in exactly one shard, stable across runs, roughly even. */
import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from './shard.js';

describe('shard', () => {
  it('parses INDEX/COUNT and refuses the rest', () => {
    expect(parseShard('0/4')).toEqual({ index: 0, count: 4 });
    expect(parseShard(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    for (const bad of ['4/4', '1/0', 'a/b', '1', '-1/3', '1/200000']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });

  it('puts every repository in exactly one shard, the same one every run', () => {
    const repos = Array.from({ length: 2000 }, (_, i) => `registry.example:5000/team-${i % 37}/app-${i}`);
    for (const count of [1, 2, 3, 7, 16]) {
      const sizes = new Array(count).fill(0);
      for (const r of repos) {
        const owners = Array.from({ length: count }, (_, index) => index).filter((index) => inShard(r, { index, count }));
        expect(owners).toHaveLength(1);
        expect(shardOf(r, count)).toBe(owners[0]);
        sizes[owners[0]!]++;
      }
      // Even enough that no shard holds more than twice its share.
      for (const s of sizes) expect(s).toBeLessThan((2 * repos.length) / count + 1);
    }
    // Fixed values: a change of hash or of byte order would move every repository to another machine.
    expect(shardOf('docker.io/library/busybox', 4)).toBe(shardOf('docker.io/library/busybox', 4));
    expect([shardOf('docker.io/library/busybox', 1000), shardOf('quay.io/team/app', 1000)]).toMatchInlineSnapshot(`
      [
        669,
        779,
      ]
    `);
  });
});
