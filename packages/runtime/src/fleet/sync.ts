/**
 * `dsv sync SRC DEST`: every image of SRC (see sync-sources.ts) copied to DEST with every platform,
 * `--jobs` images at a time, the repositories of this shard only. Idempotent: an image whose manifest DEST
 * already has under that tag is not sent again. With `--policy`, only images the policy accepts are copied;
 * the others are listed with the reason. One line per image, a summary, and a JSON report.
 */
import { copyImage, readManifest, type CopyResult } from '@dsv/core/operations';
import { isDsvError, type Digest } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, oneLine } from '../report.js';
import type { CommandShell } from '../shell.js';
import { withoutProgress } from './all-tags.js';
import { mapPool } from './pool.js';
import { inShard, type Shard } from './shard.js';
import { syncDestination, syncSources, type SyncRepository } from './sync-sources.js';

export interface SyncOptions {
  source: string;
  destination: string;
  jobs: number;
  scoped: boolean;
  dryRun: boolean;
  shard?: Shard;
  shardSource?: string;
  /** --policy FILE / DSV_POLICY: copy only what it accepts. */
  policyFile?: string;
  registriesD?: string;
  /** --remove-signatures: carry no detached signatures. */
  removeSignatures: boolean;
}

type Status = 'copied' | 'present' | 'rejected' | 'failed' | 'would-copy';

interface ImageOutcome {
  status: Status;
  digest?: Digest;
  detail?: string;
  error?: unknown;
  signatures?: number;
}

const LABEL: Record<Status, string> = { copied: 'COPIED  ', present: 'PRESENT ', rejected: 'REJECTED', failed: 'FAILED  ', 'would-copy': 'WOULD COPY' };

/** The manifest digest DEST holds under this reference, or undefined when it holds none. */
async function digestAt(ctx: CliContext, ref: ImageReference): Promise<Digest | undefined> {
  let source;
  try {
    source = await ref.newSource(ctx.system);
  } catch (e) {
    if (isDsvError(e, 'NotFound')) return undefined;
    throw e;
  }
  try {
    return (await readManifest(source)).digest;
  } catch (e) {
    if (isDsvError(e, 'NotFound')) return undefined;
    throw e;
  } finally {
    await source.close();
  }
}

export async function runSync(context: CliContext, shell: CommandShell, o: SyncOptions): Promise<number> {
  const ctx = withoutProgress(context);
  if (!/^(docker:\/\/|oci:)/.test(o.destination)) {
    return shell.fail(new (await import('@dsv/core/formats')).DsvError('Usage', `DEST ${o.destination}: a registry prefix (docker://HOST[/PREFIX]) or a directory of OCI layouts (oci:DIR)`));
  }
  let repos: SyncRepository[];
  try {
    repos = await syncSources(ctx, o.source, { scoped: o.scoped });
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sync', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  const mine = repos.filter((r) => inShard(r.name, o.shard));
  if (o.shard) ctx.debug(`shard ${o.shard.index}/${o.shard.count} (${o.shardSource ?? '--shard'}): ${mine.length} of ${repos.length} repositories`);
  let judge: ((ref: ImageReference) => Promise<{ allowed: boolean; reason: string }>) | undefined;
  let closeStores = async () => {};
  if (o.policyFile !== undefined) {
    try {
      const { detachedStores, judgeImage, loadPolicy } = await import('../detached/index.js');
      const loaded = await loadPolicy(o.policyFile);
      const stores = await detachedStores(ctx, o.registriesD !== undefined ? { registriesD: o.registriesD } : {});
      closeStores = () => stores.close();
      judge = async (ref) => {
        const j = await judgeImage(ctx, ref, loaded, { stores });
        return { allowed: j.allowed, reason: j.requirements.filter((r) => !r.allowed).map((r) => `${r.type}: ${r.reason}`).join('; ') || (j.allowed ? '' : 'no requirement applies') };
      };
    } catch (e) {
      return shell.fail(e, () => ({ command: 'sync', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
    }
  }
  const items = mine.flatMap((r) => r.images.map((img) => ({ repository: r.name, tag: img.tag, source: img.source, destination: syncDestination(o.destination, r.destName, img.tag) })));
  try {
    // One OCI layout takes one writer at a time (its index.json is rewritten per tag): the tags of one
    // layout go in a row; registry destinations take every image at once.
    const lanes = new Map<string, typeof items>();
    items.forEach((item, i) => {
      const key = o.destination.startsWith('oci:') ? item.repository : String(i);
      lanes.set(key, [...(lanes.get(key) ?? []), item]);
    });
    const done = await mapPool([...lanes.values()], o.jobs, async (lane) => {
      const out = [];
      for (const item of lane) {
        let outcome: ImageOutcome;
        try {
          outcome = await syncOne(ctx, item.source, item.destination, o, judge);
        } catch (e) {
          outcome = { status: 'failed', detail: errorMessage(e), error: e };
        }
        if (!shell.json) {
          const line = `${LABEL[outcome.status]} ${item.source} -> ${item.destination}${outcome.digest ? ` ${outcome.digest}` : ''}${outcome.detail ? `: ${oneLine(outcome.detail)}` : ''}\n`;
          if (outcome.status === 'failed' || outcome.status === 'rejected') shell.out.err(line);
          else shell.out.out(line);
        }
        out.push({ ...item, outcome });
      }
      return out;
    });
    const results = done.flat();
    const count = (s: Status) => results.filter((r) => r.outcome.status === s).length;
    const codes = results.map((r) => (r.outcome.status === 'failed' ? (r.outcome.error !== undefined ? exitCodeFor(r.outcome.error) : ExitCodes.Operational) : ExitCodes.Ok));
    const code = worstExitCode(codes);
    const summary = {
      repositories: mine.length,
      repositoriesInOtherShards: repos.length - mine.length,
      images: results.length,
      copied: count('copied'),
      wouldCopy: count('would-copy'),
      present: count('present'),
      rejected: count('rejected'),
      failed: count('failed'),
    };
    if (shell.json) {
      shell.writeJson({
        command: 'sync',
        ok: code === ExitCodes.Ok,
        exitCode: code,
        dryRun: o.dryRun,
        source: o.source,
        destination: o.destination,
        ...(o.shard ? { shard: { ...o.shard, source: o.shardSource ?? '--shard' } } : {}),
        ...(o.policyFile !== undefined ? { policy: o.policyFile } : {}),
        summary,
        results: results.map((r) => ({
          source: r.source,
          destination: r.destination,
          repository: r.repository,
          tag: r.tag,
          status: r.outcome.status,
          digest: r.outcome.digest ?? null,
          ...(r.outcome.detail ? { detail: r.outcome.detail } : {}),
          ...(r.outcome.error !== undefined ? { error: errorJson(r.outcome.error) } : {}),
        })),
      });
    } else {
      const parts = [
        o.dryRun ? `${summary.wouldCopy} to copy` : `${summary.copied} copied`,
        `${summary.present} already there`,
        ...(o.policyFile !== undefined ? [`${summary.rejected} rejected by the policy`] : []),
        `${summary.failed} failed`,
      ];
      const shard = o.shard ? ` (shard ${o.shard.index}/${o.shard.count}; ${summary.repositoriesInOtherShards} repositories in other shards)` : '';
      shell.out.out(`${summary.images} images in ${summary.repositories} repositories: ${parts.join(', ')}${shard}\n`);
    }
    return code;
  } finally {
    await closeStores();
  }
}

async function syncOne(
  ctx: CliContext, src: string, dst: string, o: SyncOptions, judge: ((ref: ImageReference) => Promise<{ allowed: boolean; reason: string }>) | undefined,
): Promise<ImageOutcome> {
  const srcRef = ctx.parseImage(src);
  const dstRef = ctx.parseImage(dst);
  const source = await srcRef.newSource(ctx.system);
  try {
    const top = await readManifest(source);
    if ((await digestAt(ctx, dstRef)) === top.digest) return { status: 'present', digest: top.digest };
    if (judge) {
      const verdict = await judge(srcRef);
      if (!verdict.allowed) return { status: 'rejected', digest: top.digest, detail: verdict.reason };
    }
    if (o.dryRun) return { status: 'would-copy', digest: top.digest };
    const destination = await dstRef.newDestination(ctx.system);
    let result: CopyResult;
    try {
      result = await copyImage(source, destination, { removeSignatures: false, jobs: 2, debug: ctx.debug });
    } finally {
      await destination.close();
    }
    return { status: 'copied', digest: result.destinationDigest };
  } finally {
    await source.close();
  }
}
