/**
 * `dsv verify --all-tags REPO...` and `dsv sign --all-tags REPO`: every tag of each repository (the
 * repositories of this shard only), `--jobs` at a time, one line per tag as it finishes, a summary, and a
 * JSON report with one entry per tag. Signing skips tags this key has already signed, so an interrupted
 * run is resumed by running it again.
 */
import { formatDockerReference, type DockerReference } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, oneLine } from '../report.js';
import type { CommandShell } from '../shell.js';
import { mapPool } from './pool.js';
import { imageDone } from './run-resources.js';
import { inShard, type Shard } from './shard.js';
import { listImageTags, parseRepository } from './tags.js';

export { DEFAULT_FLEET_JOBS, MAX_FLEET_JOBS } from './limits.js';

/** What happened to one tag. */
export interface TagOutcome {
  status: 'verified' | 'failed' | 'signed' | 'skipped';
  /** Manifest digest read (verify, skip) or written (sign). */
  digest?: string;
  /** Why it failed, or why it was skipped. */
  detail?: string;
  /** An error that stopped the tag (network, not found, ...): its exit code counts. */
  error?: unknown;
}

export interface FleetOptions {
  command: 'verify' | 'sign';
  repositories: string[];
  jobs: number;
  shard?: Shard;
  /** Where the shard came from, for the report (`--shard`, `JOB_COMPLETION_INDEX`). */
  shardSource?: string;
  /** Works on one tag: `docker://host/repo:tag`. Throws for errors that are not verdicts. */
  perTag(image: string): Promise<TagOutcome>;
}

interface RepositoryWork {
  input: string;
  repository: string;
  tags: string[];
  error?: unknown;
}

const LABEL: Record<TagOutcome['status'], string> = { verified: 'OK     ', failed: 'FAILED ', signed: 'SIGNED ', skipped: 'SKIPPED' };

/** A context whose transfers report no progress (parallel tags would draw over each other). */
export function withoutProgress(ctx: CliContext): CliContext {
  const system = { ...ctx.system };
  delete system.onProgress;
  return { ...ctx, system };
}

export async function runAllTags(ctx: CliContext, shell: CommandShell, opts: FleetOptions): Promise<number> {
  const works: RepositoryWork[] = [];
  const skippedRepositories: string[] = [];
  const parsed: Array<{ input: string; ref: DockerReference }> = [];
  try {
    for (const input of opts.repositories) parsed.push({ input, ref: parseRepository(ctx, input) });
  } catch (e) {
    return shell.fail(e, () => ({ command: opts.command, allTags: true, ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  for (const { input, ref } of parsed) {
    const repository = formatDockerReference(ref);
    if (!inShard(repository, opts.shard)) {
      skippedRepositories.push(repository);
      continue;
    }
    const work: RepositoryWork = { input, repository, tags: [] };
    works.push(work);
    try {
      work.tags = await listImageTags(ctx, ref);
    } catch (e) {
      work.error = e;
      shell.out.error(e, repository);
    }
  }
  if (opts.shard && skippedRepositories.length) {
    ctx.debug(`shard ${opts.shard.index}/${opts.shard.count} (${opts.shardSource ?? '--shard'}): ${skippedRepositories.length} repositories belong to other shards: ${skippedRepositories.join(', ')}`);
  }
  const items = works.flatMap((w) => w.tags.map((tag) => ({ repository: w.repository, tag, image: `docker://${w.repository}:${tag}` })));
  const results = await mapPool(items, opts.jobs, async (item) => {
    let outcome: TagOutcome;
    try {
      outcome = await opts.perTag(item.image);
    } catch (e) {
      outcome = { status: 'failed', detail: errorMessage(e), error: e };
    }
    imageDone(ctx);
    if (!shell.json) {
      const digest = outcome.digest ? ` ${outcome.digest}` : '';
      const detail = outcome.detail ? `: ${oneLine(outcome.detail)}` : '';
      const line = `${LABEL[outcome.status]} ${item.repository}:${item.tag}${digest}${detail}\n`;
      if (outcome.status === 'failed') shell.out.err(line);
      else shell.out.out(line);
    }
    return { ...item, outcome };
  });

  const count = (s: TagOutcome['status']) => results.filter((r) => r.outcome.status === s).length;
  const codes: number[] = works.filter((w) => w.error).map((w) => exitCodeFor(w.error));
  for (const r of results) {
    if (r.outcome.status !== 'failed') codes.push(ExitCodes.Ok);
    else codes.push(r.outcome.error !== undefined ? exitCodeFor(r.outcome.error) : ExitCodes.NotTrusted);
  }
  const code = worstExitCode(codes.length ? codes : [ExitCodes.Ok]);
  const summary = {
    repositories: works.length,
    repositoriesInOtherShards: skippedRepositories.length,
    tags: results.length,
    verified: count('verified'),
    signed: count('signed'),
    skipped: count('skipped'),
    failed: count('failed'),
  };
  if (shell.json) {
    shell.writeJson({
      command: opts.command,
      allTags: true,
      ok: code === ExitCodes.Ok,
      exitCode: code,
      ...(opts.shard ? { shard: { ...opts.shard, source: opts.shardSource ?? '--shard' } } : {}),
      summary,
      repositories: works.map((w) => ({ repository: w.repository, tags: w.tags.length, ...(w.error ? { error: errorJson(w.error) } : {}) })),
      results: results.map((r) => ({
        image: r.image,
        repository: r.repository,
        tag: r.tag,
        status: r.outcome.status,
        ok: r.outcome.status !== 'failed',
        digest: r.outcome.digest ?? null,
        ...(r.outcome.detail ? { detail: r.outcome.detail } : {}),
        ...(r.outcome.error !== undefined ? { error: errorJson(r.outcome.error) } : {}),
      })),
    });
  } else {
    const parts = opts.command === 'verify'
      ? [`${summary.verified} verified`, `${summary.failed} failed`]
      : [`${summary.signed} signed`, `${summary.skipped} already signed`, `${summary.failed} failed`];
    const shard = opts.shard ? ` (shard ${opts.shard.index}/${opts.shard.count}; ${skippedRepositories.length} repositories in other shards)` : '';
    shell.out.out(`${summary.tags} tags in ${summary.repositories} repositories: ${parts.join(', ')}${shard}\n`);
  }
  return code;
}
