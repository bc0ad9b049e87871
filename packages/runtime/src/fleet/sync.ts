/**
 * `dsv sync SRC DEST`: every image of SRC (see sync-sources.ts) copied to DEST with every platform,
 * `--jobs` images at a time, the repositories of this shard only. Idempotent: an image whose manifest DEST
 * already has under that tag (a HEAD) is not sent again. Each source manifest is read once per image. With `--policy`, only images the policy accepts are copied;
 * the others are listed with the reason. One line per image, a summary, and a JSON report.
 */
import { readManifest } from '@dsv/core/operations';
import { isDsvError, type Digest, type Manifest } from '@dsv/core/formats';
import type { RegistryClient } from '@dsv/source-registry';
import type { ImageReference, SystemContext } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import { copyInto } from '../copy-between.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, oneLine } from '../report.js';
import type { CommandShell } from '../shell.js';
import { withoutProgress } from './all-tags.js';
import { layerLimitsOf } from '../commands.js';
import { mapPool } from './pool.js';
import { imageDone, withRunResources } from './run-resources.js';
import { inShard, type Shard } from './shard.js';
import { syncDestination, syncSources, type SyncRepository } from './sync-sources.js';
import type { DetachedStores } from '../detached/stores.js';

/** The signature side of a sync: the stores and copy-signatures.ts, when signatures are carried or judged. */
interface SyncSignatures {
  stores: DetachedStores;
  sigs?: typeof import('../copy-signatures.js');
}

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
  /** Each side's auth settings (--src-/--dest-authfile, --src-/--dest-creds, --authfile). */
  sides?: { source: Partial<SystemContext>; destination: Partial<SystemContext> };
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

/** The manifest digest DEST holds under a reference, or undefined when it holds none. */
type DigestAt = (ref: ImageReference) => Promise<Digest | undefined>;

/**
 * How the digest at DEST is found: a registry is asked with HEAD (its Docker-Content-Digest; one client for
 * the whole run), an OCI layout's manifest is read from disk. A registry that names no digest: undefined
 * (the image is copied, which sends only what is missing).
 */
function destinationDigests(ctx: CliContext): { digestAt: DigestAt; close(): Promise<void> } {
  const clients = new Map<string, Promise<RegistryClient>>();
  const digestAt: DigestAt = async (ref) => {
    if (ref.transport.name === 'docker') {
      const { parseDockerReference } = await import('@dsv/core/formats');
      const d = parseDockerReference(ref.within.replace(/^\/\//, ''), { defaultRegistry: ctx.system.defaultRegistry ?? 'docker.io' });
      let client = clients.get(d.registry);
      if (!client) {
        client = Promise.resolve((ref as unknown as { newClient(system: unknown): RegistryClient }).newClient(ctx.system));
        clients.set(d.registry, client);
      }
      const head = await (await client).headManifest(d.repository, d.tag ?? d.digest ?? 'latest');
      const digest = head?.registryDigest;
      return digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? (digest as Digest) : undefined;
    }
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
  };
  return {
    digestAt,
    close: async () => {
      for (const c of clients.values()) await (await c).close();
    },
  };
}

/**
 * The context of a sync with each side's credentials: SRC's for every registry read (a sync file may name
 * several), DEST's registry its own (SystemContext.registryAuth), so neither side's credentials reach the other.
 */
function withSides(ctx: CliContext, destination: string, sides: NonNullable<SyncOptions['sides']>): CliContext {
  const system: SystemContext = { ...ctx.system, ...sides.source };
  if (destination.startsWith('docker://')) {
    const registry = (ctx.parseImage(syncDestination(destination, 'sync', 'latest')) as unknown as { registry?: string }).registry;
    const d = sides.destination;
    if (registry) {
      system.registryAuth = {
        ...(ctx.system.registryAuth ?? {}),
        [registry.toLowerCase()]: { ...(d.credentialsFiles ? { credentialsFiles: d.credentialsFiles } : {}), ...(d.registryCredentials ? { registryCredentials: d.registryCredentials } : {}) },
      };
    }
  }
  return { ...ctx, system };
}

/** One registry client per registry and configuration for the whole run (run-resources.ts), closed at its end. */
export async function runSync(context: CliContext, shell: CommandShell, o: SyncOptions): Promise<number> {
  return withRunResources(context, (ctx) => runSyncIn(ctx, shell, o));
}

async function runSyncIn(context: CliContext, shell: CommandShell, o: SyncOptions): Promise<number> {
  if (!/^(docker:\/\/|oci:)/.test(o.destination)) {
    return shell.fail(new (await import('@dsv/core/formats')).DsvError('Usage', `DEST ${o.destination}: a registry prefix (docker://HOST[/PREFIX]) or a directory of OCI layouts (oci:DIR)`));
  }
  let ctx = withoutProgress(context);
  try {
    if (o.sides) ctx = withSides(ctx, o.destination, o.sides);
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sync', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  let repos: SyncRepository[];
  try {
    repos = await syncSources(ctx, o.source, { scoped: o.scoped });
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sync', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  const mine = repos.filter((r) => inShard(r.name, o.shard));
  if (o.shard) ctx.debug(`shard ${o.shard.index}/${o.shard.count} (${o.shardSource ?? '--shard'}): ${mine.length} of ${repos.length} repositories`);
  let judge: ((ref: ImageReference, top: Manifest) => Promise<{ allowed: boolean; reason: string }>) | undefined;
  let signatures: SyncSignatures | undefined;
  try {
    if (o.policyFile !== undefined || !o.removeSignatures) {
      const { detachedStores } = await import('../detached/stores.js');
      signatures = { stores: await detachedStores(ctx, o.registriesD !== undefined ? { registriesD: o.registriesD } : {}) };
      if (!o.removeSignatures) signatures.sigs = await import('../copy-signatures.js');
    }
    if (o.policyFile !== undefined) {
      const { judgeImage, loadPolicy, unmetRequirements } = await import('../detached/policy.js');
      const loaded = await loadPolicy(o.policyFile);
      const stores = signatures!.stores;
      judge = async (ref, top) => {
        const j = await judgeImage(ctx, ref, loaded, { stores, top });
        return { allowed: j.allowed, reason: unmetRequirements(j).join('; ') || (j.allowed ? '' : 'no requirement applies') };
      };
    }
  } catch (e) {
    await signatures?.stores.close();
    return shell.fail(e, () => ({ command: 'sync', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  const dest = destinationDigests(ctx);
  const closeStores = async () => {
    await dest.close();
    await signatures?.stores.close();
  };
  const items = mine.flatMap((r) => r.images.map((img) => ({ repository: r.name, tag: img.tag, source: img.source, destination: syncDestination(o.destination, r.destName, img.tag) })));
  try {
    // One OCI layout takes one writer at a time (its index.json is rewritten per tag): the tags of one
    // layout go in a row; registry destinations take every image at once.
    const lanes = new Map<string, typeof items>();
    items.forEach((item, i) => {
      const key = o.destination.startsWith('oci:') ? item.repository : String(i);
      const lane = lanes.get(key);
      if (lane) lane.push(item);
      else lanes.set(key, [item]);
    });
    const done = await mapPool([...lanes.values()], o.jobs, async (lane) => {
      const out = [];
      for (const item of lane) {
        let outcome: ImageOutcome;
        try {
          outcome = await syncOne(ctx, item.source, item.destination, o, judge, signatures, dest.digestAt);
        } catch (e) {
          outcome = { status: 'failed', detail: errorMessage(e), error: e };
        }
        imageDone(ctx);
        if (!shell.json) {
          const sigs = outcome.signatures ? ` (+${outcome.signatures} signature${outcome.signatures === 1 ? '' : 's'})` : '';
          const line = `${LABEL[outcome.status]} ${item.source} -> ${item.destination}${outcome.digest ? ` ${outcome.digest}` : ''}${sigs}${outcome.detail ? `: ${oneLine(outcome.detail)}` : ''}\n`;
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
          signaturesCarried: r.outcome.signatures ?? 0,
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
  ctx: CliContext, src: string, dst: string, o: SyncOptions,
  judge: ((ref: ImageReference, top: Manifest) => Promise<{ allowed: boolean; reason: string }>) | undefined, signatures: SyncSignatures | undefined,
  digestAt: DigestAt,
): Promise<ImageOutcome> {
  const srcRef = ctx.parseImage(src);
  const dstRef = ctx.parseImage(dst);
  const source = await srcRef.newSource(ctx.system);
  try {
    const top = await readManifest(source);
    // The source manifest is read once here and handed to the policy, the signature lookup and the copy.
    const present = (await digestAt(dstRef)) === top.digest;
    if (!present && judge) {
      const verdict = await judge(srcRef, top);
      if (!verdict.allowed) return { status: 'rejected', digest: top.digest, detail: verdict.reason };
    }
    // Every detached signature of the source, and whether DEST can hold them, known before DEST changes.
    const { stores, sigs } = signatures ?? {};
    const plan = stores && sigs ? await sigs.planCarry(ctx, stores, srcRef, dstRef, undefined, top) : { found: [] };
    let kept: Map<Digest, Digest>;
    let status: Status;
    let digest = top.digest;
    if (present) {
      kept = new Map(plan.found.map((f) => [f.digest, f.digest]));
      status = 'present';
    } else if (o.dryRun) {
      return { status: 'would-copy', digest: top.digest };
    } else {
      const result = await copyInto(source, dstRef, ctx.system, { ...layerLimitsOf(ctx.system), removeSignatures: false, jobs: 2, debug: ctx.debug, top });
      kept = new Map(result.images.map((i) => [i.sourceManifestDigest, i.manifestDigest]));
      kept.set(result.sourceDigest, result.destinationDigest);
      digest = result.destinationDigest;
      status = 'copied';
    }
    // Signatures DEST already has are not sent again; new ones at the source are, even for an image already there.
    if (stores && sigs && plan.found.length > 0) {
      const carried = await sigs.carrySignatures(ctx, stores, plan, srcRef, dstRef, kept, o.dryRun);
      const n = carried.simple + carried.cosign + carried.referrers;
      return { status, digest, ...(n ? { signatures: n } : {}) };
    }
    return { status, digest };
  } finally {
    await source.close();
  }
}
