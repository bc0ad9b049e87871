// The fleet-run memory governor's policy: when it collects (growth beyond the bound since the last collection) and how often at most (one per interval); and that the real one collects.
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../context.js';
import { MemoryGovernor } from './memory-governor.js';
import { imageDone, withRunResources } from './run-resources.js';

const MiB = 1024 * 1024;

/** A governor over a simulated heap: `heap` is what is in use, a collection drops it to `live`. */
function simulated(o: { growthBytes?: number; minIntervalMs?: number } = {}) {
  const s = { heap: 20 * MiB, live: 20 * MiB, t: 0, collected: [] as number[] };
  const g = new MemoryGovernor({
    used: () => s.heap,
    now: () => s.t,
    collect: () => {
      s.collected.push(s.t);
      s.heap = s.live;
    },
    ...o,
  });
  return { s, g };
}

describe('MemoryGovernor', () => {
  it('collects only when the heap grew beyond the bound since the last collection, and counts from what was live after it', () => {
    const { s, g } = simulated({ growthBytes: 16 * MiB, minIntervalMs: 1000 });
    s.heap += 10 * MiB;
    s.t = 5000;
    expect(g.imageDone()).toBe(false);
    s.heap += 7 * MiB; // 17 MiB above the start
    expect(g.imageDone()).toBe(true);
    expect(s.collected).toEqual([5000]);
    expect(g.collections).toBe(1);
    // The live heap itself grew: the new base is what survived, not the first one.
    s.live = 30 * MiB;
    s.heap = 40 * MiB;
    s.t = 7000;
    expect(g.imageDone()).toBe(true);
    s.heap = 45 * MiB; // 15 MiB above the 30 MiB left by that collection
    s.t = 9000;
    expect(g.imageDone()).toBe(false);
    expect(s.collected).toEqual([5000, 7000]);
  });

  it('collects at most once per interval, however much the heap grows', () => {
    const { s, g } = simulated({ growthBytes: 1 * MiB, minIntervalMs: 2000 });
    s.live = 100 * MiB; // nothing a collection frees: every image is over the bound again
    for (let i = 0; i < 50; i++) {
      s.t = i * 100; // an image every 100 ms for 5 s
      s.heap += 5 * MiB;
      g.imageDone();
    }
    expect(s.collected).toEqual([0, 2000, 4000]);
  });

  it('a collection V8 made by itself lowers the base, so the growth after it is counted from there', () => {
    const { s, g } = simulated({ growthBytes: 16 * MiB, minIntervalMs: 0 });
    s.heap = 10 * MiB; // below the start: V8 collected on its own
    expect(g.imageDone()).toBe(false);
    s.heap = 27 * MiB; // 17 MiB above that, 7 above the start
    expect(g.imageDone()).toBe(true);
  });

  it('the default one calls V8 gc() without a command-line flag, and frees garbage', () => {
    const g = new MemoryGovernor({ growthBytes: 0, minIntervalMs: 0 });
    let junk: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    expect(junk.length).toBe(200_000);
    junk = undefined;
    expect(g.imageDone()).toBe(true);
    expect(g.collections).toBe(1);
  });

  it('a run has one, which imageDone() reaches through the context; outside a run imageDone() does nothing', async () => {
    const ctx = { system: {}, debug: () => {} } as unknown as CliContext;
    expect(() => imageDone(ctx)).not.toThrow();
    const { s, g } = simulated({ growthBytes: 0, minIntervalMs: 0 });
    await withRunResources(ctx, async (inner) => {
      s.heap += MiB;
      imageDone(inner);
    }, { governor: g });
    expect(g.collections).toBe(1);
    await withRunResources(ctx, async (inner) => {
      expect(() => imageDone(inner)).not.toThrow();
    }, { governor: false });
  });
});
