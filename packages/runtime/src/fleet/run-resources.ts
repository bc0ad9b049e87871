// The run-scoped resource bag (SystemContext.runResources) a fleet command gives its images: what a transport shares between them, closed once when the run ends, however it ends.
import { DsvError } from '@dsv/core/formats';
import type { RunResources } from '@dsv/core/transport';
import type { CliContext } from '../context.js';

type Closable = { close(): Promise<void> };

export class RunScope implements RunResources {
  private readonly items = new Map<string, Closable>();
  private closed = false;

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

/** Runs `fn` with a context whose SystemContext carries a new RunScope, closed when `fn` settles (result, error or abort). */
export async function withRunResources<T>(ctx: CliContext, fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const scope = new RunScope();
  try {
    return await fn({ ...ctx, system: { ...ctx.system, runResources: scope } });
  } finally {
    const n = scope.size;
    await scope.close();
    if (n) ctx.debug(`run closed ${n} shared resource${n === 1 ? '' : 's'}`);
  }
}
