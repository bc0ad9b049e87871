/** Process I/O for the command lines, injectable for tests, with secrets scrubbed from everything written. */
import { errorMessage } from './report.js';
import type { ProgressMode } from './progress.js';
import { colourEnabled, colourStderr, colourStdout } from './colour.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  /** How progress is shown when the command does not say (-q/--quiet and --silent: none). */
  progress?: ProgressMode;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** True when a prompt can be answered: stdin is a terminal and the prompt (stderr) is shown on one. */
export function isInteractive(io: CliIo): boolean {
  return io.stdin.isTTY === true && io.stderr.isTTY === true;
}

/**
 * Writes to stdout/stderr with every registered secret replaced by "***" (defence in depth: messages
 * are built without secrets, but a plugin or a server might echo one back).
 */
export class Output {
  readonly #io: CliIo;
  readonly #secrets = new Set<string>();
  readonly prog: string;
  debugEnabled = false;
  /** Called before anything is written to stderr (clears a progress bar). */
  beforeStderr: () => void = () => {};
  /** Called before anything is written to stdout (clears a progress bar on the same terminal). */
  beforeStdout: () => void = () => {};

  /** Colour on stdout / stderr: only on a terminal and never under NO_COLOR (colour.ts). */
  readonly colour: { stdout: boolean; stderr: boolean };

  constructor(io: CliIo, prog: string) {
    this.#io = io;
    this.prog = prog;
    this.colour = { stdout: colourEnabled(io.stdout, io.env), stderr: colourEnabled(io.stderr, io.env) };
  }

  /** Registers a secret; short ones (< 4 characters) are not scrubbed, as that would mangle output. */
  addSecret(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.#secrets.add(secret);
  }

  scrub(text: string): string {
    let t = text;
    for (const s of this.#secrets) t = t.split(s).join('***');
    return t;
  }

  out(text: string): void {
    this.beforeStdout();
    const t = this.scrub(text);
    this.#io.stdout.write(this.colour.stdout ? colourStdout(t) : t);
  }

  err(text: string): void {
    this.beforeStderr();
    const t = this.scrub(text);
    this.#io.stderr.write(this.colour.stderr ? colourStderr(t) : t);
  }

  /**
   * One line `prog: error: [subject: ]message` (an empty subject, e.g. an empty reference, is left out);
   * the stack only with --debug.
   */
  error(error: unknown, subject = ''): void {
    this.err(`${this.prog}: error: ${subject ? `${subject}: ` : ''}${errorMessage(error)}\n`);
    if (this.debugEnabled && error instanceof Error && error.stack) {
      const details = (error as { details?: unknown }).details;
      if (details && typeof details === 'object' && Object.keys(details).length) this.err(`${this.prog}: debug: details ${safeJson(details)}\n`);
      this.err(`${error.stack}\n`);
      let cause = (error as { cause?: unknown }).cause;
      for (let i = 0; cause instanceof Error && i < 5; i++, cause = (cause as { cause?: unknown }).cause) {
        this.err(`caused by: ${cause.stack ?? cause.message}\n`);
      }
    }
  }

  debug = (message: string): void => {
    if (this.debugEnabled) this.err(`${this.prog}: debug: ${message}\n`);
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Values following -p / --keypass (or --keypass=…) in raw args, to scrub even when parsing fails. */
export function secretsInArgs(args: string[], flags: string[] = ['-p', '--keypass']): string[] {
  const found: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const f of flags) {
      if (a === f && i + 1 < args.length) found.push(args[i + 1]!);
      else if (a.startsWith(`${f}=`)) found.push(a.slice(f.length + 1));
      else if (f.length === 2 && a.startsWith(f) && a.length > 2 && !a.startsWith('--')) found.push(a.slice(2));
    }
  }
  return found;
}
