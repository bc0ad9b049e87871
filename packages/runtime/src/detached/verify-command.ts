/**
 * `dsv verify --policy FILE` / `DSV_POLICY` and `dsv verify --trust cosign:FILE`: every digest and
 * diff_id checked as always, then the image judged by the policy over every signature format; the
 * reasons per requirement printed, the verdict in --json. Exit 0 only when both hold.
 */
import { DsvError } from '@dsv/core/formats';
import type { VerifyResult } from '@dsv/core/operations';
import type { IdentityMatcher, Policy, SignatureJudgement } from '@dsv/policy';
import { integrityVerdict, runVerify, uncheckedVerify } from '../commands.js';
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, exitCodeForVerify, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, imageVerificationJson, oneLine, verifyFailureLines } from '../report.js';
import type { CommandShell } from '../shell.js';
import { judgeImage, loadPolicy, unmetRequirements, type Judgement, type LoadedPolicy } from './policy.js';
import { describeKeyless, firstKeylessFlag, keylessRequirement, signedIdentityMatcher, type KeylessFlags } from './keyless.js';
import { detachedStores, type DetachedOptions, type DetachedStores } from './stores.js';

const INDENT = '    ';

/**
 * `--trust cosign:FILE` (repeatable): one sigstoreSigned requirement with these keys, for every transport;
 * the signature must claim the image's reference (matchRepoDigestOrExact) unless `signedIdentity` says otherwise.
 */
export function cosignTrustPolicy(keyFiles: string[], signedIdentity: IdentityMatcher = { type: 'matchRepoDigestOrExact' }): LoadedPolicy {
  const policy: Policy = {
    default: [{ type: 'sigstoreSigned', keys: keyFiles.map((path) => ({ kind: 'path' as const, path })), rekorPublicKeys: [], signedIdentity }],
    transports: new Map(),
  };
  return { policy, baseDir: process.cwd() };
}

/** The keyless flags (and --sign-identity) as a policy: one sigstoreSigned fulcio requirement, every transport. */
export async function keylessTrustPolicy(flags: KeylessFlags, signIdentity?: string): Promise<LoadedPolicy> {
  const requirement = await keylessRequirement(flags, signedIdentityMatcher(signIdentity));
  return { policy: { default: [requirement], transports: new Map() }, baseDir: process.cwd() };
}

/** The cosign: entries of --trust, and the rest. */
export function splitCosignTrust(trust: string[]): { cosign: string[]; other: string[] } {
  const cosign: string[] = [];
  const other: string[] = [];
  for (const t of trust) {
    if (/^cosign:/i.test(t)) {
      const path = t.slice('cosign:'.length);
      if (!path) throw new DsvError('Usage', '--trust cosign: needs a public key file (cosign:cosign.pub)');
      cosign.push(path);
    } else other.push(t);
  }
  return { cosign, other };
}

export interface PolicyVerifyOptions extends DetachedOptions {
  /** --policy FILE (or DSV_POLICY). */
  policyFile?: string;
  /** --trust cosign:FILE entries. */
  cosignKeys?: string[];
  /** cosign's keyless flags (--certificate-identity, --trusted-root, ...). */
  keyless?: KeylessFlags;
  /** --sign-identity REF: the image identity detached signatures must claim (with --trust cosign: or the keyless flags). */
  signIdentity?: string;
  platform?: string;
}

/** One image as `dsv verify --policy` and `dsv verify --all-tags --policy` judge it. */
export interface PolicyVerdict {
  /** Every digest and diff_id checked (signatures are the policy's). */
  integrity: VerifyResult;
  /** The policy's verdict: absent when judging failed (`error`) or was not asked for (`integrityFirst`, integrity failed). */
  judgement?: Judgement;
  /** What stopped the judgement once integrity had been checked. */
  error?: unknown;
  /** Integrity holds and the policy accepts the image. */
  ok: boolean;
}

/**
 * Checks `image`'s integrity, then judges it by `policy` over every signature format (`stores`). An error
 * reading the image throws; one while judging it is returned with the integrity verdict. `integrityFirst`:
 * an image whose integrity fails is not judged.
 */
export async function verifyImageByPolicy(
  ctx: CliContext,
  image: string,
  policy: LoadedPolicy,
  opts: { stores: DetachedStores; platform?: string; integrityFirst?: boolean },
): Promise<PolicyVerdict> {
  const platform = opts.platform ? { platform: opts.platform } : {};
  const integrity = integrityVerdict(await runVerify(ctx, image, { verify: uncheckedVerify, ...platform }));
  if (opts.integrityFirst && !integrity.ok) return { integrity, ok: false };
  try {
    const judgement = await judgeImage(ctx, image, policy, { stores: opts.stores, ...platform });
    return { integrity, judgement, ok: integrity.ok && judgement.allowed };
  } catch (error) {
    return { integrity, error, ok: false };
  }
}

interface Outcome {
  input: string;
  integrity?: VerifyResult;
  judgement?: Judgement;
  error?: unknown;
  ok: boolean;
}

function judgementLines(j: SignatureJudgement): string {
  const who = [j.keyId && `key ${j.keyId}`, j.signer && oneLine(j.signer)].filter(Boolean).join(' ');
  const id = `${j.identity ? `, identity ${j.identity}` : ''}${j.certificateIdentity ? `, certificate identity ${j.certificateIdentity} (OIDC issuer ${j.certificateOidcIssuer})` : ''}`;
  return `${j.format} ${j.origin}${who ? ` by ${who}` : ''}${id}: ${j.accepted ? 'accepted' : `not accepted${j.reason ? `: ${oneLine(j.reason)}` : ''}`}`;
}

/** The policy section of the text report. */
export function formatJudgement(j: Judgement, source: string, debug = false): string[] {
  const out: string[] = [];
  out.push(`Judging by ${source}: ${j.scope}`);
  if (j.subject && (j.subject.manifestDigest !== j.manifestDigest || !j.reference.startsWith('docker://'))) {
    out.push(`${INDENT}registry manifest: ${j.subject.dockerReference}@${j.subject.manifestDigest}${j.origin ? ` (from ${j.origin.from}; config ${j.origin.configDigest} and ${j.origin.diffIds} diff_ids match the local image)` : ''}`);
  }
  for (const r of j.requirements) {
    out.push(`${INDENT}${r.type}: ${r.allowed ? 'satisfied' : 'NOT satisfied'}: ${oneLine(r.reason)}`);
    if (debug || !r.allowed) for (const s of r.signatures) out.push(`${INDENT}${INDENT}${judgementLines(s)}`);
  }
  if (j.requirements.length === 0) out.push(`${INDENT}no requirements apply: rejected`);
  out.push(j.allowed ? 'Policy check passed.' : 'Policy check FAILED.');
  return out;
}

function integrityLines(r: VerifyResult): string[] {
  const out: string[] = [];
  for (const img of r.images) {
    out.push(`Verifying Integrity: ${r.reference}${img.platform ? ` [${img.platform}]` : ''} ...`);
    out.push(`${INDENT}manifest digest: ${img.manifestDigest}`);
    out.push(`${INDENT}config digest: ${img.configDigest}`);
    out.push(img.integrity.ok ? 'Integrity check passed.' : 'Integrity check FAILED.');
  }
  return out;
}

export function judgementJson(j: Judgement, source: string) {
  return {
    policy: source,
    allowed: j.allowed,
    transport: j.transport,
    scope: j.scope,
    manifestDigest: j.manifestDigest,
    subject: j.subject ?? null,
    origin: j.origin ?? null,
    requirements: j.requirements.map((r) => ({
      type: r.type,
      allowed: r.allowed,
      reason: r.reason,
      signatures: r.signatures.map((s) => ({
        format: s.format, origin: s.origin, accepted: s.accepted, valid: s.valid, keyId: s.keyId ?? null, signer: s.signer ?? null,
        identity: s.identity ?? null, manifestDigest: s.manifestDigest ?? null, code: s.code ?? null, reason: s.reason ?? null,
        certificateIdentity: s.certificateIdentity ?? null, certificateOidcIssuer: s.certificateOidcIssuer ?? null,
      })),
    })),
  };
}

/** Verifies each image: integrity, then the policy; reports text or JSON; the worst exit code. */
export async function runPolicyVerify(ctx: CliContext, shell: CommandShell, images: string[], opts: PolicyVerifyOptions): Promise<number> {
  let loaded: LoadedPolicy;
  let source: string;
  try {
    const keyless = opts.keyless && firstKeylessFlag(opts.keyless);
    if (opts.policyFile !== undefined && opts.cosignKeys?.length) throw new DsvError('Usage', '--policy and --trust cosign: cannot be combined (put a sigstoreSigned requirement in the policy)');
    if (opts.policyFile !== undefined && keyless) throw new DsvError('Usage', `--policy and ${keyless} cannot be combined (put a sigstoreSigned fulcio requirement in the policy)`);
    if (opts.policyFile !== undefined && opts.signIdentity !== undefined) throw new DsvError('Usage', '--policy and --sign-identity cannot be combined (the policy\'s signedIdentity says what signatures must claim)');
    if (keyless && opts.cosignKeys?.length) throw new DsvError('Usage', `--trust cosign: and ${keyless} cannot be combined (a key or keyless, not both)`);
    if (opts.policyFile !== undefined) {
      loaded = await loadPolicy(opts.policyFile);
      source = `policy ${loaded.path}`;
    } else if (keyless) {
      loaded = await keylessTrustPolicy(opts.keyless!, opts.signIdentity);
      source = describeKeyless(opts.keyless!);
    } else {
      loaded = cosignTrustPolicy(opts.cosignKeys ?? [], signedIdentityMatcher(opts.signIdentity));
      source = `cosign keys ${(opts.cosignKeys ?? []).join(', ')}`;
    }
  } catch (e) {
    return shell.fail(e, () => ({ command: 'verify', ok: false, exitCode: exitCodeFor(e), results: images.map((input) => ({ input, ok: false, error: errorJson(e) })) }));
  }
  let stores;
  try {
    stores = await detachedStores(ctx, opts);
  } catch (e) {
    return shell.fail(e, () => ({ command: 'verify', ok: false, exitCode: exitCodeFor(e), results: images.map((input) => ({ input, ok: false, error: errorJson(e) })) }));
  }
  const outcomes: Outcome[] = [];
  const codes: number[] = [];
  try {
    for (const input of images) {
      const o: Outcome = { input, ok: false };
      outcomes.push(o);
      try {
        const v = await verifyImageByPolicy(ctx, input, loaded, { stores, ...(opts.platform ? { platform: opts.platform } : {}) });
        o.integrity = v.integrity;
        if (v.error !== undefined || !v.judgement) throw v.error;
        o.judgement = v.judgement;
      } catch (e) {
        o.error = e;
        shell.progress.clear();
        shell.out.error(e, input);
        codes.push(exitCodeFor(e));
        continue;
      }
      shell.progress.clear();
      const integrity = o.integrity;
      const j = o.judgement;
      o.ok = integrity.ok && j.allowed;
      if (!shell.json) {
        shell.out.out(`${[...integrityLines(integrity), ...formatJudgement(j, source, shell.debug)].join('\n')}\n`);
        shell.out.out(`${o.ok ? 'Verified' : 'NOT verified'}: ${integrity.reference} (${integrity.digest})\n`);
      }
      if (!o.ok) {
        for (const line of integrity.ok ? [] : verifyFailureLines(integrity)) shell.out.err(`${shell.out.prog}: error: ${line}\n`);
        for (const r of j.requirements) if (!r.allowed) shell.out.err(`${shell.out.prog}: error: ${input}: ${r.type}: ${oneLine(r.reason)}\n`);
        if (j.requirements.length === 0) shell.out.err(`${shell.out.prog}: error: ${input}: the policy (${j.scope}) has no requirements for it\n`);
        codes.push(integrity.ok ? ExitCodes.NotTrusted : exitCodeForVerify(integrity));
      } else codes.push(ExitCodes.Ok);
    }
  } finally {
    await stores.close();
  }
  const code = worstExitCode(codes);
  if (shell.json) {
    shell.writeJson({
      command: 'verify',
      ok: code === 0,
      exitCode: code,
      results: outcomes.map((o) => {
        if (o.error !== undefined || !o.integrity || !o.judgement) {
          return { input: o.input, reference: o.integrity?.reference ?? null, ok: false, error: errorJson(o.error), images: [], policy: null, failures: [errorMessage(o.error)] };
        }
        return {
          input: o.input,
          reference: o.integrity.reference,
          digest: o.integrity.digest,
          kind: o.integrity.kind,
          ok: o.ok,
          error: null,
          images: o.integrity.images.map((img) => {
            const { signatures: _s, ...rest } = imageVerificationJson(img);
            return rest;
          }),
          policy: judgementJson(o.judgement, source),
          failures: [
            ...(o.integrity.ok ? [] : verifyFailureLines(o.integrity)),
            ...unmetRequirements(o.judgement).map(oneLine),
          ],
        };
      }),
    });
  }
  return code;
}
