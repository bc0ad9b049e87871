/**
 * `dsv bundle verify FILE`: offline, from the file alone. Every blob of the layout hashed against its
 * name, every image's digests and diff_ids checked, and its signatures (simple files, `.sig` and
 * referrers tags in the layout, embedded) judged by the bundled policy as if the image were at its
 * registry reference — or, without a policy, accepted when any bundled trust file's format accepts it.
 * One line per image, a summary, --json; exit 0 / 1 not trusted / 2 bad bundle / 3.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DsvError } from '@dsv/core/formats';
import { readTopManifest } from '@dsv/core/operations';
import { evaluatePolicy, type Policy, type PolicyImage, type Requirement, type KeySource, type Verdict } from '@dsv/policy';
import { integrityVerdict, runVerify, uncheckedVerify } from '../commands.js';
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, oneLine, verifyFailureLines } from '../report.js';
import type { CommandShell } from '../shell.js';
import { withoutProgress } from '../fleet/all-tags.js';
import type { DsvBundleVerifyArgs } from './command.js';
import type { BundleImage } from './format.js';
import { bundleFormats, openBundle, type OpenBundle } from './read.js';
import { unmetRequirements } from '../detached/policy.js';

/** Blobs whose bytes do not hash to their name. */
async function tamperedBlobs(bundle: OpenBundle): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = await readdir(bundle.path('blobs/sha256'));
  } catch {
    throw new DsvError('ArchiveInvalid', 'the bundle has no blobs/sha256 directory; not an OCI layout');
  }
  for (const name of names.sort()) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(join(bundle.path('blobs/sha256'), name))) h.update(chunk as Buffer);
    const actual = h.digest('hex');
    if (actual !== name) out.push(`blob sha256:${name}: its bytes have digest sha256:${actual}`);
  }
  return out;
}

/** What the signatures are judged by: the bundled policy, else one alternative per kind of bundled trust file. */
async function judges(bundle: OpenBundle): Promise<{ source: string; alternatives: { policy: Policy; baseDir: string }[] }> {
  const m = bundle.manifest;
  if (m.policy) {
    const { loadPolicy } = await import('../detached/policy.js');
    const loaded = await loadPolicy(bundle.path(m.policy));
    return { source: `the bundled policy ${m.policy}`, alternatives: [{ policy: loaded.policy, baseDir: loaded.baseDir }] };
  }
  if (m.trust.length === 0) throw new DsvError('Usage', 'the bundle carries no policy and no trust files: nothing to judge its signatures by (bundle create --policy FILE or --trust FILE)');
  const keys = (types: string[]): KeySource[] => m.trust.filter((t) => types.includes(t.type)).map((t) => ({ kind: 'path', path: bundle.path(t.file) }));
  const identity = { type: 'matchRepoDigestOrExact' } as const;
  const reqs: Requirement[] = [];
  if (keys(['gpg']).length) reqs.push({ type: 'signedBy', keyType: 'GPGKeys', keys: keys(['gpg']), signedIdentity: identity });
  if (keys(['cosign']).length) reqs.push({ type: 'sigstoreSigned', keys: keys(['cosign']), rekorPublicKeys: [], signedIdentity: identity });
  if (keys(['gpg', 'pki']).length) reqs.push({ type: 'dsvSigned', keys: keys(['gpg', 'pki']), pkiRoots: [], require: 'any' });
  return {
    source: `the bundled trust files (${m.trust.map((t) => `${t.type}:${t.file}`).join(', ')}; any one format suffices)`,
    alternatives: reqs.map((r) => ({ policy: { default: [r], transports: new Map() }, baseDir: bundle.dir })),
  };
}

interface Outcome {
  image: BundleImage;
  ok: boolean;
  failures: string[];
  error?: unknown;
  verdicts: Verdict[];
}

export async function bundleVerify(context: CliContext, shell: CommandShell, a: DsvBundleVerifyArgs): Promise<number> {
  const ctx = withoutProgress(context);
  let bundle: OpenBundle;
  try {
    bundle = await openBundle(a.file);
  } catch (e) {
    return shell.fail(e, () => ({ command: 'bundle verify', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  try {
    let tampered: string[];
    let judge: Awaited<ReturnType<typeof judges>>;
    try {
      tampered = await tamperedBlobs(bundle);
      judge = await judges(bundle);
    } catch (e) {
      return shell.fail(e, () => ({ command: 'bundle verify', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
    }
    for (const t of tampered) shell.out.err(`${shell.out.prog}: error: ${a.file}: ${t}\n`);
    const outcomes: Outcome[] = [];
    for (const image of bundle.manifest.images) {
      const o: Outcome = { image, ok: false, failures: [], verdicts: [] };
      outcomes.push(o);
      try {
        const ref = bundle.layoutRef(ctx, image);
        const integrity = integrityVerdict(await runVerify(ctx, ref, { verify: uncheckedVerify }));
        if (integrity.digest !== image.digest) o.failures.push(`the layout holds ${integrity.digest}, the bundle manifest says ${image.digest}`);
        if (!integrity.ok) o.failures.push(...verifyFailureLines(integrity));
        const top = await readTopManifest(ref, ctx.system);
        const input: PolicyImage = {
          transport: 'docker', dockerReference: image.reference, manifestDigest: top.digest, manifestBytes: top.bytes,
          context: { subject: { dockerReference: image.reference, manifestDigest: top.digest }, local: ref },
        };
        const formats = bundleFormats(ctx, bundle, image);
        for (const alt of judge.alternatives) {
          const v = await evaluatePolicy(alt.policy, input, { formats, baseDir: alt.baseDir });
          o.verdicts.push(v);
          if (v.allowed) break;
        }
        const accepted = o.verdicts.some((v) => v.allowed);
        if (!accepted) {
          const reasons = o.verdicts.flatMap((v) => (v.requirements.length ? unmetRequirements(v) : [`the policy (${v.scope}) has no requirements for it`]));
          o.failures.push(...(reasons.length ? reasons : ['rejected by the policy']));
        }
        o.ok = o.failures.length === 0;
      } catch (e) {
        o.error = e;
        o.failures.push(errorMessage(e));
      }
      if (!shell.json) {
        const line = `${o.ok ? 'VERIFIED' : 'FAILED  '} ${image.reference} ${image.digest}${o.ok ? '' : `: ${oneLine(o.failures.join('; '))}`}\n`;
        if (o.ok) shell.out.out(line);
        else shell.out.err(line);
      }
    }
    const codes = outcomes.map((o) => (o.ok ? ExitCodes.Ok : o.error !== undefined ? exitCodeFor(o.error) : ExitCodes.NotTrusted));
    if (tampered.length) codes.push(ExitCodes.NotTrusted);
    const code = worstExitCode(codes);
    const passed = outcomes.filter((o) => o.ok).length;
    if (shell.json) {
      shell.writeJson({
        command: 'bundle verify',
        ok: code === ExitCodes.Ok,
        exitCode: code,
        file: a.file,
        judgedBy: judge.source,
        tamperedBlobs: tampered,
        results: outcomes.map((o) => ({
          reference: o.image.reference,
          digest: o.image.digest,
          ok: o.ok,
          failures: o.failures,
          ...(o.error !== undefined ? { error: errorJson(o.error) } : {}),
          policy: o.verdicts.map((v) => ({ allowed: v.allowed, scope: v.scope, requirements: v.requirements.map((r) => ({ type: r.type, allowed: r.allowed, reason: r.reason, signatures: r.signatures.length })) })),
        })),
      });
    } else {
      shell.out.out(`${outcomes.length} image${outcomes.length === 1 ? '' : 's'} judged by ${judge.source}: ${passed} verified, ${outcomes.length - passed} failed${tampered.length ? `; ${tampered.length} tampered blob${tampered.length === 1 ? '' : 's'}` : ''}\n`);
    }
    return code;
  } finally {
    await bundle.close();
  }
}
