/**
 * The Docker Content Trust check of one tag: the TUF chain from the pinned root to the role that signs
 * the tag, the signed target (sha256 and length) against the manifest the registry serves for the tag now,
 * then the integrity of the image that digest names (every platform of a list/index, or --platform).
 */
import type { VerifyResult } from '@dsv/core/operations';
import type { VerifiedTag } from '@dsv/trust-notary';
import { integrityVerdict, runVerify, uncheckedVerify } from '../commands.js';
import type { CliContext } from '../context.js';
import type { OpenedTrust, TrustTarget } from './notary.js';

export interface ServedManifest {
  digest: string;
  length: number;
  mediaType: string;
}

/** The manifest (or list/index) the registry serves for `gun:tag` now: its digest over the bytes received. */
export async function servedManifest(ctx: CliContext, gun: string, tag: string): Promise<ServedManifest & { bytes: Uint8Array }> {
  const { createHash } = await import('node:crypto');
  const source = await ctx.parseImage(`docker://${gun}:${tag}`).newSource(ctx.system);
  try {
    const { bytes, mediaType } = await source.getManifest();
    return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, length: bytes.length, mediaType, bytes };
  } finally {
    await source.close();
  }
}

export interface DctCheck {
  /** `<gun>:<tag>`. */
  reference: string;
  signed: VerifiedTag;
  served: ServedManifest;
  /** Integrity of `<gun>@<signed digest>` (signatures not judged: DCT is the signature here). */
  integrity: VerifyResult;
  ok: boolean;
}

/**
 * Throws (a DsvError naming why) when the trust data does not sign the tag, does not verify, or signs
 * another manifest than the one served; otherwise returns the integrity verdict with it.
 */
export async function checkDctTag(ctx: CliContext, trust: OpenedTrust, target: TrustTarget, tag: string, opts: { platform?: string } = {}): Promise<DctCheck> {
  const { assertManifestMatches } = await import('@dsv/trust-notary');
  const signed = await trust.client.verifyTag(target.gun, tag);
  ctx.debug(`${target.gun}:${tag}: trust data signs ${signed.digest} (${signed.length} bytes) in ${signed.role}`);
  const served = await servedManifest(ctx, target.gun, tag);
  assertManifestMatches(signed, served.bytes);
  const result = await runVerify(ctx, `docker://${target.gun}@${signed.digest}`, { verify: uncheckedVerify, ...(opts.platform ? { platform: opts.platform } : {}) });
  const integrity = integrityVerdict(result);
  return { reference: `${target.gun}:${tag}`, signed, served: { digest: served.digest, length: served.length, mediaType: served.mediaType }, integrity, ok: integrity.ok };
}

/**
 * Signers as `docker trust inspect` names them: `(Repo Admin)` (`Repo Admin` in its JSON, `pretty` false)
 * for targets, a delegation by its name; releases only when it is the only one.
 */
export function signerNames(roles: readonly string[], pretty = true): string[] {
  const admin = pretty ? '(Repo Admin)' : 'Repo Admin';
  const names = roles.filter((r) => r !== 'targets/releases').map((r) => (r === 'targets' ? admin : r.replace(/^targets\//, '')));
  return names.length ? names : roles.map((r) => r.replace(/^targets\//, ''));
}
