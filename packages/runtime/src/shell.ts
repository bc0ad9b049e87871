/**
 * The one command shell every dsv command runs in: output with secrets scrubbed (DSV_KEYPASS, -p values,
 * resolved passphrases), a progress bar on a terminal, --debug, key resolution with a TTY prompt, and the
 * sign and verify reports (text or JSON) with their exit codes. dsv, docker-sign / docker-verify, dsv copy
 * and the Docker plugin differ only in their arguments and in a line or two of text.
 */
import { Writable } from 'node:stream';
import type { VerifyResult } from '@dsv/core';
import type { ContextOptions, RuntimeContext } from './context.js';
import { runSign, type SignOptions } from './commands.js';
import { ExitCodes, exitCodeFor, exitCodeForVerify, worstExitCode } from './exit-codes.js';
import { Output, isInteractive, type CliIo } from './io.js';
import { promptSecretOnTty, resolveKey, type KeyOptions, type ResolvedKey } from './keys.js';
import type { ParseEnd } from './parser.js';
import { createProgress, type Progress, type ProgressMode } from './progress.js';
import {
  formatSignStart,
  formatSignText,
  formatVerifyText,
  jsonReportText,
  signReportJson,
  verifyFailureLines,
  verifyReportJson,
  type SignSummary,
  type VerifyOutcome,
} from './report.js';

export interface ShellOptions {
  /** The name in messages: `dsv`, `docker-sign`, `docker sign`, `dsv copy`. */
  prog: string;
  json?: boolean;
  debug?: boolean;
  /** Values to scrub from all output besides DSV_KEYPASS (e.g. -p arguments). */
  secrets?: string[];
  /** --progress (default: the io's, else auto). */
  progress?: ProgressMode;
}

export class CommandShell {
  readonly io: CliIo;
  readonly out: Output;
  readonly progress: Progress;
  readonly json: boolean;
  readonly debug: boolean;

  constructor(io: CliIo, opts: ShellOptions) {
    this.io = io;
    this.json = opts.json === true;
    this.debug = opts.debug === true;
    this.out = new Output(io, opts.prog);
    if (io.env.DSV_KEYPASS) this.out.addSecret(io.env.DSV_KEYPASS);
    for (const s of opts.secrets ?? []) this.out.addSecret(s);
    this.out.debugEnabled = this.debug;
    this.progress = createProgress(io.stderr, !this.json, { mode: opts.progress ?? io.progress ?? 'auto', prog: opts.prog, env: io.env });
    this.out.beforeStderr = () => this.progress.clear();
    this.out.beforeStdout = () => this.progress.clear();
  }

  /** Context options wired to this shell (environment, --debug, progress). */
  contextOptions(extra: ContextOptions = {}): ContextOptions {
    return { env: this.io.env, debug: this.out.debug, ...(this.progress.onProgress ? { onProgress: this.progress.onProgress } : {}), ...extra };
  }

  writeJson(value: unknown): void {
    this.out.out(jsonReportText(value));
  }

  /**
   * A parse that stopped before running: --help / --version text on stdout (exit 0), or a usage error as one
   * line with the --help hint on stderr (exit 2).
   */
  parseEnded(parsed: ParseEnd): number {
    if (parsed.kind === 'output') {
      this.out.out(parsed.text);
      return ExitCodes.Ok;
    }
    const prog = this.out.prog;
    this.out.err(`${prog}: error: ${parsed.message.replace(/\s*\n\s*/g, ' ')}\n${prog}: see ${prog} --help\n`);
    return ExitCodes.Usage;
  }

  /** Reports a failure (one line; the JSON report too with --json) and returns its exit code. */
  fail(error: unknown, jsonReport?: () => unknown, subject = ''): number {
    this.progress.clear();
    this.out.error(error, subject);
    if (this.json && jsonReport) this.writeJson(jsonReport());
    return exitCodeFor(error);
  }

  /** The signing key and passphrase (prompted without echo on a terminal); the passphrase is scrubbed from then on. */
  async resolveKey(opts: KeyOptions, optionName: string): Promise<ResolvedKey> {
    const io = this.io;
    const key = await resolveKey(opts, io.env, { interactive: isInteractive(io), promptSecret: (q) => promptSecretOnTty(q, io.stdin, io.stderr) }, optionName);
    this.out.addSecret(key.passphrase);
    return key;
  }

  /**
   * Signs and reports: `prepare` (run inside the shell's error handling) builds the context and the sign
   * options; then runSign, the start line, "Integrity check passed." and the summary, or the JSON report.
   * `started` adds lines after the start line, `done` after the summary; `input` names SRC and DEST for a
   * JSON failure report.
   */
  async sign(
    prepare: () => Promise<{ ctx: RuntimeContext; options: Omit<SignOptions, 'onStart' | 'collectLayers'> }>,
    opts: {
      input: () => { source: string; destination: string };
      started?: (source: string) => string;
      done?: (s: SignSummary) => string;
      /** Fields added to the JSON report. */
      json?: (s: SignSummary) => Record<string, unknown>;
      /** After DEST is written, before the report (--digestfile); a failure fails the command. */
      written?: (s: SignSummary) => Promise<void>;
    },
  ): Promise<number> {
    try {
      const { ctx, options } = await prepare();
      const summary = await runSign(ctx, {
        ...options,
        collectLayers: this.debug && !this.json,
        onStart: ({ source, destination, key, kind }) => {
          if (this.json) return;
          this.out.out(formatSignStart(source.toString(), destination.toString(), key, kind));
          if (opts.started) this.out.out(opts.started(source.toString()));
        },
      });
      this.progress.clear();
      if (opts.written) await opts.written(summary);
      if (this.json) this.writeJson({ ...signReportJson(summary, opts.input()), ...(opts.json ? opts.json(summary) : {}) });
      else {
        this.out.out('Integrity check passed.\n');
        this.out.out(formatSignText(summary, { debug: this.debug }));
        if (opts.done) this.out.out(opts.done(summary));
      }
      return ExitCodes.Ok;
    } catch (e) {
      return this.fail(e, () => signReportJson(undefined, opts.input(), e));
    }
  }

  /**
   * Verifies each input in turn (one failing does not stop the others) and reports each result, the
   * reasons of a failure on stderr, and the JSON report; the exit code is the worst of them.
   */
  async verifyEach(inputs: string[], verifyOne: (input: string) => Promise<VerifyResult>, mapError: (e: unknown) => unknown = (e) => e): Promise<number> {
    const outcomes: VerifyOutcome[] = [];
    const codes: number[] = [];
    for (const input of inputs) {
      let result: VerifyResult;
      try {
        result = await verifyOne(input);
      } catch (e) {
        const err = mapError(e);
        this.progress.clear();
        this.out.error(err, input);
        outcomes.push({ input, error: err });
        codes.push(exitCodeFor(err));
        continue;
      }
      this.progress.clear();
      outcomes.push({ input, result });
      if (!this.json) this.out.out(formatVerifyText(result, { debug: this.debug }));
      if (!result.ok) {
        for (const line of verifyFailureLines(result)) this.out.err(`${this.out.prog}: error: ${line}\n`);
        codes.push(exitCodeForVerify(result));
      } else codes.push(ExitCodes.Ok);
    }
    const code = worstExitCode(codes);
    if (this.json) this.writeJson(verifyReportJson(outcomes, code));
    return code;
  }

  /** A failure before any image was verified: every input fails with it. */
  verifyFailed(inputs: string[], error: unknown): number {
    const code = exitCodeFor(error);
    return this.fail(error, () => verifyReportJson(inputs.map((input) => ({ input, error })), code));
  }
}

/** The lines that say how a command ended (verify, sign, copy). */
const VERDICT = /^(Verified:|NOT verified:|Created new image:|Dry run completed|Copied |Would copy |Tag moved:|Tag would move:)/;

/** A stream that hands every write to `write` at once (no TTY: no progress bar, no prompt). */
function sink(write: (text: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      write(chunk.toString());
      cb();
    },
  });
}

/**
 * The original's -q/--quiet and -s/--silent applied to a command's I/O. quiet: stderr (errors) as is,
 * without a progress bar; of stdout only the verdict lines (`Verified:`, `NOT verified:`, `Created new
 * image:`, `Copied …`; else the last line), written by flush() (a --json report is kept whole). silent: nothing at all. flush() once, at the end.
 */
export function shapeOutput(io: CliIo, mode: 'quiet' | 'silent' | undefined, json: boolean): { io: CliIo; flush(): void } {
  if (mode === undefined) return { io, flush() {} };
  if (mode === 'silent') return { io: { ...io, stdout: sink(() => {}), stderr: sink(() => {}), progress: 'none' }, flush() {} };
  let buffered = '';
  const shaped: CliIo = { ...io, stdout: sink((t) => (buffered += t)), stderr: sink((t) => io.stderr.write(t)), progress: 'none' };
  return {
    io: shaped,
    flush() {
      if (json) {
        if (buffered) io.stdout.write(buffered);
        return;
      }
      const lines = buffered.split('\n').filter((l) => l.trim() !== '');
      const verdicts = lines.filter((l) => VERDICT.test(l));
      const keep = verdicts.length ? verdicts : lines.slice(-1);
      if (keep.length) io.stdout.write(`${keep.join('\n')}\n`);
      buffered = '';
    },
  };
}
