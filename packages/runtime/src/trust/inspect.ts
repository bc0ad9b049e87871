/**
 * `dsv trust inspect IMAGE|REPO [--server URL] [--json]`: what `docker trust inspect --pretty` shows (signed
 * tags with digests and signers, signers' keys, the repository and root keys) from trust data verified from
 * the pinned root, plus every role's version, expiry and key ids, and for each signed tag whether the
 * registry serves the signed manifest. Exit 0 when the trust data verifies (a tag the registry serves
 * differently is reported, not judged: `dsv verify --dct` judges); 1 when it does not, or names no
 * signed tag asked for.
 */
import { DsvError, isDsvError } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import { ExitCodes } from '../exit-codes.js';
import { errorJson, errorMessage } from '../report.js';
import type { CommandShell } from '../shell.js';
import { transportNames } from '../transports.js';
import { servedManifest } from './check.js';
import { openTrust, parseTrustTarget } from './notary.js';
import { formatTrustInspectText, trustInspectJson, type InspectedTag } from './report.js';

export interface TrustInspectArgs {
  target: string;
  server?: string;
  json: boolean;
}

export async function trustInspect(ctx: CliContext, a: TrustInspectArgs, shell: CommandShell): Promise<number> {
  let server: string | undefined;
  try {
    const target = parseTrustTarget(a.target, { known: transportNames(ctx.manifests), ...(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {}) });
    const trust = await openTrust(ctx, target, a.server !== undefined ? { server: a.server } : {});
    server = trust.server;
    let state;
    try {
      state = await trust.client.inspect(target.gun);
    } finally {
      await trust.client.close();
    }
    const signed = target.tag === undefined ? state.tags : state.tags.filter((t) => t.tag === target.tag);
    if (target.tag !== undefined && signed.length === 0) throw new DsvError('NoSignatures', `no signed trust data for ${target.gun}:${target.tag}`, { gun: target.gun, tag: target.tag });
    const tags: InspectedTag[] = [];
    for (const t of signed) {
      const row: InspectedTag = { tag: t.tag, digest: t.digest, length: t.length, role: t.role, roles: t.signers, registry: 'error' };
      try {
        const served = await servedManifest(ctx, target.gun, t.tag);
        row.servedDigest = served.digest;
        row.registry = served.digest === t.digest && served.length === t.length ? 'matches' : 'differs';
      } catch (e) {
        if (isDsvError(e) && e.code === 'NotFound') row.registry = 'missing';
        else row.registryError = errorMessage(e);
      }
      tags.push(row);
    }
    shell.progress.clear();
    if (a.json) shell.writeJson(trustInspectJson(a.target, trust.server, state, tags));
    else shell.out.out(formatTrustInspectText(trust.server, state, tags));
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ command: 'trust inspect', input: a.target, server: server ?? null, ok: false, trustVerified: false, error: errorJson(e) }));
  }
}
