/**
 * `docker sign` and `docker verify`: the plugin commands, composed from the runtime's context, jobs
 * and command shell. Loaded lazily by main.ts, so answering the Docker CLI's
 * metadata probe stays fast.
 */
import { join } from 'node:path';
import { DsvError, isDsvError, isPlatformString, isSignatureKind, SIGNATURE_KINDS, type SignatureKind } from '@dsv/core/formats';
import type { SystemContext } from '@dsv/core/transport';
import type { LocalStore } from '@dsv/source-repository';
import { createContext, createVerifyFunction, type CliContext } from '../context.js';
import { runVerify, verifyLocalImage } from '../commands.js';
import { ExitCodes } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { CommandShell, shapeOutput } from '../shell.js';
import { parseProgressMode, type ProgressMode } from '../progress.js';
import { applyPkiFormat, applySignerOpts } from '../environment.js';
import { formatHelp, formatUsageError, parseArgs, type CommandSpec, type ParsedArgs } from './args.js';
import { engineEndpoint, resolveDockerEndpoint, type DockerCliEndpoint, type DockerGlobals } from './docker-context.js';
import { SIGN_SPEC, VERIFY_SPEC } from './specs.js';
import { firstKeylessFlag, KEYLESS_FLAGS, type KeylessFlags } from '../detached/keyless-flags.js';

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
  if (a.values.progress !== undefined) parseProgressMode(a.values.progress);
}

/** -q/--quiet: the command run again without it, its output shaped to errors and the verdict line. */
async function quietly(argv: string[], io: CliIo, json: boolean, run: (argv: string[], io: CliIo) => Promise<number>): Promise<number> {
  const shaped = shapeOutput(io, 'quiet', json);
  try {
    return await run(argv.filter((x) => x !== '-q' && x !== '--quiet'), shaped.io);
  } finally {
    shaped.flush();
  }
}

/** The shell options --progress adds. */
const progressOf = (a: ParsedArgs): { progress?: ProgressMode } => (a.values.progress !== undefined ? { progress: parseProgressMode(a.values.progress) } : {});

/**
 * What the plugin knows better than the environment: the endpoint the Docker CLI resolved (typed, so a
 * DOCKER_TLS_VERIFY left in the shell cannot turn a plain context into TLS) and, unless
 * DSV_CREDENTIALS_STORE says otherwise, the credentials of that CLI's config directory.
 */
function pluginSystem(ep: DockerCliEndpoint, env: NodeJS.ProcessEnv): Partial<SystemContext> {
  const credentialsStore = env.DSV_CREDENTIALS_STORE || join(ep.configDir, 'config.json');
  // As the Docker CLI: its config directory's credentials only (no containers auth.json).
  return { dockerEndpoint: engineEndpoint(ep), credentialsStore, credentialsFiles: [credentialsStore] };
}

/** A registry reference for what the user typed (a docker:// prefix is accepted and kept). */
function remoteRef(image: string): string {
  return image.startsWith('docker://') ? image : `docker://${image}`;
}

/**
 * The transports a plugin command can use: the registry's, and the local store's two (through the daemon or on
 * disk) unless --remote. Only their packages are loaded; not the archive or containerd ones (grpc alone is ≈ 0.9 MB).
 */
function pluginTransports(remote: boolean): string[] {
  return remote ? ['docker'] : ['docker', 'docker-daemon', 'docker-storage'];
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
  if (a.values.quiet === true) return quietly(argv, io, json, (x, q) => signCommand(x, q, opts));
  const shell = new CommandShell(io, { prog: 'docker sign', json, debug, ...progressOf(a) });
  let source = '';
  let destination = '';
  let remote = a.values.remote === true || image.startsWith('docker://');
  return shell.sign(
    async () => {
      const ep = resolveDockerEndpoint(opts.globals, io.env);
      shell.out.debug(describeEndpoint(ep));
      const ctx: CliContext = await (opts.contextFactory ?? createContext)(
        shell.contextOptions({ system: pluginSystem(ep, io.env), insecureRegistries: list(a.values['insecure-registry']), transports: pluginTransports(remote) }),
      );
      if (opts.signal) ctx.system.signal = opts.signal;
      applyPkiFormat(ctx.signerSettings, str(a.values['pki-format']));
      // Local (docker-daemon: -> docker-daemon:) unless --remote or the image is not in the daemon.
      if (!remote) {
        const local = ctx.parseImage(`docker-daemon:${image}`);
        try {
          const src = await local.newSource(ctx.system);
          await src.close();
        } catch (e) {
          if (isDsvError(e) && e.code === 'NotFound') {
            remote = true;
            if (!json) shell.out.err(`docker sign: ${image} is not in the local image store (${ep.host}); signing it in its registry\n`);
          } else if (isDsvError(e) && e.code === 'Network') {
            throw new DsvError('Network', `${e.message}; give --remote to sign the image in its registry instead`, e.details, { cause: e });
          } else throw e;
        }
      }
      source = remote ? remoteRef(image) : `docker-daemon:${image}`;
      destination = remote ? remoteRef(destArg ?? image) : `docker-daemon:${destArg ?? image}`;
      shell.out.debug(`signing ${source} -> ${destination}`);
      const key = await shell.resolveKey(
        {
          ...(str(a.values.key) !== undefined ? { key: str(a.values.key)! } : {}),
          ...(str(a.values['key-type']) !== undefined ? { keyType: str(a.values['key-type'])! } : {}),
          ...(str(a.values['passphrase-file']) !== undefined ? { passphraseFile: str(a.values['passphrase-file'])! } : {}),
        },
        '--key',
      );
      // Each value whole: a setting may hold a comma.
      applySignerOpts(ctx.signerSettings, (a.values['signer-opt'] as string[] | undefined) ?? [], [key.keyType]);
      const kind = (str(a.values['signature-type']) ?? 'sign').toLowerCase() as SignatureKind;
      return { ctx, options: { source, destination, key, kind, dryRun: a.values['dry-run'] === true, ...(platform ? { platform } : {}) } };
    },
    {
      input: () => ({ source: source || image, destination: destination || destArg || image }),
      done: (summary) => (!remote && !summary.result.dryRun && summary.result.images.length === 1 ? `Image ID: ${summary.result.images[0]!.configDigest}\n` : ''),
    },
  );
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
  if (a.values.quiet === true) return quietly(argv, io, json, (x, q) => verifyCommand(x, q, opts));
  const shell = new CommandShell(io, { prog: 'docker verify', json, debug, ...progressOf(a) });
  let ctx: CliContext;
  let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
  let store: LocalStore | undefined;
  try {
    const ep = resolveDockerEndpoint(opts.globals, io.env);
    shell.out.debug(describeEndpoint(ep));
    ctx = await (opts.contextFactory ?? createContext)(
      shell.contextOptions({
        system: pluginSystem(ep, io.env),
        insecureRegistries: list(a.values['insecure-registry']),
        transports: pluginTransports(remote),
      }),
    );
    if (opts.signal) ctx.system.signal = opts.signal;
    const { policyFromEnv } = await import('../environment.js');
    const policyFile = str(a.values.policy) ?? policyFromEnv(io.env);
    const trust = list(a.values.trust);
    const keyless: KeylessFlags = {};
    for (const [k, flag] of KEYLESS_FLAGS) {
      const value = str(a.values[flag.slice(2)]);
      if (value !== undefined) keyless[k] = value;
    }
    const signIdentity = str(a.values['sign-identity']);
    if (policyFile === undefined && !trust.some((t) => /^cosign:/i.test(t)) && !firstKeylessFlag(keyless) && signIdentity !== undefined) {
      throw new DsvError('Usage', '--sign-identity needs --trust cosign:FILE or the keyless flags (--certificate-identity, ...)');
    }
    if (policyFile !== undefined || trust.some((t) => /^cosign:/i.test(t)) || firstKeylessFlag(keyless)) {
      // Detached signatures and policy: local images judged by the registry manifest they came from.
      const { runPolicyVerify, splitCosignTrust } = await import('../detached/verify-command.js');
      const split = splitCosignTrust(trust);
      if (policyFile !== undefined && trust.length) throw new DsvError('Usage', `--trust ${trust[0]} cannot be combined with a policy; name every key in the policy file`);
      if (split.other.length) throw new DsvError('Usage', `--trust ${split.other[0]}: only cosign: keys can be given with --trust cosign: (or put every key in a --policy file)`);
      let local = 'docker-daemon';
      if (!remote && a.positionals.some((p) => !p.startsWith('docker://'))) {
        const { chooseLocalStore } = await import('@dsv/source-repository');
        const chosen = await chooseLocalStore(ctx.system);
        if (chosen.root) ctx.system.dockerRoot = chosen.root;
        local = chosen.transport;
      }
      const inputs = a.positionals.map((p) => (remote || p.startsWith('docker://') ? remoteRef(p) : `${local}:${p}`));
      const registriesD = str(a.values['registries.d']);
      return runPolicyVerify(ctx, shell, inputs, {
        ...(policyFile !== undefined ? { policyFile } : {}),
        cosignKeys: split.cosign,
        ...(firstKeylessFlag(keyless) ? { keyless } : {}),
        ...(signIdentity !== undefined ? { signIdentity } : {}),
        ...(registriesD !== undefined ? { registriesD } : {}),
        ...(platform ? { platform } : {}),
      });
    }
    verify = await createVerifyFunction(ctx, { trust });
    if (!remote && a.positionals.some((p) => !p.startsWith('docker://'))) {
      const { chooseLocalStore } = await import('@dsv/source-repository');
      store = await chooseLocalStore(ctx.system);
      if (store.root) ctx.system.dockerRoot = store.root;
      shell.out.debug(`local images: ${store.transport}: (${store.why})`);
      if (platform) shell.out.debug('--platform applies to registry images only (a local image is a single image)');
    }
  } catch (e) {
    return shell.verifyFailed(a.positionals, e);
  }
  return shell.verifyEach(
    a.positionals,
    (input) =>
      remote || input.startsWith('docker://')
        ? runVerify(ctx, remoteRef(input), { verify, ...(platform ? { platform } : {}) })
        : verifyLocalImage(ctx, input, store!, { verify }, shell.out.debug),
    (e) => (!remote && isDsvError(e) && e.code === 'NotFound' ? new DsvError('NotFound', `${e.message} (give --remote to verify the image in its registry)`, e.details, { cause: e }) : e),
  );
}
