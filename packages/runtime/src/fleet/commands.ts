/**
 * The per-tag work of `dsv verify --all-tags` (integrity and embedded signatures, or a policy) and
 * `dsv sign --all-tags` (embedded signatures, skipping tags this key has already signed).
 */
import type { KeyInfo } from '@dsv/core/formats';
import { integrityVerdict, runInspect, runSign, runVerify, uncheckedVerify } from '../commands.js';
import { createVerifyFunction, type CliContext } from '../context.js';
import type { ResolvedKey } from '../keys.js';
import type { CommandShell } from '../shell.js';
import { exitCodeFor } from '../exit-codes.js';
import { errorJson } from '../report.js';
import { runAllTags, withoutProgress, type TagOutcome } from './all-tags.js';
import { withRunResources } from './run-resources.js';
import type { Shard } from './shard.js';
import type { LoadedPolicy } from '../detached/policy.js';

export interface FleetCommon {
  repositories: string[];
  jobs: number;
  shard?: Shard;
  shardSource?: string;
  platform?: string;
}

export interface FleetVerifyOptions extends FleetCommon {
  trust: string[];
  /** --policy FILE / DSV_POLICY. */
  policyFile?: string;
  /** A policy already built (cosign's keyless flags); wins over policyFile. */
  policy?: LoadedPolicy;
  registriesD?: string;
  /** --no-check-signatures. */
  integrityOnly?: boolean;
}

/** Every tag's images share the run's registry clients (run-resources.ts). */
export async function verifyAllTags(context: CliContext, shell: CommandShell, o: FleetVerifyOptions): Promise<number> {
  return withRunResources(context, (ctx) => verifyAllTagsIn(ctx, shell, o));
}

async function verifyAllTagsIn(context: CliContext, shell: CommandShell, o: FleetVerifyOptions): Promise<number> {
  const ctx = withoutProgress(context);
  let perTag: (image: string) => Promise<TagOutcome>;
  try {
    if (o.policy !== undefined || o.policyFile !== undefined) {
      const { detachedStores, loadPolicy, unmetRequirements } = await import('../detached/index.js');
      const { verifyImageByPolicy } = await import('../detached/verify-command.js');
      const loaded = o.policy ?? (await loadPolicy(o.policyFile!));
      const stores = await detachedStores(ctx, o.registriesD !== undefined ? { registriesD: o.registriesD } : {});
      perTag = async (image) => {
        const v = await verifyImageByPolicy(ctx, image, loaded, { stores, integrityFirst: true, ...(o.platform ? { platform: o.platform } : {}) });
        const digest = v.integrity.digest;
        if (!v.integrity.ok) return { status: 'failed', digest, detail: v.integrity.failures.join('; ') };
        if (v.error !== undefined || !v.judgement) throw v.error;
        if (v.ok) return { status: 'verified', digest };
        return { status: 'failed', digest, detail: unmetRequirements(v.judgement).join('; ') || 'rejected by the policy' };
      };
      try {
        return await runAllTags(ctx, shell, { command: 'verify', ...common(o), perTag });
      } finally {
        await stores.close();
      }
    }
    const verify = o.integrityOnly ? uncheckedVerify : await createVerifyFunction(ctx, { trust: o.trust });
    perTag = async (image) => {
      let r = await runVerify(ctx, image, { verify, ...(o.platform ? { platform: o.platform } : {}) });
      if (o.integrityOnly) r = integrityVerdict(r);
      return r.ok ? { status: 'verified', digest: r.digest } : { status: 'failed', digest: r.digest, detail: r.failures.join('; ') };
    };
  } catch (e) {
    return shell.fail(e, () => ({ command: 'verify', allTags: true, ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  return runAllTags(ctx, shell, { command: 'verify', ...common(o), perTag });
}

export interface FleetSignOptions extends FleetCommon {
  key: ResolvedKey;
  dryRun: boolean;
}

function common(o: FleetCommon) {
  return { repositories: o.repositories, jobs: o.jobs, ...(o.shard ? { shard: o.shard } : {}), ...(o.shardSource ? { shardSource: o.shardSource } : {}) };
}

function sameKey(a: { keyId?: string; fingerprint?: string }, key: KeyInfo): boolean {
  const norm = (s: string | undefined) => s?.replace(/\s+/g, '').toLowerCase();
  const ids = [norm(key.keyId), norm(key.fingerprint)].filter((s): s is string => !!s);
  return [norm(a.keyId), norm(a.fingerprint)].some((s) => s !== undefined && ids.some((id) => id === s || id.endsWith(s) || s.endsWith(id)));
}

/** Signs every tag in place (embedded signatures: each tag moves to its signed image); already signed by this key: skipped. */
/** Every tag's images share the run's registry clients (run-resources.ts). */
export async function signAllTags(context: CliContext, shell: CommandShell, o: FleetSignOptions): Promise<number> {
  return withRunResources(context, (ctx) => signAllTagsIn(ctx, shell, o));
}

async function signAllTagsIn(context: CliContext, shell: CommandShell, o: FleetSignOptions): Promise<number> {
  const ctx = withoutProgress(context);
  let key: KeyInfo;
  let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
  try {
    const plugin = ctx.signers.get(o.key.keyType);
    const settings = ctx.signerSettings[plugin.type];
    const signer = await plugin.createSigner({ key: o.key.key, passphrase: o.key.passphrase, ...(settings && Object.keys(settings).length ? { settings } : {}) });
    key = await signer.describeKey();
    verify = await createVerifyFunction(ctx, {});
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sign', allTags: true, ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  if (!shell.json) shell.out.out(`Signing every tag with ${key.type} key ${key.keyId}${key.identity ? ` (${key.identity})` : ''}${o.dryRun ? ' (dry run)' : ''}\n`);
  const perTag = async (image: string): Promise<TagOutcome> => {
    const seen = await runInspect(ctx, image, { verify, ...(o.platform ? { platform: o.platform } : {}) });
    const signed = seen.images.length > 0 && seen.images.every((img) => img.signatures.some((s) => s.digestMatches && sameKey(s, key)));
    if (signed) return { status: 'skipped', digest: seen.digest, detail: `already signed by ${key.keyId}` };
    const summary = await runSign(ctx, { source: image, destination: image, key: o.key, kind: 'sign', dryRun: o.dryRun, ...(o.platform ? { platform: o.platform } : {}) });
    const digest = summary.result.destinationDigest;
    return { status: 'signed', digest, ...(o.dryRun ? { detail: 'dry run: nothing written' } : { detail: `was ${seen.digest}` }) };
  };
  return runAllTags(ctx, shell, { command: 'sign', ...common(o), perTag });
}
