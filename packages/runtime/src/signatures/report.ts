/** The per-item lines, the summary and the JSON report of `dsv signatures prune|revoke`. */
import type { CommandShell } from '../shell.js';
import { errorJson } from '../report.js';
import { exitCodeFor } from '../exit-codes.js';

export type ItemKind = 'lookaside' | 'simple' | 'cosign-sig' | 'cosign-signature' | 'cosign-bundle' | 'referrers' | 'embedded';

export interface Item {
  kind: ItemKind;
  /** The image digest the signature is for. */
  digest: string;
  /** Where it is: a path, or host/repo:tag. */
  location: string;
  /** removed (or would be, --dry-run), or kept with a reason (embedded). */
  action: 'removed' | 'reported';
  detail?: string;
  /** embedded: the digest the tag moved to (or would, --dry-run). */
  newDigest?: string;
}

export class Items {
  readonly list: Item[] = [];
  constructor(private readonly shell: CommandShell, private readonly dryRun: boolean) {}

  add(item: Item): void {
    this.list.push(item);
    if (this.shell.json) return;
    if (item.action === 'reported') {
      this.shell.out.out(`KEPT    ${item.location} ${item.digest}: ${item.detail ?? ''}\n`);
      return;
    }
    if (item.newDigest !== undefined) {
      this.shell.out.out(`${this.dryRun ? 'WOULD MOVE' : 'MOVED'} ${item.location}: ${item.digest} -> ${item.newDigest}${item.detail ? ` (${item.detail})` : ''}\n`);
      return;
    }
    const verb = this.dryRun ? 'WOULD REMOVE' : 'REMOVED';
    this.shell.out.out(`${verb} ${item.kind} ${item.location} (${item.digest})${item.detail ? `: ${item.detail}` : ''}\n`);
  }

  count(kind?: ItemKind, action: Item['action'] = 'removed'): number {
    return this.list.filter((i) => i.action === action && (kind === undefined || i.kind === kind)).length;
  }
}

export function failReport(shell: CommandShell, command: string, e: unknown, items?: Items): number {
  return shell.fail(e, () => ({ command, ok: false, exitCode: exitCodeFor(e), error: errorJson(e), ...(items ? { items: items.list } : {}) }));
}
