/**
 * Runs the real `gpg` binary against a GnuPG home. Passphrases travel on a pipe (never argv, never
 * the environment) and never appear in errors.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * How gpg is started: the binary and the environment it runs in. The composition root (@dsv/runtime) sets
 * them once from DSV_GPG_BINARY and its child-process environment; this package reads no environment.
 * Without it: `gpg` on a minimal PATH.
 */
export interface GpgProcessOptions {
  binary?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

const MINIMAL_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };
let processOptions: GpgProcessOptions = {};

export function configureGpgProcess(options: GpgProcessOptions): void {
  processOptions = { ...options };
}

/** The GnuPG home when none is given: ~/.gnupg (the runtime passes DSV_GPG_DATASTORE / GNUPGHOME as gpgHome). */
export function defaultGpgHome(): string {
  return join(homedir(), '.gnupg');
}

export function gpgBinary(): string {
  return processOptions.binary || 'gpg';
}

export interface GpgResult {
  code: number | null;
  stdout: Buffer;
  /** gpg's diagnostics; with --status-fd 2 also the [GNUPG:] status lines. */
  stderr: string;
  /** The [GNUPG:] status lines without the prefix. */
  status: string[];
}

export class GpgMissingError extends Error {}

const GPG_TIMEOUT_MS = 120_000;

/**
 * Runs gpg with `--homedir home --batch --no-tty --status-fd 2` + args. `stdin` goes to fd 0;
 * `passphrase` (when given) is written to fd 3 and gpg is told `--passphrase-fd 3`.
 */
export function runGpg(home: string, args: string[], opts: { stdin?: Uint8Array | string; passphrase?: string } = {}): Promise<GpgResult> {
  const full = ['--homedir', home, '--batch', '--no-tty', '--status-fd', '2', '--pinentry-mode', 'loopback'];
  if (opts.passphrase !== undefined) full.push('--passphrase-fd', '3');
  full.push(...args);
  return new Promise((resolve, reject) => {
    const child = spawn(gpgBinary(), full, {
      stdio: ['pipe', 'pipe', 'pipe', opts.passphrase !== undefined ? 'pipe' : 'ignore'],
      env: { ...(processOptions.env ?? MINIMAL_ENV), LC_ALL: 'C', LANGUAGE: 'C' },
      // --batch and loopback pinentry mean gpg never waits for a person; this only guards against a
      // wedged agent.
      timeout: GPG_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new GpgMissingError(`${gpgBinary()} is not installed`));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      let stderr = Buffer.concat(err).toString('utf8');
      if (signal) stderr += `\ngpg: killed by ${signal} (no answer within ${GPG_TIMEOUT_MS / 1000} s)\n`;
      const status = stderr.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9));
      resolve({ code, stdout: Buffer.concat(out), stderr, status });
    });
    const ignore = () => { /* gpg may exit before reading its input */ };
    child.stdin!.on('error', ignore);
    child.stdin!.end(opts.stdin ?? '');
    if (opts.passphrase !== undefined) {
      const pass = child.stdio[3] as NodeJS.WritableStream & { on(ev: 'error', f: () => void): void };
      pass.on('error', ignore);
      pass.end(`${opts.passphrase}\n`);
    }
  });
}

/** The gpg-error code (low 16 bits) of the first ERROR/FAILURE status line, if any. */
export function gpgErrorCode(res: GpgResult): number | undefined {
  for (const line of res.status) {
    const m = /^(?:ERROR|FAILURE) \S+ (\d+)/.exec(line);
    if (m) return Number(m[1]) & 0xffff;
  }
  return undefined;
}

export const GPG_ERR_BAD_PASSPHRASE = 11;
export const GPG_ERR_NO_PASSPHRASE = 177;
export const GPG_ERR_CANCELED = 99;

/** gpg's human diagnostics (not status lines), first line only. */
export function gpgMessage(res: GpgResult): string {
  const lines = res.stderr.split('\n').filter((l) => l.startsWith('gpg: ') && !l.includes('WARNING: nothing exported'));
  return (lines[0] ?? `gpg exited with ${res.code}`).replace(/^gpg: /, '').trim();
}

/** True when `home` holds a public keyring (so that exporting from it creates nothing). */
export function hasKeyring(home: string): boolean {
  if (!existsSync(home)) return false;
  try {
    const names = readdirSync(home);
    // pubring.kbx (gpg >= 2.1), pubring.gpg (gpg 1.x), public-keys.d (gpg >= 2.4 with keyboxd).
    return names.includes('pubring.kbx') || names.includes('pubring.gpg') || names.includes('public-keys.d');
  } catch {
    return false;
  }
}
