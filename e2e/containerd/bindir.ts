// containerd 2's "bindir" image verifier caller, as its docs (docs/image-verification.md) and
// pkg/imageverifier/bindir describe it, for tests of dsv-containerd-verifier: containerd 2 is not installable
// here (Debian 12 ships 1.6, which has no image verifiers), so this calls the executables exactly as it
// would. Every entry of bin_dir, in name order, up to max_verifiers, runs with
//   -name NAME -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
// and the JSON descriptor (plus a newline, as Go's json.Encoder writes it) on stdin, in containerd's own
// environment; at most 32 KiB of stdout is the reason (trimmed, "(stdout truncated)" when there was more),
// at most 32 KiB of stderr is logged; exit 0 is "ok", any other exit rejects; a verifier killed by the
// per-verifier timeout (or by a signal) is an error, which fails the pull.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const OUTPUT_LIMIT = 1 << 15;
export const DESCRIPTOR_MEDIA_TYPE = 'application/vnd.oci.descriptor.v1+json';

export interface BindirConfig {
  binDir: string;
  /** max_verifiers (negative: no limit). */
  maxVerifiers: number;
  /** per_verifier_timeout (containerd's default: 10 s). */
  perVerifierTimeoutMs: number;
  /** containerd's environment, which the verifiers inherit. */
  env: NodeJS.ProcessEnv;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Judgement {
  ok: boolean;
  reason: string;
}

export interface VerifierRun {
  exitCode: number;
  reason: string;
  /** What containerd would log at debug level (≤ 32 KiB). */
  stderr: string;
  /** Raw stdout (for tests on the limits). */
  stdout: Buffer;
  ms: number;
}

/** Runs one verifier as containerd does; rejects on timeout, a signal, or a failure to start. */
export function runVerifier(binPath: string, name: string, desc: Descriptor, config: Omit<BindirConfig, 'binDir' | 'maxVerifiers'>, args?: string[]): Promise<VerifierRun> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(binPath, args ?? ['-name', name, '-digest', desc.digest, '-stdin-media-type', DESCRIPTOR_MEDIA_TYPE], {
      env: config.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group, killed whole on timeout (processes_unix.go)
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      outLen += b.length;
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (errLen < OUTPUT_LIMIT) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, config.perVerifierTimeoutMs);
    child.stdin!.on('error', () => {}); // EPIPE when the verifier does not read stdin: containerd only logs it
    child.stdin!.end(`${JSON.stringify(desc)}\n`);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - start;
      if (timedOut) return reject(new Error(`verifier ${binPath} timed out after ${ms} ms`));
      if (code === null) return reject(new Error(`verifier ${binPath} killed by ${signal}`));
      const stdout = Buffer.concat(out);
      let reason = stdout.subarray(0, OUTPUT_LIMIT).toString('utf8').trim();
      if (stdout.length > OUTPUT_LIMIT) reason += '(stdout truncated)';
      resolve({ exitCode: code, reason, stderr: Buffer.concat(err).subarray(0, OUTPUT_LIMIT).toString('utf8'), stdout, ms });
    });
  });
}

/** ImageVerifier.VerifyImage of the bindir plugin: the verdicts ANDed, reasons joined. */
export async function verifyImage(config: BindirConfig, name: string, desc: Descriptor): Promise<Judgement> {
  let entries: string[];
  try {
    entries = readdirSync(config.binDir).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, reason: `image verifier directory ${config.binDir} does not exist` };
    throw e;
  }
  if (entries.length === 0) return { ok: true, reason: `no image verifier binaries found in ${config.binDir}` };
  const reasons: string[] = [];
  for (const [i, bin] of entries.entries()) {
    if (config.maxVerifiers >= 0 && i + 1 > config.maxVerifiers) break;
    const r = await runVerifier(join(config.binDir, bin), name, desc, config);
    if (r.exitCode !== 0) return { ok: false, reason: `verifier ${bin} rejected image (exit code ${r.exitCode}): ${r.reason}` };
    reasons.push(`${bin} => ${r.reason}`);
  }
  return { ok: true, reason: reasons.join(', ') };
}
