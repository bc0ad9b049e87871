/**
 * docker-sign and docker-verify: the original Python tool's interface, kept exactly
 *   docker-sign [--dry-run] [-s|--signature-type sign|endorse|resign] [--debug|-v]
 *               (registry | repository | archive --archive FILE)
 *               [-k|--keyid KEY] [-p|--keypass PASS] [-t|--sigtype gpg|pki] [--pki-format legacy|v2]
 *               SRC_IMAGE DEST_IMAGE
 *   docker-verify [--debug|-v] (registry | repository | archive --archive FILE) IMAGE...
 * Options may come before or after the subcommand.
 */
import { resolve as resolvePath } from 'node:path';
import type { Argv } from 'yargs';
import { DsvError, type SignatureKind } from '@dsv/core';
import type { LocalStore } from '@dsv/source-repository';
import { PROGRESS_OPTION, signatureTypeOption } from './options.js';
import type { ProgressMode } from './progress.js';
import { createContext, createVerifyFunction, type CliContext, type ContextOptions } from './context.js';
import { newYargs, type Parsed } from './parser.js';
import { runVerify, verifyLocalImage } from './commands.js';
import { processIo, secretsInArgs, type CliIo } from './io.js';
import { authFlagsOf, authOptions, authSystem, credsSecretsInArgs, shellPrompt, type AuthFlags } from './auth/options.js';
import { CommandShell, shapeOutput } from './shell.js';
import { applyPkiFormat, applySignerOpts } from './environment.js';
import { VERSION } from './version.js';
import { decorateHelp } from './help-examples.js';
import { closest, commandsOf, unknownCommandMessage } from './suggest.js';
import { timeoutArg, timeoutOption, timeoutSystem } from './timeout.js';

export type SourceKind = 'registry' | 'repository' | 'archive';
export const SOURCE_KINDS: readonly SourceKind[] = ['registry', 'repository', 'archive'];

export interface LegacySignArgs {
  source: SourceKind;
  /** --progress auto|bar|plain|none. */
  progress?: ProgressMode;
  /** -q/--quiet: only errors and the verdict line. */
  quiet?: boolean;
  archive?: string;
  dryRun: boolean;
  signatureType: SignatureKind;
  debug: boolean;
  keyid?: string;
  keypass?: string;
  sigtype?: string;
  pkiFormat?: string;
  /** --timeout: deadline of each network request, in ms. */
  timeoutMs?: number;
  srcImage: string;
  destImage: string;
  /** --authfile / --creds (registry credentials, skopeo's meanings). */
  auth?: AuthFlags;
  /** --signer-opt [TYPE:]KEY=VALUE. */
  signerOpts?: string[];
}

export interface LegacyVerifyArgs {
  source: SourceKind;
  /** --progress auto|bar|plain|none. */
  progress?: ProgressMode;
  /** -q/--quiet: only errors and the verdict line. */
  quiet?: boolean;
  archive?: string;
  debug: boolean;
  /** --timeout: deadline of each network request, in ms. */
  timeoutMs?: number;
  images: string[];
  /** --authfile / --creds (registry credentials, skopeo's meanings). */
  auth?: AuthFlags;
}


const EXIT_HELP = 'Exit codes: 0 ok; 1 not trusted (integrity or signature failure, unsigned); 2 usage or input error; 3 operational failure.';
const SIGN_EPILOGUE = `Environment: DSV_KEYID, DSV_KEYPASS, DSV_KEYTYPE (GPG|PKI), DSV_GPG_DATASTORE or GNUPGHOME (GnuPG home), DSV_PKI_FORMAT, DSV_CREDENTIALS_STORE, DSV_DEFAULT_REGISTRY, DSV_INSECURE_REGISTRIES, DSV_CERTS_D, DOCKER_HOST, DSV_SIGNER_PLUGINS.
${EXIT_HELP}`;
const VERIFY_EPILOGUE = `Trusted keys: the GnuPG home (DSV_GPG_DATASTORE, else GNUPGHOME, default ~/.gnupg), the PKI trust store (DSV_PKI_DATASTORE, default ~/.dsv.pem), and key files in DSV_GPG_TRUST / DSV_PKI_TRUST / DSV_TRUST (':'-separated).
repository: reads Docker's store (DSV_DOCKER_ROOT) when readable, else the engine (DOCKER_HOST).
${EXIT_HELP}`;

const SOURCE_HELP: Record<SourceKind, string> = {
  registry: 'Operates on docker registries (v2)',
  repository: "Operates on docker repositories (the local Docker engine's image store)",
  archive: 'Operates on docker-save produced archives',
};

function commonOptions(y: Argv, withArchive: boolean): Argv {
  return withArchive
    ? y.option('archive', { alias: 'a', type: 'string', demandOption: true, describe: 'Uncompressed docker image archive (docker save)', normalize: false })
    : y;
}

async function parseWith<T>(y: Argv, args: string[], pick: (argv: Record<string, unknown>) => T, prog = 'docker-sign'): Promise<Parsed<T>> {
  let err: string | undefined;
  let output = '';
  const argv = (await y.parseAsync(args, {}, (e: Error | undefined, _argv: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  if (err) {
    // An image name where the subcommand goes: say what is missing, not "Unknown argument: IMAGE".
    const first = (argv._ as unknown[] | undefined)?.[0];
    const commands = commandsOf(y);
    if (typeof first === 'string' && !commands.includes(first)) {
      const near = closest(first, commands);
      return { kind: 'error', message: near ? unknownCommandMessage(first, commands, 'subcommand') : `missing \`registry | repository | archive\` before "${first}" (e.g. ${prog} registry ${first})` };
    }
    return { kind: 'error', message: err };
  }
  if (argv.help) return { kind: 'output', text: decorateHelp(output, prog) };
  if (argv.version) return { kind: 'output', text: output.endsWith('\n') ? output : `${output}\n` };
  if ((argv._ as unknown[])[0] === 'version') return { kind: 'output', text: `${VERSION}\n` };
  try {
    return { kind: 'run', args: pick(argv) };
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

/** The registry / repository / archive subcommands (each taking `positionals`), `version`, --help and --version. */
function withSubcommands(parser: Argv, positionals: string): Argv {
  let y = parser;
  for (const kind of SOURCE_KINDS) {
    y = y.command(`${kind} ${positionals}`, SOURCE_HELP[kind], (c) => commonOptions(c, kind === 'archive'));
  }
  return y
    .command('version', 'Show the version (as the original tool did)')
    .demandCommand(1, 'missing subcommand: registry, repository or archive')
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

export function dockerSignParser(): Argv {
  const y = authOptions(newYargs())
    .scriptName('docker-sign')
    .usage('$0 [options] (registry | repository | archive --archive FILE) [options] SRC_IMAGE DEST_IMAGE\n\nCreates and embeds signatures into docker images.')
    .exitProcess(false)
    .strict()
    .parserConfiguration({ 'camel-case-expansion': true, 'boolean-negation': false })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Do not write to destination image sources' })
    .option('signature-type', signatureTypeOption('(Co-)sign (default), endorse / countersign, or resign the source image'))
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Show digests, layers and signatures' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors and the verdict line' })
    .option('progress', PROGRESS_OPTION)
    .option('keyid', { alias: 'k', type: 'string', describe: 'Signing key: GnuPG key id / fingerprint / key file; PKI key file [env DSV_KEYID]' })
    .option('keypass', { alias: 'p', type: 'string', describe: 'Signing key passphrase [env DSV_KEYPASS; prompted on a terminal]' })
    .option('sigtype', { alias: 't', type: 'string', describe: 'Signature type: gpg or pki [env DSV_KEYTYPE, default gpg]' })
    .option('pki-format', { type: 'string', describe: "PKI signature armour: legacy (the original's; default for a bare RSA key) or v2 [env DSV_PKI_FORMAT]" })
    .option('timeout', timeoutOption())
    .option('signer-opt', { type: 'string', describe: 'A setting for the signer plugin, [TYPE:]KEY=VALUE (repeatable)' })
    .epilogue(SIGN_EPILOGUE);
  return withSubcommands(y, '<src_image> <dest_image>');
}

export function dockerVerifyParser(): Argv {
  const y = authOptions(newYargs())
    .scriptName('docker-verify')
    .usage('$0 [options] (registry | repository | archive --archive FILE) [options] IMAGE...\n\nVerifies embedded signatures, and the integrity of docker image layers and metadata.')
    .exitProcess(false)
    .strict()
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Show digests, layers and signatures' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors and the verdict line' })
    .option('progress', PROGRESS_OPTION)
    .option('timeout', timeoutOption())
    .epilogue(VERIFY_EPILOGUE);
  return withSubcommands(y, '<images..>');
}

function sourceOf(argv: Record<string, unknown>): SourceKind {
  const cmd = String((argv._ as unknown[])[0] ?? '');
  if (!(SOURCE_KINDS as readonly string[]).includes(cmd)) throw new Error(`unknown subcommand "${cmd}" (registry, repository, archive)`);
  return cmd as SourceKind;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return str(v[v.length - 1]);
  return String(v);
}

export function parseDockerSignArgs(args: string[]): Promise<Parsed<LegacySignArgs>> {
  return parseWith(dockerSignParser(), args, (argv) => {
    const source = sourceOf(argv);
    const out: LegacySignArgs = {
      source,
      dryRun: argv.dryRun === true,
      signatureType: (str(argv.signatureType) ?? 'sign') as SignatureKind,
      debug: argv.debug === true,
      ...(argv.quiet === true ? { quiet: true } : {}),
      ...(argv.progress !== undefined ? { progress: argv.progress as ProgressMode } : {}),
      srcImage: str(argv.src_image)!,
      destImage: str(argv.dest_image)!,
    };
    const archive = str(argv.archive);
    if (source === 'archive' && archive) out.archive = archive;
    const timeoutMs = timeoutArg(argv.timeout);
    if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
    for (const k of ['keyid', 'keypass', 'sigtype', 'pkiFormat'] as const) {
      const v = str(argv[k]);
      if (v !== undefined) out[k] = v;
    }
    if (argv.signerOpt !== undefined) out.signerOpts = ([] as unknown[]).concat(argv.signerOpt).map(String);
    const auth = authFlagsOf(argv);
    if (auth.authfile !== undefined || auth.creds !== undefined) out.auth = auth;
    return out;
  }, 'docker-sign');
}

export function parseDockerVerifyArgs(args: string[]): Promise<Parsed<LegacyVerifyArgs>> {
  return parseWith(dockerVerifyParser(), args, (argv) => {
    const source = sourceOf(argv);
    const images = ((argv.images as unknown[]) ?? []).map(String);
    if (images.length === 0) throw new Error('give at least one IMAGE');
    const out: LegacyVerifyArgs = { source, debug: argv.debug === true, images, ...(argv.quiet === true ? { quiet: true } : {}), ...(argv.progress !== undefined ? { progress: argv.progress as ProgressMode } : {}) };
    const timeoutMs = timeoutArg(argv.timeout);
    if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
    const archive = str(argv.archive);
    if (source === 'archive' && archive) out.archive = archive;
    const auth = authFlagsOf(argv);
    if (auth.authfile !== undefined || auth.creds !== undefined) out.auth = auth;
    return out;
  }, 'docker-verify');
}

// ---------------------------------------------------------------------------------------------
// Image names -> transport references

/**
 * The transport reference for a legacy image name: registry -> docker://NAME; archive ->
 * docker-archive:FILE:NAME; repository -> docker-daemon:NAME for writing, and for reading the transport of
 * the local store source-repository chose (docker-storage: when the store is readable, for on-disk
 * integrity, else docker-daemon:).
 */
export function legacyReference(
  source: SourceKind,
  name: string,
  opts: { archive?: string; purpose: 'read' | 'write'; store?: LocalStore },
): string {
  if (name.trim() === '') throw new DsvError('ReferenceInvalid', 'empty image name');
  switch (source) {
    case 'registry':
      return name.startsWith('docker://') ? name : `docker://${name}`;
    case 'archive': {
      if (!opts.archive) throw new DsvError('Usage', 'archive needs --archive FILE');
      return `docker-archive:${resolvePath(opts.archive)}:${name}`;
    }
    case 'repository':
      return opts.purpose === 'write' || !opts.store ? `docker-daemon:${name}` : `${opts.store.transport}:${name}`;
  }
}

/** The transports legacyReference() maps a source kind to. */
const LEGACY_TRANSPORTS: Record<SourceKind, readonly string[]> = {
  registry: ['docker'],
  archive: ['docker-archive'],
  repository: ['docker-daemon', 'docker-storage'],
};

/** Context options of docker-sign / docker-verify: the transports of their subcommand only. */
async function legacyContextOptions(shell: CommandShell, source: SourceKind, timeoutMs?: number, auth?: AuthFlags): Promise<ContextOptions> {
  const credentials = auth ? await authSystem(shell.io.env, auth, shellPrompt(shell)) : {};
  return shell.contextOptions({ transports: LEGACY_TRANSPORTS[source], system: { ...timeoutSystem(timeoutMs), ...credentials } });
}

// ---------------------------------------------------------------------------------------------
// Mains

const withoutQuiet = (args: string[]) => args.filter((a) => a !== '-q' && a !== '--quiet');

/** Runs a command with -q/--quiet's output: errors and the verdict line only. */
async function quietly(io: CliIo, run: (io: CliIo) => Promise<number>): Promise<number> {
  const shaped = shapeOutput(io, 'quiet', false);
  try {
    return await run(shaped.io);
  } finally {
    shaped.flush();
  }
}

export async function dockerSignMain(args: string[], io: CliIo = processIo(), contextFactory = createContext): Promise<number> {
  const parsed = await parseDockerSignArgs(args);
  if (parsed.kind === 'run' && parsed.args.quiet) return quietly(io, (shaped) => dockerSignMain(withoutQuiet(args), shaped, contextFactory));
  const progress = parsed.kind === 'run' ? parsed.args.progress : undefined;
  const shell = new CommandShell(io, { prog: 'docker-sign', debug: parsed.kind === 'run' && parsed.args.debug, secrets: [...secretsInArgs(args), ...credsSecretsInArgs(args)], ...(progress ? { progress } : {}) });
  if (parsed.kind !== 'run') return shell.parseEnded(parsed);
  const a = parsed.args;
  // Signing in a repository goes through the engine both ways (docker-daemon: -> docker-daemon:).
  const where = { ...(a.archive ? { archive: a.archive } : {}), purpose: 'write' as const };
  return shell.sign(
    async () => {
      const ctx: CliContext = await contextFactory(await legacyContextOptions(shell, a.source, a.timeoutMs, a.auth));
      applyPkiFormat(ctx.signerSettings, a.pkiFormat);
      const keyOpts = { ...(a.keyid !== undefined ? { key: a.keyid } : {}), ...(a.keypass !== undefined ? { keypass: a.keypass } : {}), ...(a.sigtype !== undefined ? { keyType: a.sigtype } : {}) };
      const key = await shell.resolveKey(keyOpts, '-k/--keyid');
      applySignerOpts(ctx.signerSettings, a.signerOpts ?? [], [key.keyType]);
      const source = legacyReference(a.source, a.srcImage, where);
      const destination = legacyReference(a.source, a.destImage, where);
      return { ctx, options: { source, destination, key, kind: a.signatureType, dryRun: a.dryRun } };
    },
    { input: () => ({ source: a.srcImage, destination: a.destImage }), started: (source) => `Verifying Integrity: ${source} ...\n` },
  );
}

export async function dockerVerifyMain(args: string[], io: CliIo = processIo(), contextFactory = createContext): Promise<number> {
  const parsed = await parseDockerVerifyArgs(args);
  if (parsed.kind === 'run' && parsed.args.quiet) return quietly(io, (shaped) => dockerVerifyMain(withoutQuiet(args), shaped, contextFactory));
  const progress = parsed.kind === 'run' ? parsed.args.progress : undefined;
  const shell = new CommandShell(io, { prog: 'docker-verify', debug: parsed.kind === 'run' && parsed.args.debug, secrets: credsSecretsInArgs(args), ...(progress ? { progress } : {}) });
  if (parsed.kind !== 'run') return shell.parseEnded(parsed);
  const a = parsed.args;
  let ctx: CliContext;
  let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
  let store: LocalStore | undefined;
  try {
    ctx = await contextFactory(await legacyContextOptions(shell, a.source, a.timeoutMs, a.auth));
    verify = await createVerifyFunction(ctx);
    if (a.source === 'repository') {
      const { chooseLocalStore } = await import('@dsv/source-repository');
      store = await chooseLocalStore(ctx.system);
      if (store.root) ctx.system.dockerRoot = store.root;
      shell.out.debug(`repository: reading ${store.transport}: (${store.why}${store.transport === 'docker-storage' ? '; on-disk integrity' : '; using the Docker engine API'})`);
    }
  } catch (e) {
    return shell.fail(e);
  }
  return shell.verifyEach(a.images, async (image) => {
    const ref = legacyReference(a.source, image, { ...(a.archive ? { archive: a.archive } : {}), purpose: 'read', ...(store ? { store } : {}) });
    shell.out.debug(`reading ${ref}`);
    return store ? verifyLocalImage(ctx, image, store, { verify }, shell.out.debug) : runVerify(ctx, ref, { verify });
  });
}
