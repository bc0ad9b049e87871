/**
 * `docker sign` and `docker verify`: the plugin commands, composed from @dsv/cli's context, jobs,
 * key resolution and report formatting. Loaded lazily by main.ts, so answering the Docker CLI's
 * metadata probe stays fast.
 */
import { join } from 'node:path';
import { DsvError, isDsvError, isPlatformString, isSignatureKind, SIGNATURE_KINDS, type SignatureKind, type SystemContext, type VerifyResult } from '@dsv/core';
import type { LocalStore } from '@dsv/source-repository';
import { createContext, createVerifyFunction, type CliContext } from '../context.js';
import { runSign, runVerify, verifyLocalImage } from '../commands.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { Output, isInteractive, type CliIo } from '../io.js';
import { promptSecretOnTty, resolveKey } from '../keys.js';
import { createProgress } from '../progress.js';
import {
  formatSignStart,
  formatSignText,
  formatVerifyText,
  signReportJson,
  verifyFailureLines,
  verifyReportJson,
  type SignSummary,
  type VerifyOutcome,
} from '../report.js';
import { formatHelp, formatUsageError, parseArgs, type CommandSpec, type ParsedArgs } from './args.js';
import { engineEndpoint, resolveDockerEndpoint, type DockerCliEndpoint, type DockerGlobals } from './docker-context.js';
import { SIGN_SPEC, VERIFY_SPEC } from './specs.js';

export interface RunOptions {
  globals: DockerGlobals;
  /** Aborted when the Docker CLI asks the plugin to stop (its plugin socket closed). */
  signal?: AbortSignal;
  /** Replaces createContext (tests). */
  contextFactory?: typeof createContext;
}

type Parsed = { kind: 'run'; args: ParsedArgs } | { kind: 'done'; code: number };

function parseOrReport(spec: CommandSpec, argv: string[], io: CliIo, check: (a: ParsedArgs) => void): Parsed {
  try {
    const args = parseArgs(spec, argv);
    if (args.help) {
      io.stdout.write(formatHelp(spec, io.stdout.isTTY ? ((io.stdout as { columns?: number }).columns ?? 100) : 100));
      return { kind: 'done', code: ExitCodes.Ok };
    }
    check(args);
    return { kind: 'run', args };
  } catch (e) {
    io.stderr.write(formatUsageError(spec, e instanceof Error ? e.message : String(e)));
    return { kind: 'done', code: ExitCodes.Usage };
  }
}

const str = (v: ParsedArgs['values'][string]): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: ParsedArgs['values'][string]): string[] =>
  (Array.isArray(v) ? v : [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);

function checkCommon(spec: CommandSpec, a: ParsedArgs): void {
  const platform = str(a.values.platform);
  if (platform !== undefined && !isPlatformString(platform)) throw new Error(`invalid --platform "${platform}": expected os/arch[/variant]`);
  for (const p of a.positionals) if (p.trim() === '') throw new Error(`"${spec.name}" was given an empty image name`);
}

/**
 * What the plugin knows better than the environment: the endpoint the Docker CLI resolved (typed, so a
 * DOCKER_TLS_VERIFY left in the shell cannot turn a plain context into TLS) and, unless
 * DSV_CREDENTIALS_STORE says otherwise, the credentials of that CLI's config directory.
 */
function pluginSystem(ep: DockerCliEndpoint, env: NodeJS.ProcessEnv): Partial<SystemContext> {
  return { dockerEndpoint: engineEndpoint(ep), credentialsStore: env.DSV_CREDENTIALS_STORE || join(ep.configDir, 'config.json') };
}

/** A registry reference for what the user typed (a docker:// prefix is accepted and kept). */
function remoteRef(image: string): string {
  return image.startsWith('docker://') ? image : `docker://${image}`;
}

function describeEndpoint(ep: DockerCliEndpoint): string {
  return `Docker endpoint ${ep.host} (from ${ep.source}${ep.tlsVerify ? ', TLS verified' : ''}); docker config ${ep.configDir}`;
}

// ---------------------------------------------------------------------------------------------
// docker sign

export async function signCommand(argv: string[], io: CliIo, opts: RunOptions): Promise<number> {
  const parsed = parseOrReport(SIGN_SPEC, argv, io, (a) => {
    checkCommon(SIGN_SPEC, a);
    if (a.positionals.length < 1 || a.positionals.length > 2) {
      throw new Error(`"docker sign" requires at least 1 and at most 2 arguments (IMAGE [DEST]), ${a.positionals.length} given`);
    }
    const kind = str(a.values['signature-type']);
    if (kind !== undefined && !isSignatureKind(kind.toLowerCase())) throw new Error(`invalid --signature-type "${kind}" (${SIGNATURE_KINDS.join(', ')})`);
  });
  if (parsed.kind === 'done') return parsed.code;
  const a = parsed.args;
  const json = a.values.json === true;
  const debug = a.values.debug === true;
  const platform = str(a.values.platform);
  const [image, destArg] = a.positionals as [string, string | undefined];
  const out = new Output(io, 'docker sign');
  out.debugEnabled = debug;
  if (io.env.DSV_KEYPASS) out.addSecret(io.env.DSV_KEYPASS);
  const progress = createProgress(io.stderr, !json);
  out.beforeStderr = () => progress.clear();
  let source = '';
  let destination = '';
  try {
    const ep = resolveDockerEndpoint(opts.globals, io.env);
    out.debug(describeEndpoint(ep));
    const ctx: CliContext = await (opts.contextFactory ?? createContext)({
      env: io.env,
      system: pluginSystem(ep, io.env),
      debug: out.debug,
      insecureRegistries: list(a.values['insecure-registry']),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
    if (opts.signal) ctx.system.signal = opts.signal;

    // Local (docker-daemon: -> docker-daemon:) unless --remote or the image is not in the daemon.
    let remote = a.values.remote === true || image.startsWith('docker://');
    if (!remote) {
      const local = ctx.parseImage(`docker-daemon:${image}`);
      try {
        const src = await local.newSource(ctx.system);
        await src.close();
      } catch (e) {
        if (isDsvError(e) && e.code === 'NotFound') {
          remote = true;
          if (!json) out.err(`docker sign: ${image} is not in the local image store (${ep.host}); signing it in its registry\n`);
        } else if (isDsvError(e) && e.code === 'Network') {
          throw new DsvError('Network', `${e.message}; give --remote to sign the image in its registry instead`, e.details, { cause: e });
        } else throw e;
      }
    }
    source = remote ? remoteRef(image) : `docker-daemon:${image}`;
    destination = remote ? remoteRef(destArg ?? image) : `docker-daemon:${destArg ?? image}`;
    out.debug(`signing ${source} -> ${destination}`);

    const key = await resolveKey(
      {
        ...(str(a.values.key) !== undefined ? { key: str(a.values.key)! } : {}),
        ...(str(a.values['key-type']) !== undefined ? { keyType: str(a.values['key-type'])! } : {}),
        ...(str(a.values['passphrase-file']) !== undefined ? { passphraseFile: str(a.values['passphrase-file'])! } : {}),
      },
      io.env,
      { interactive: isInteractive(io), promptSecret: (q) => promptSecretOnTty(q, io.stdin, io.stderr) },
      '--key',
    );
    out.addSecret(key.passphrase);
    const summary: SignSummary = await runSign(ctx, {
      source,
      destination,
      key,
      kind: (str(a.values['signature-type']) ?? 'sign').toLowerCase() as SignatureKind,
      dryRun: a.values['dry-run'] === true,
      collectLayers: debug && !json,
      ...(platform ? { platform } : {}),
      onStart: ({ source: s, destination: d, key: info, kind }) => {
        if (!json) out.out(formatSignStart(s.toString(), d.toString(), info, kind));
      },
    });
    progress.clear();
    if (json) out.out(`${JSON.stringify(signReportJson(summary, { source, destination }), null, 2)}\n`);
    else {
      out.out('Integrity check passed.\n');
      out.out(formatSignText(summary, { debug }));
      if (!remote && !summary.result.dryRun && summary.result.images.length === 1) {
        out.out(`Image ID: ${summary.result.images[0]!.configDigest}\n`);
      }
    }
    return ExitCodes.Ok;
  } catch (e) {
    progress.clear();
    out.error(e);
    if (json) out.out(`${JSON.stringify(signReportJson(undefined, { source: source || image, destination: destination || destArg || image }, e), null, 2)}\n`);
    return exitCodeFor(e);
  }
}

// ---------------------------------------------------------------------------------------------
// docker verify

export async function verifyCommand(argv: string[], io: CliIo, opts: RunOptions): Promise<number> {
  const parsed = parseOrReport(VERIFY_SPEC, argv, io, (a) => {
    checkCommon(VERIFY_SPEC, a);
    if (a.positionals.length < 1) throw new Error('"docker verify" requires at least 1 argument (IMAGE)');
  });
  if (parsed.kind === 'done') return parsed.code;
  const a = parsed.args;
  const json = a.values.json === true;
  const debug = a.values.debug === true;
  const platform = str(a.values.platform);
  const remote = a.values.remote === true;
  const out = new Output(io, 'docker verify');
  out.debugEnabled = debug;
  const progress = createProgress(io.stderr, !json);
  out.beforeStderr = () => progress.clear();
  const outcomes: VerifyOutcome[] = [];
  const codes: number[] = [];
  {
    let ctx: CliContext;
    let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
    let store: LocalStore | undefined;
    try {
      const ep = resolveDockerEndpoint(opts.globals, io.env);
      out.debug(describeEndpoint(ep));
      ctx = await (opts.contextFactory ?? createContext)({
        env: io.env,
        system: pluginSystem(ep, io.env),
        debug: out.debug,
        insecureRegistries: list(a.values['insecure-registry']),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
      if (opts.signal) ctx.system.signal = opts.signal;
      verify = await createVerifyFunction(ctx, { trust: list(a.values.trust) });
      if (!remote && a.positionals.some((p) => !p.startsWith('docker://'))) {
        const { chooseLocalStore } = await import('@dsv/source-repository');
        store = await chooseLocalStore(ctx.system);
        if (store.root) ctx.system.dockerRoot = store.root;
        out.debug(`local images: ${store.transport}: (${store.why})`);
        if (platform) out.debug('--platform applies to registry images only (a local image is a single image)');
      }
    } catch (e) {
      out.error(e);
      const code = exitCodeFor(e);
      if (json) out.out(`${JSON.stringify(verifyReportJson(a.positionals.map((input) => ({ input, error: e })), code), null, 2)}\n`);
      return code;
    }
    for (const input of a.positionals) {
      let result: VerifyResult | undefined;
      try {
        if (remote || input.startsWith('docker://')) {
          result = await runVerify(ctx, remoteRef(input), { verify, ...(platform ? { platform } : {}) });
        } else {
          result = await verifyLocalImage(ctx, input, store!, { verify }, out.debug);
        }
      } catch (e) {
        progress.clear();
        const err = !remote && isDsvError(e) && e.code === 'NotFound' ? new DsvError('NotFound', `${e.message} (give --remote to verify the image in its registry)`, e.details, { cause: e }) : e;
        out.error(err, input);
        outcomes.push({ input, error: err });
        codes.push(exitCodeFor(err));
        continue;
      }
      progress.clear();
      outcomes.push({ input, result });
      if (!json) out.out(formatVerifyText(result, { debug }));
      if (!result.ok) {
        for (const line of verifyFailureLines(result)) out.err(`docker verify: error: ${line}\n`);
        codes.push(ExitCodes.NotTrusted);
      } else codes.push(ExitCodes.Ok);
    }
    const code = worstExitCode(codes);
    if (json) out.out(`${JSON.stringify(verifyReportJson(outcomes, code), null, 2)}\n`);
    return code;
  }
}
