// The run-scoped resource bag: one resource per key, each closed once at the run's end, whether the run returns or throws.
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../context.js';
import { RunScope, withRunResources } from './run-resources.js';

function resource(log: string[], name: string, fail = false) {
  return {
    name,
    async close() {
      log.push(`close ${name}`);
      if (fail) throw new Error(`cannot close ${name}`);
    },
  };
}

describe('RunScope', () => {
  it('makes one resource per key and closes each once, a failing close not keeping the others open', async () => {
    const log: string[] = [];
    const scope = new RunScope();
    let made = 0;
    const a1 = scope.shared('a', () => (made++, resource(log, 'a', true)));
    const a2 = scope.shared('a', () => (made++, resource(log, 'a2')));
    const b = scope.shared('b', () => (made++, resource(log, 'b')));
    expect(a1).toBe(a2);
    expect(b.name).toBe('b');
    expect(made).toBe(2);
    expect(scope.size).toBe(2);
    await scope.close();
    await scope.close();
    expect(log.sort()).toEqual(['close a', 'close b']);
    expect(() => scope.shared('c', () => resource(log, 'c'))).toThrow(/run has ended/);
  });

  it('withRunResources hands the scope to the run in SystemContext and closes it when the run throws', async () => {
    const log: string[] = [];
    const debug: string[] = [];
    const ctx = { system: { retryTimes: 1 }, debug: (m: string) => debug.push(m) } as unknown as CliContext;
    await expect(
      withRunResources(ctx, async (inner) => {
        expect(inner.system.retryTimes).toBe(1);
        inner.system.runResources!.shared('x', () => resource(log, 'x'));
        throw new Error('run failed');
      }),
    ).rejects.toThrow('run failed');
    expect(log).toEqual(['close x']);
    expect(ctx.system.runResources).toBeUndefined();
    expect(debug).toEqual(['run closed 1 shared resource']);
  });
});
