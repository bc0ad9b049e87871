/**
 * `dsv trust migrate REPO [--tags T,…] --to simple|cosign|embedded --key KEY [--dest-tag PATTERN] [--dry-run]`:
 * for every DCT-signed tag (or those named), the full `dsv verify --dct` check, and only when it holds, a
 * signature over the same digest in the new format. embedded: the signed image (new config, new
 * manifest digest) is stored under --dest-tag (default `{tag}-signed`); the original tag is not moved.
 * A report line per tag (or --json); exit 1 when any tag failed its DCT check or could not be signed.
 */
import { DsvError, type KeyInfo } from '@dsv/core/formats';
import { runSign } from '../commands.js';
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import type { ResolvedKey } from '../keys.js';
import { errorJson, errorMessage } from '../report.js';
import type { CommandShell } from '../shell.js';
import { transportNames } from '../transports.js';
import { checkDctTag, signerNames } from './check.js';
import type { DsvTrustMigrateArgs } from './command.js';
import { openTrust, parseTrustTarget, type TrustTarget } from './notary.js';

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface MigratedTag {
  tag: string;
  /** The digest DCT signs (when the trust data names the tag). */
  digest?: string;
  signers?: string[];
  /** verified: the DCT check held; failed: it did not (nothing was signed). */
  dct: 'verified' | 'failed';
  /** signed, would-sign (--dry-run), skipped (DCT failed), failed (signing failed). */
  action: 'signed' | 'would-sign' | 'skipped' | 'failed';
  /** Where the new signature went (embedded: the destination reference). */
  destination?: string;
  /** embedded: the digest of the signed image written (or that would be). */
  signedDigest?: string;
  error?: unknown;
}

/** `{tag}` in PATTERN replaced by TAG; the result must be a valid tag. */
export function destinationTag(pattern: string, tag: string): string {
  const out = pattern.split('{tag}').join(tag);
  if (!TAG_RE.test(out)) throw new DsvError('Usage', `--dest-tag "${pattern}" gives "${out}" for ${tag}, which is not a valid tag`);
  return out;
}

/** Signs `gun@digest` in `format`; returns where the signature went and the digest signed/written. */
type SignFn = (target: TrustTarget, tag: string, digest: string) => Promise<{ destination: string; signedDigest: string }>;

/** --to embedded: the image signed by digest and stored under --dest-tag (a new config and manifest digest). */
function embeddedSigner(ctx: CliContext, a: DsvTrustMigrateArgs, key: ResolvedKey, onKey: (k: KeyInfo) => void): SignFn {
  return async (target, tag, digest) => {
    const destination = `docker://${target.gun}:${destinationTag(a.destTag, tag)}`;
    const s = await runSign(ctx, { source: `docker://${target.gun}@${digest}`, destination, key, kind: 'sign', dryRun: a.dryRun, onStart: ({ key: k }) => onKey(k) });
    return { destination, signedDigest: s.result.destinationDigest };
  };
}

function formatRow(r: MigratedTag, dryRun: boolean): string {
  const what = r.digest ? ` ${r.digest}` : '';
  const by = r.signers?.length ? ` (DCT signers: ${r.signers.join(', ')})` : '';
  switch (r.action) {
    case 'signed': return `Migrated: ${r.tag}${what}${by} -> ${r.destination}${r.signedDigest && r.signedDigest !== r.digest ? ` (${r.signedDigest})` : ''}`;
    case 'would-sign': return `Would migrate: ${r.tag}${what}${by} -> ${r.destination ?? '?'}${dryRun ? ' (dry run)' : ''}`;
    case 'skipped': return `NOT migrated: ${r.tag}${what}: DCT check failed: ${errorMessage(r.error)}`;
    default: return `NOT migrated: ${r.tag}${what}: signing failed: ${errorMessage(r.error)}`;
  }
}

export async function trustMigrate(ctx: CliContext, a: DsvTrustMigrateArgs, shell: CommandShell): Promise<number> {
  const rows: MigratedTag[] = [];
  let server: string | undefined;
  let keyInfo: KeyInfo | undefined;
  let detached: { close(): Promise<void> } | undefined;
  const report = (code: number, error?: unknown) => ({
    command: 'trust migrate', input: a.target, server: server ?? null, to: a.to, dryRun: a.dryRun, ok: code === 0, exitCode: code,
    key: keyInfo ? { type: keyInfo.type, keyId: keyInfo.keyId ?? null } : null,
    ...(error !== undefined ? { error: errorJson(error) } : {}),
    tags: rows.map((r) => ({
      tag: r.tag, digest: r.digest ?? null, signers: (r.signers ?? []).map((n) => (n === '(Repo Admin)' ? 'Repo Admin' : n)), dct: r.dct, action: r.action,
      destination: r.destination ?? null, signedDigest: r.signedDigest ?? null, error: r.error !== undefined ? errorJson(r.error) : null,
    })),
  });
  try {
    const target = parseTrustTarget(a.target, { known: transportNames(ctx.manifests), ...(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {}) });
    if (a.to === 'embedded' && !a.destTag.includes('{tag}') && (a.tags.length !== 1 || target.tag !== undefined))
      throw new DsvError('Usage', `--dest-tag "${a.destTag}" has no {tag}: every migrated tag would overwrite the same tag (name one tag with --tags, or use {tag})`);
    for (const t of a.tags) if (!TAG_RE.test(t)) throw new DsvError('Usage', `--tags: "${t}" is not a valid tag`);
    // The key (and for simple signing the store) before any tag is checked: a bad one fails at once.
    let sign: SignFn;
    if (a.to === 'embedded') {
      const key = await shell.resolveKey(
        { ...(a.key !== undefined ? { key: a.key } : {}), ...(a.keyType !== undefined ? { keyType: a.keyType } : {}), ...(a.passphraseFile !== undefined ? { passphraseFile: a.passphraseFile } : {}) },
        '--key',
      );
      sign = embeddedSigner(ctx, a, key, (k) => (keyInfo = k));
    } else {
      const { detachedMigrateSigner } = await import('./detached-sign.js');
      const d = await detachedMigrateSigner(ctx, shell, {
        to: a.to, ...(a.key !== undefined ? { key: a.key } : {}), ...(a.passphraseFile !== undefined ? { passphraseFile: a.passphraseFile } : {}), ...(a.registriesD !== undefined ? { registriesD: a.registriesD } : {}),
      });
      detached = d;
      keyInfo = { type: a.to, keyId: (await d.keyId()) ?? '' };
      sign = async (target, tag, digest) => ({ destination: await d.sign(`${target.gun}:${tag}`, digest, a.dryRun), signedDigest: digest });
    }
    const trust = await openTrust(ctx, target, a.server !== undefined ? { server: a.server } : {});
    server = trust.server;
    try {
      let tags = a.tags.length ? a.tags : target.tag !== undefined ? [target.tag] : undefined;
      if (!tags) {
        const state = await trust.client.inspect(target.gun);
        tags = state.tags.map((t) => t.tag);
        if (tags.length === 0) throw new DsvError('NoSignatures', `no signed tags in the trust data of ${target.gun}`, { gun: target.gun });
      }
      for (const tag of tags) {
        const row: MigratedTag = { tag, dct: 'failed', action: 'skipped' };
        rows.push(row);
        try {
          const check = await checkDctTag(ctx, trust, target, tag);
          row.digest = check.signed.digest;
          row.signers = signerNames(check.signed.signers);
          if (!check.ok) throw new DsvError('DigestMismatch', `integrity of ${check.reference} failed: ${check.integrity.failures.join('; ') || 'see dsv verify --dct'}`);
          row.dct = 'verified';
        } catch (e) {
          row.error = e;
          shell.progress.clear();
          if (!a.json) shell.out.out(`${formatRow(row, a.dryRun)}\n`);
          continue;
        }
        try {
          const done = await sign(target, tag, row.digest);
          row.destination = done.destination;
          row.signedDigest = done.signedDigest;
          row.action = a.dryRun ? 'would-sign' : 'signed';
        } catch (e) {
          row.action = 'failed';
          row.error = e;
        }
        shell.progress.clear();
        if (!a.json) shell.out.out(`${formatRow(row, a.dryRun)}\n`);
      }
    } finally {
      await trust.client.close();
    }
  } catch (e) {
    const code = exitCodeFor(e);
    return shell.fail(e, () => report(code, e));
  } finally {
    await detached?.close();
  }
  const codes = rows.map((r) => (r.action === 'signed' || r.action === 'would-sign' ? ExitCodes.Ok : exitCodeFor(r.error)));
  const code = worstExitCode(codes);
  for (const r of rows) if (r.error !== undefined) shell.out.error(r.error, `${a.target} ${r.tag}`);
  if (a.json) shell.writeJson(report(code));
  else {
    const ok = rows.filter((r) => r.action === 'signed' || r.action === 'would-sign').length;
    shell.out.out(`${a.dryRun ? 'Dry run: would migrate' : 'Migrated'} ${ok} of ${rows.length} tag${rows.length === 1 ? '' : 's'} to ${a.to}${keyInfo?.keyId ? ` with key ${keyInfo.keyId}` : ''}.\n`);
  }
  return code;
}
