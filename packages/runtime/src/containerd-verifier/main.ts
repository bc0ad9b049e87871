/**
 * dsv-containerd-verifier: containerd 2's image verifier (bindir plugin) judging each pull by a dsv policy.
 *   dsv-containerd-verifier -name NAME -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
 * The policy is DSV_POLICY, else /etc/dsv/policy.json (containerd passes no arguments of ours). Exit 0 allows
 * the pull; 1 (not trusted), 2 (usage, no or bad policy) and 3 (registry unreachable, no verdict in time)
 * block it. One line on stdout is the reason containerd reports; stderr (logged by containerd at debug
 * level) gets the details.
 */
import { stat } from 'node:fs/promises';
import { DsvError } from '@dsv/core/formats';
import { containerdVerifierSettingsFromEnv, type Environment } from '../environment.js';
import { ExitCodes, exitCodeFor } from '../exit-codes.js';
import { processIo, type CliIo } from '../io.js';
import { errorMessage } from '../report.js';
import { VERSION } from '../version.js';
import { CONTAINERD_OUTPUT_LIMIT, DESCRIPTOR_MEDIA_TYPE, judgedReference, parseVerifierArgs, readStdin, reasonLine, verifierRequest, type VerifierRequest } from './protocol.js';

export const VERIFIER_PROG = 'dsv-containerd-verifier';

/** What a judge says about one image. */
export interface VerifierJudgement {
  allowed: boolean;
  /** One line: why (each requirement's verdict). */
  reason: string;
  /** Details for stderr (containerd's debug log). */
  details?: string[];
  /** The digest of the manifest that was judged (must be the one containerd resolved). */
  manifestDigest: string;
}

/** Judges `reference` (docker://NAME as containerd was asked for it) by the policy file `policy`. */
export type ImageJudge = (input: { reference: string; policy: string; env: Environment; request: VerifierRequest }) => Promise<VerifierJudgement>;

export interface ContainerdVerifierOptions {
  /** The judge (default: the dsv policy over every signature format dsv reads, judge.ts). */
  judge?: ImageJudge;
}

const HELP = `Usage: ${VERIFIER_PROG} -name NAME -digest DIGEST -stdin-media-type ${DESCRIPTOR_MEDIA_TYPE} < descriptor.json

containerd 2's image verifier: put it (or a link to it) in the bin_dir of
[plugins."io.containerd.image-verifier.v1.bindir"]; containerd runs it for every pull with the image's OCI
descriptor on stdin. It judges the image by the dsv policy file DSV_POLICY (default /etc/dsv/policy.json;
containers-policy.json syntax plus dsvSigned), reading signatures from the image's registry.
Exit 0 allows the pull; 1 not trusted, 2 usage or policy error, 3 operational failure block it.
The reason is one line on stdout. DSV_VERIFIER_TIMEOUT (seconds, default 8) bounds the whole run.
`;

/** The -name value, read leniently (for the reason even when the arguments are refused). */
function nameIn(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const m = /^--?name(?:=(.*))?$/s.exec(args[i]!);
    if (m) return reasonLine(m[1] ?? args[i + 1] ?? '', 300) || undefined;
  }
  return undefined;
}

/** stderr writes, bounded (containerd reads at most 32 KiB of it). */
function boundedWriter(stream: NodeJS.WritableStream, limit: number): (text: string) => void {
  let left = limit;
  return (text) => {
    if (left <= 0) return;
    const t = text.length > left ? `${text.slice(0, Math.max(0, left - 14))}(truncated)\n` : text;
    left -= t.length;
    stream.write(t);
  };
}

export async function containerdVerifierMain(args: string[], io: CliIo = processIo(), opts: ContainerdVerifierOptions = {}): Promise<number> {
  const err = boundedWriter(io.stderr, CONTAINERD_OUTPUT_LIMIT / 2);
  let answered = false;
  /** The one stdout line containerd reports, then the exit code. */
  const answer = (code: number, reason: string): number => {
    if (!answered) {
      answered = true;
      io.stdout.write(`${reasonLine(reason)}\n`);
    }
    return code;
  };
  let subject = nameIn(args) ?? 'image';
  const block = (e: unknown): number => {
    const message = errorMessage(e);
    err(`${VERIFIER_PROG}: error: ${message}\n`);
    return answer(exitCodeFor(e), `dsv blocked ${subject}: ${message}`);
  };

  let timeoutSeconds: number;
  let policy: string;
  let policyFrom: string;
  try {
    const parsed = parseVerifierArgs(args);
    if (parsed.help) {
      io.stdout.write(HELP);
      return ExitCodes.Ok;
    }
    if (parsed.version) {
      io.stdout.write(`${VERSION}\n`);
      return ExitCodes.Ok;
    }
    ({ timeoutSeconds, policy, policyFrom } = containerdVerifierSettingsFromEnv(io.env));
  } catch (e) {
    return block(e);
  }

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(block(new DsvError('Network', `no verdict within ${timeoutSeconds}s (DSV_VERIFIER_TIMEOUT)`))), timeoutSeconds * 1000);
    timer.unref();
  });
  const work = (async (): Promise<number> => {
    const request = verifierRequest(parseVerifierArgs(args), await readStdin(io.stdin));
    subject = `${request.name}@${request.digest}`;
    const reference = judgedReference(request);
    err(`${VERIFIER_PROG}: ${subject}: judging ${reference} by ${policy} (${policyFrom === 'default' ? 'the default; DSV_POLICY is not set' : 'DSV_POLICY'})\n`);
    try {
      const s = await stat(policy);
      if (!s.isFile()) throw new DsvError('Usage', `dsv policy ${policy} is not a file`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        const how = policyFrom === 'default' ? `create it, or set DSV_POLICY in containerd's environment` : 'DSV_POLICY names a missing file';
        throw new DsvError('Usage', `no dsv policy at ${policy} (${how}); every pull is blocked until there is one`);
      }
      throw e;
    }
    const judge = opts.judge ?? (await import('./judge.js')).policyJudge;
    const j = await judge({ reference, policy, env: io.env, request });
    for (const d of j.details ?? []) err(`${VERIFIER_PROG}: ${d}\n`);
    if (j.manifestDigest !== request.digest) {
      throw new DsvError('DigestMismatch', `the registry now serves ${j.manifestDigest} for ${request.name}, not the ${request.digest} containerd resolved (the tag moved; pull again)`);
    }
    if (!j.allowed) return answer(ExitCodes.NotTrusted, `dsv blocked ${subject}: ${j.reason}`);
    return answer(ExitCodes.Ok, `dsv allowed ${subject}: ${j.reason}`);
  })().catch(block);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
