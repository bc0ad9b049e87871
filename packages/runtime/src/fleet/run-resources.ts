// The run-scoped resource bag (SystemContext.runResources) a fleet command gives its images: what a transport shares between them, closed once when the run ends, however it ends; and the run's memory governor.
import { DsvError } from '@dsv/core/formats';
import type { RunResources } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import { MemoryGovernor, fixYoungGeneration } from './memory-governor.js';

type Closable = { close(): Promise<void> };

export class RunScope implements RunResources {
  private readonly items = new Map<string, Closable>();
  private closed = false;

  /** `governor`: what imageDone() asks after each image (memory-governor.ts); none: imageDone() does nothing. */
  constructor(readonly governor?: MemoryGovernor) {}

  shared<T extends Closable>(key: string, make: () => T): T {
    if (this.closed) throw new DsvError('Usage', 'the run has ended: its shared resources are closed');
    let item = this.items.get(key);
    if (!item) {
      item = make();
      this.items.set(key, item);
    }
    return item as T;
  }

  /** How many resources the run holds (tests, debug). */
  get size(): number {
    return this.items.size;
  }

  /** Closes every resource once; a failure to close one does not keep the others open. */
  async close(): Promise<void> {
    this.closed = true;
    const items = [...this.items.values()];
    this.items.clear();
    await Promise.all(items.map((i) => i.close().catch(() => undefined)));
  }
}

/** Tells the run that one of its images has finished (its memory governor may collect); outside a run, nothing. */
export function imageDone(ctx: CliContext): void {
  const run = ctx.system.runResources;
  if (run instanceof RunScope) run.governor?.imageDone();
}

/**
 * Runs `fn` with a context whose SystemContext carries a new RunScope, closed when `fn` settles (result, error or
 * abort). The scope has a memory governor unless `governor: false` (tests that must not collect).
 */
export async function withRunResources<T>(ctx: CliContext, fn: (ctx: CliContext) => Promise<T>, opts: { governor?: MemoryGovernor | false } = {}): Promise<T> {
  if (opts.governor === undefined) fixYoungGeneration();
  const scope = new RunScope(opts.governor === false ? undefined : (opts.governor ?? new MemoryGovernor()));
  try {
    return await fn({ ...ctx, system: { ...ctx.system, runResources: scope } });
  } finally {
    const n = scope.size;
    await scope.close();
    if (n) ctx.debug(`run closed ${n} shared resource${n === 1 ? '' : 's'}`);
    const c = scope.governor?.collections ?? 0;
    if (c) ctx.debug(`memory governor: ${c} full collection${c === 1 ? '' : 's'} between images`);
  }
}
