/**
 * dsv: the modern command line, with transport-prefixed references.
 *   dsv sign SRC [DEST]   dsv verify IMAGE...   dsv inspect IMAGE   dsv copy …   dsv docker-plugin install|uninstall
 * It also takes the original docker-sign-verify's `dsv` command line, with its meanings:
 *   dsv [--check-signatures|--no-check-signatures] [--dry-run] [-v|--debug] [-q|--quiet] [-s|--silent]
 *       sign [-s|--signature-type T] -k|--keyid KEY [-p|--keypass PASS] [-t|--sigtype gpg|pki] SRC DEST
 *   dsv … verify IMAGE...      dsv … copy SRC DEST (a verified copy)
 */
import type { Argv } from 'yargs';
import { DsvError, isPlatformString, type SignatureKind } from '@dsv/core';
import { signatureTypeOption } from './options.js';
import { definedFields, givenOptions, lastValue } from './argv-fields.js';
import { createContext, createVerifyFunction, type CliContext } from './context.js';
import { newYargs, type Parsed } from './parser.js';
import { integrityVerdict, runInspect, runVerify, uncheckedVerify } from './commands.js';
import { applyPkiFormat, applySignerOpts, containerdFromFlags } from './environment.js';
import { ExitCodes } from './exit-codes.js';
import { processIo, secretsInArgs, type CliIo } from './io.js';
import { errorJson, formatInspectText, formatTagMove, inspectReportJson, signReportJson, tagMove, type SignSummary } from './report.js';
import { CommandShell, shapeOutput } from './shell.js';
import { VERSION } from './version.js';
import { PROGRESS_OPTION } from './options.js';
import type { ProgressMode } from './progress.js';
import { decorateHelp, helpKey } from './help-examples.js';
import { commandsOf, unknownCommandMessage } from './suggest.js';
import { timeoutArg, timeoutOption, timeoutSystem } from './timeout.js';
import { layerLimitOptions, layerLimitSystem } from './layer-limit-options.js';
import { BUILTIN_TRANSPORT_MANIFESTS, referencesHelp } from './transports.js';
import { DEFAULT_FLEET_JOBS, MAX_FLEET_JOBS } from './fleet/limits.js';
import { syncSideKind } from './fleet/sync-kind.js';
import { firstKeylessFlag, KEYLESS_FLAGS, type KeylessFlags } from './detached/keyless-flags.js';
import type { PluginLaunchers } from './docker-plugin/install.js';
import { certDirHelp, copyTlsArgs, copyTlsOptions, tlsArgs, tlsVerifyHelp, type TlsArgs } from './tls-flags.js';
import { authFlagsOf, authOptions, authSystem, copyAuthFlagsOf, copyAuthOptions, credsSecretsInArgs, shellPrompt, type AuthFlags } from './auth/options.js';
import { writeDigestFile } from './auth/files.js';
import { trustCommand, trustArgs, type DsvTrustArgs } from './trust/command.js';
import { bundleCommand, bundleArgs, type DsvBundleArgs } from './bundle/command.js';
import { signaturesCommand, signaturesArgs, type DsvSignaturesArgs } from './signatures/command.js';

export interface DsvCommonArgs {
  debug: boolean;
  json: boolean;
  insecureRegistries: string[];
  /** --tls-verify=false: the registries of the command's images are insecure. */
  tlsVerify?: false;
  /** --cert-dir: the registries of the command's images read their TLS material from it. */
  certDir?: string;
  platform?: string;
  /** -q/--quiet: only errors and the verdict; -s/--silent (before the command): nothing, the exit code says it. */
  output?: 'quiet' | 'silent';
  /** --no-check-signatures: integrity only (set only when false). */
  checkSignatures?: false;
  /** --progress auto|bar|plain|none. */
  progress?: ProgressMode;
  /** --authfile / --creds (registry credentials, skopeo's meanings). */
  auth?: AuthFlags;
  /** --timeout: deadline of each network request, in ms. */
  timeoutMs?: number;
  /** --max-layer-size / --max-layer-ratio, as SystemContext fields. */
  layerLimits?: { maxLayerBytes?: number; maxLayerRatio?: number };
  /** --all-tags (with --jobs, --shard): the arguments are repositories, every tag is worked on. */
  allTags?: FleetArgs;
  /** --namespace / --address: containerd's, for `containerd:` references without brackets. */
  namespace?: string;
  address?: string;
}
export interface FleetArgs {
  jobs: number;
  /** --shard INDEX/COUNT as given. */
  shard?: string;
}
export interface DsvSignArgs extends DsvCommonArgs {
  command: 'sign';
  source: string;
  destination: string;
  key?: string;
  keyType?: string;
  passphraseFile?: string;
  /** -p/--keypass (the original's; a secret: scrubbed from all output). */
  keypass?: string;
  /** --pki-format legacy|v2. */
  pkiFormat?: string;
  signatureType: SignatureKind;
  dryRun: boolean;
  /** No DEST was given: SRC's tag moves to the signed image (reported as a tag move). */
  inPlace?: boolean;
  /** --signer-opt [TYPE:]KEY=VALUE. */
  signerOpts?: string[];
  /** --digestfile FILE: the digest of the manifest written to DEST. */
  digestFile?: string;
  /** --format embedded|simple|cosign (DSV_SIGNATURE_FORMAT otherwise; default embedded). */
  format?: string;
  /** Set when DEST was given (a usage error with a detached format). */
  destinationGiven?: true;
  /** --sign-identity REF (detached formats). */
  signIdentity?: string;
  /** --cosign-bundle. */
  cosignBundle?: true;
  /** --registries.d DIR. */
  registriesD?: string;
}
export interface DsvVerifyArgs extends DsvCommonArgs {
  command: 'verify';
  images: string[];
  trust: string[];
  /** --signer-opt [TYPE:]KEY=VALUE. */
  signerOpts?: string[];
  /** --policy FILE (containers-policy.json; DSV_POLICY otherwise). */
  policy?: string;
  /** --registries.d DIR. */
  registriesD?: string;
  /** --dct: verify through Docker Content Trust (Notary v1) instead of embedded signatures. */
  dct?: boolean;
  /** --server URL: the trust server for --dct. */
  server?: string;
  /** cosign's keyless flags (--certificate-identity, --certificate-oidc-issuer, --trusted-root, ...). */
  keyless?: KeylessFlags;
  /** --sign-identity REF: what detached cosign signatures must claim (default: the image reference). */
  signIdentity?: string;
}
export interface DsvInspectArgs extends DsvCommonArgs {
  command: 'inspect';
  image: string;
  trust: string[];
  /** --registries.d DIR. */
  registriesD?: string;
  /** --raw: the manifest's exact bytes; --config: the configuration's exact bytes. */
  raw?: 'manifest' | 'config';
}
export interface DsvCopyArgs extends DsvCommonArgs {
  command: 'copy';
  rest: string[];
}
/** TlsArgs: --src-/--dest-tls-verify and --src-/--dest-cert-dir for registry SRC / DEST. */
export interface DsvSyncArgs extends DsvCommonArgs, TlsArgs {
  command: 'sync';
  source: string;
  destination: string;
  jobs: number;
  shard?: string;
  scoped: boolean;
  dryRun: boolean;
  policy?: string;
  registriesD?: string;
  removeSignatures: boolean;
  /** --authfile (both sides), --src-/--dest-authfile, --src-/--dest-creds (skopeo sync's). */
  sideAuth: { source: AuthFlags; destination: AuthFlags };
}
export interface DsvKeygenArgs extends DsvCommonArgs {
  command: 'generate-key-pair';
  format: string;
  outputPrefix?: string;
  passphraseFile?: string;
}
export type DsvArgs = DsvSignArgs | DsvVerifyArgs | DsvInspectArgs | DsvCopyArgs | DsvKeygenArgs | DsvSyncArgs | DsvTrustArgs | DsvPluginsArgs | DsvBundleArgs | DsvSignaturesArgs;
export interface DsvPluginsArgs extends DsvCommonArgs {
  command: 'plugins';
}

export type ParsedDsv = Parsed<DsvArgs>;

const EXIT_HELP = `Exit codes: 0 ok; 1 not trusted (integrity or signature failure, unsigned); 2 usage or input error; 3 operational failure.`;

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function dsvParser(): Argv {
  return newYargs()
    .scriptName('dsv')
    .usage(`$0 <command> [options]\n\nSigns and verifies Docker/OCI images where they live.\n\n${referencesHelp()}\n${EXIT_HELP}`)
    .exitProcess(false)
    .strict()
    .parserConfiguration({ 'dot-notation': false })
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Diagnostics on stderr: digests, layers, signatures, stack traces' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors and the verdict line' })
    .option('silent', { type: 'boolean', default: false, describe: 'No output at all: the exit code says it (-s before the command)' })
    .option('check-signatures', { type: 'boolean', default: true, describe: 'Check embedded signatures; --no-check-signatures checks integrity only' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Do everything but write; print what would be written' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable report on stdout' })
    .option('progress', PROGRESS_OPTION)
    .option('insecure-registry', { type: 'string', describe: 'Allow plain HTTP / unverified TLS for HOST[:PORT] (repeatable; also DSV_INSECURE_REGISTRIES)' })
    .option('tls-verify', { type: 'boolean', describe: tlsVerifyHelp('the images named') })
    .option('cert-dir', { type: 'string', describe: certDirHelp('the images named') })
    .option('timeout', timeoutOption())
    .options(layerLimitOptions())
    .option('namespace', { type: 'string', describe: 'containerd namespace of containerd: references without brackets [env CONTAINERD_NAMESPACE, default default]' })
    .option('address', { type: 'string', describe: 'containerd socket for containerd: references [env CONTAINERD_ADDRESS, default /run/containerd/containerd.sock]' })
    .option('platform', {
      type: 'string',
      describe: 'Only this platform of a multi-platform image: os/arch[/variant]',
      coerce: (v: unknown) => {
        const s = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
        if (!isPlatformString(s)) throw new Error(`invalid --platform "${s}": expected os/arch[/variant]`);
        return s;
      },
    })
    .command('sign <source> [destination]', 'Verify integrity, then embed a signature in SOURCE and store it as DESTINATION (default: SOURCE)', (y) =>
      authOptions(y)
        .option('key', { alias: ['k', 'keyid'], type: 'string', describe: 'Signing key: GnuPG key id / fingerprint / key file, PKI key file, or a plugin key [env DSV_KEYID]' })
        .option('key-type', { alias: ['t', 'sigtype'], type: 'string', describe: 'Signature type: gpg, pki or a plugin type [env DSV_KEYTYPE, default gpg]' })
        .option('passphrase-file', { type: 'string', describe: 'Read the key passphrase from this file [env DSV_KEYPASS; prompted on a terminal]' })
        .option('keypass', { alias: 'p', type: 'string', describe: 'The key passphrase itself (the original\'s option; visible in ps, prefer --passphrase-file)' })
        .option('pki-format', { type: 'string', describe: 'PKI signature armour: legacy (docker-sign-verify\'s; default for a bare RSA key) or v2 [env DSV_PKI_FORMAT]' })
        .option('signature-type', signatureTypeOption('sign (co-sign), endorse (countersign) or resign (replace all signatures)'))
        .options(fleetOptions('sign'))
        .option('digestfile', { type: 'string', describe: 'Write the digest of the manifest stored at DEST to this file' })
        .option('format', { type: 'string', describe: 'embedded (in the image config; the default), simple (containers-signature, detached) or cosign (.sig tag); detached formats leave the image unchanged and take no DEST [env DSV_SIGNATURE_FORMAT]' })
        .option('sign-identity', { type: 'string', describe: 'The identity a detached signature claims (default: the image reference)' })
        .option('cosign-bundle', { type: 'boolean', describe: 'With --format cosign: a Sigstore bundle referrer instead of the .sig tag' })
        .option('registries.d', { type: 'string', describe: 'registries.d directory naming the lookaside store for simple signatures' })
        .option('signer-opt', { type: 'string', describe: 'A setting for the signer plugin, [TYPE:]KEY=VALUE (repeatable)' }),
    )
    .command('verify <images..>', 'Check every blob and every embedded signature; exit 0 only when all hold and a trusted key signed', (y) =>
      authOptions(y)
        .option('trust', { type: 'string', describe: 'Trusted key / certificate file, [TYPE:]FILE (repeatable; also DSV_TRUST); cosign:FILE checks cosign signatures with that public key' })
        .option('policy', { type: 'string', describe: 'Judge by this containers-policy.json (signedBy, sigstoreSigned, dsvSigned) [env DSV_POLICY]' })
        .option('registries.d', { type: 'string', describe: 'registries.d directory for simple-signing lookaside stores [default ~/.config/containers/registries.d, then /etc/containers/registries.d]' })
        .options(fleetOptions('verify'))
        .option('dct', { type: 'boolean', default: false, describe: 'Verify through Docker Content Trust (Notary v1) instead of embedded signatures' })
        .option('server', { type: 'string', describe: 'With --dct: the trust server URL [env DOCKER_CONTENT_TRUST_SERVER; default as the docker CLI]' })
        .option('signer-opt', { type: 'string', describe: 'A setting for signer plugins, [TYPE:]KEY=VALUE (repeatable)' })
        .options(keylessOptions()),
    )
    .command('inspect <image>', 'Show the digests and who signed what, without judging trust', (y) =>
      authOptions(y)
        .option('trust', { type: 'string', describe: 'Key / certificate files used to name signers, [TYPE:]FILE; cosign:FILE checks cosign signatures' })
        .option('registries.d', { type: 'string', describe: 'registries.d directory for simple-signing lookaside stores' })
        .option('raw', { type: 'boolean', default: false, describe: 'Print the manifest (list, index) exactly as stored, nothing else' })
        .option('config', { type: 'boolean', default: false, describe: 'Print the image configuration exactly as stored (with --platform for a multi-platform image)' }),
    )
    .command('login', 'Check registry credentials and store them where docker does (dsv login --help)', (y) => y.strict(false))
    .command('logout', 'Remove the stored credentials of a registry (dsv logout --help)', (y) => y.strict(false))
    .command('list-tags', 'List the tags of a registry repository (dsv list-tags --help)', (y) => y.strict(false))
    .command('sync <source> <destination>', 'Copy every image of a repository, a sync file or OCI layouts to a registry prefix or a directory of OCI layouts, with their signatures; what DEST has is not sent again', (y) =>
      copyTlsOptions(copyAuthOptions(y))
        .option('jobs', { type: 'number', describe: `Images copied at once [default ${DEFAULT_FLEET_JOBS}]` })
        .option('shard', { type: 'string', describe: 'Only the repositories of shard INDEX/COUNT (stable hash) [env JOB_COMPLETION_INDEX + DSV_SHARD_COUNT]' })
        .option('scoped', { type: 'boolean', default: false, describe: 'Name each repository at DEST by its whole source name (host/repo), not its last path component' })
        .option('policy', { type: 'string', describe: 'Copy only images this containers-policy.json accepts (signed-only sync) [env DSV_POLICY]' })
        .option('registries.d', { type: 'string', describe: 'registries.d directory for simple-signing lookaside stores' })
        .option('remove-signatures', { type: 'boolean', default: false, describe: 'Do not carry detached signatures' }),
    )
    .command('generate-key-pair', 'Write a new cosign key pair, cosign.key (encrypted) and cosign.pub, in the working directory', (y) =>
      y
        .option('format', { type: 'string', demandOption: true, describe: 'cosign' })
        .option('output-prefix', { type: 'string', describe: 'Write PREFIX.key and PREFIX.pub instead (a path prefix)' })
        .option('passphrase-file', { type: 'string', describe: 'Read the new key\'s passphrase from this file [env DSV_KEYPASS, COSIGN_PASSWORD; prompted on a terminal]' }),
    )
    .command(...trustCommand())
    .command(...bundleCommand())
    .command(...signaturesCommand())
    .command('copy', 'Copy an image between transports with its signatures, verifying as it streams (dsv-copy; see dsv copy --help)', (y) => y.strict(false))
    .command('docker-plugin', 'Install or uninstall `docker sign` / `docker verify` as Docker CLI plugins (dsv docker-plugin --help)', (y) => y.strict(false))
    .command('plugins <action>', 'Signer plugins: `dsv plugins list` shows each type, where it was found and its version')
    .command('completion <shell>', 'Print a shell completion script: bash, zsh or fish (dsv completion --help)')
    .demandCommand(1, 'missing command: sign, verify or inspect')
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

/** SRC or DEST of a sync as a registry reference, or '' (a sync file, OCI layouts). */
function syncRegistrySide(arg: string): string {
  return syncSideKind(arg) === 'registry' ? arg.replace(/\/+$/, '') : '';
}

/** The image references a command names (SOURCE and DEST, IMAGE, the images, a trust or signatures target, a bundle's DEST). */
function namedReferences(a: DsvArgs): string[] {
  const named = a as Partial<Record<'source' | 'destination' | 'image' | 'target' | 'images', unknown>>;
  return [named.source, named.destination, named.image, named.target, ...(Array.isArray(named.images) ? named.images : [])].filter((r): r is string => typeof r === 'string');
}

/** What --tls-verify=false and --cert-dir (sync: their --src-/--dest- forms) say for the command's references. */
function tlsOf(a: DsvArgs): TlsArgs {
  if (a.command === 'sync') return definedFields(a, ['tlsUnverified', 'certDirs']);
  return tlsArgs({ tlsVerify: a.tlsVerify, certDir: a.certDir }, namedReferences(a));
}

/** A reference that names a digest (`…@sha256:…`), whatever its transport. */
const DIGEST_REFERENCE = /@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Options before the command that take a value (so the value is not taken for the command). */
const GLOBALS_WITH_VALUE = new Set(['--insecure-registry', '--cert-dir', '--platform', '--namespace', '--address', '--timeout', '--progress', '--max-layer-size', '--max-layer-ratio']);

/**
 * The arguments split at the command: the options before it (`-s` there is the original's --silent, so it
 * is rewritten; after `sign` it is --signature-type), the command, and what follows it.
 */
export function splitDsvArgs(args: string[]): { globals: string[]; command?: string; rest: string[] } {
  const globals: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || !a.startsWith('-') || a === '-') break;
    globals.push(a === '-s' ? '--silent' : a);
    if (GLOBALS_WITH_VALUE.has(a) && i + 1 < args.length) globals.push(args[++i]!);
  }
  const command = args[i];
  return command === undefined ? { globals, rest: [] } : { globals, command, rest: args.slice(i + 1) };
}

export async function parseDsvArgs(rawArgs: string[]): Promise<ParsedDsv> {
  const split = splitDsvArgs(rawArgs);
  const args = [...split.globals, ...(split.command !== undefined ? [split.command] : []), ...split.rest];
  let err: string | undefined;
  let output = '';
  const parser = dsvParser();
  const argv = (await parser.parseAsync(args, {}, (e: Error | undefined, _a: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  const commands = commandsOf(parser);
  if (err) {
    const word = split.command;
    if (word !== undefined && !word.startsWith('-') && !commands.includes(word)) return { kind: 'error', message: unknownCommandMessage(word, commands) };
    return { kind: 'error', message: err };
  }
  if (argv.help) return { kind: 'output', text: decorateHelp(output, helpKey('dsv', argv._ as unknown[], commands)) };
  if (argv.version) return { kind: 'output', text: output.endsWith('\n') ? output : `${output}\n` };
  const common: DsvCommonArgs = {
    debug: argv.debug === true,
    json: argv.json === true,
    insecureRegistries: asList(argv.insecureRegistry),
  };
  if (argv.tlsVerify === false) common.tlsVerify = false;
  const certDir = lastValue(argv.certDir);
  if (certDir !== undefined) common.certDir = certDir;
  if (typeof argv.platform === 'string') common.platform = argv.platform;
  if (argv.progress !== undefined) common.progress = argv.progress as ProgressMode;
  const timeoutMs = timeoutArg(argv.timeout);
  if (timeoutMs !== undefined) common.timeoutMs = timeoutMs;
  try {
    const limits = layerLimitSystem(argv);
    if (Object.keys(limits).length) common.layerLimits = limits;
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  if (argv.silent === true) common.output = 'silent';
  else if (argv.quiet === true) common.output = 'quiet';
  if (argv.checkSignatures === false) common.checkSignatures = false;
  const auth = authFlagsOf(argv);
  if (auth.authfile !== undefined || auth.creds !== undefined) common.auth = auth;
  if (argv.allTags === true) {
    const jobs = Number(argv.jobs ?? DEFAULT_FLEET_JOBS);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_FLEET_JOBS) return { kind: 'error', message: `invalid --jobs "${String(argv.jobs)}": 1..${MAX_FLEET_JOBS}` };
    common.allTags = { jobs, ...(typeof argv.shard === 'string' ? { shard: argv.shard } : {}) };
  } else if ((argv.shard !== undefined || argv.jobs !== undefined) && (argv._ as unknown[])[0] !== 'sync') {
    return { kind: 'error', message: `${argv.shard !== undefined ? '--shard' : '--jobs'} needs --all-tags` };
  }
  const containerd: Pick<DsvCommonArgs, 'namespace' | 'address'> = givenOptions(argv, ['namespace', 'address']);
  Object.assign(common, containerd);
  const cmd = String((argv._ as unknown[])[0]);
  const one = lastValue;
  switch (cmd) {
    case 'sign': {
      const a: DsvSignArgs = {
        ...common,
        command: 'sign',
        source: String(argv.source),
        destination: one(argv.destination) ?? String(argv.source),
        signatureType: (one(argv.signatureType) ?? 'sign') as SignatureKind,
        dryRun: argv.dryRun === true,
        ...givenOptions(argv, ['key', 'keyType', 'passphraseFile', 'keypass', 'pkiFormat', 'format', 'signIdentity', 'registriesD', 'digestFile'], { registriesD: 'registries.d', digestFile: 'digestfile' }),
      };
      if (argv.destination === undefined) a.inPlace = true;
      if (argv.signerOpt !== undefined) a.signerOpts = ([] as unknown[]).concat(argv.signerOpt).map(String);
      if (one(argv.destination) !== undefined) a.destinationGiven = true;
      if (argv.cosignBundle === true) a.cosignBundle = true;
      return { kind: 'run', args: a };
    }
    case 'verify': {
      const v: DsvVerifyArgs = {
        ...common, command: 'verify', images: (argv.images as unknown[]).map(String), trust: asList(argv.trust),
        ...givenOptions(argv, ['policy', 'registriesD', 'server', 'signIdentity'], { registriesD: 'registries.d', signIdentity: 'sign-identity' }),
      };
      if (argv.dct === true) v.dct = true;
      if (argv.signerOpt !== undefined) v.signerOpts = ([] as unknown[]).concat(argv.signerOpt).map(String);
      const keyless: KeylessFlags = {};
      for (const [k, flag] of KEYLESS_FLAGS) {
        const value = one(argv[flag.slice(2)]);
        if (value !== undefined) keyless[k] = value;
      }
      if (Object.keys(keyless).length) v.keyless = keyless;
      return { kind: 'run', args: v };
    }
    case 'sync': {
      const jobs = Number(argv.jobs ?? DEFAULT_FLEET_JOBS);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_FLEET_JOBS) return { kind: 'error', message: `invalid --jobs "${String(argv.jobs)}": 1..${MAX_FLEET_JOBS}` };
      const y: DsvSyncArgs = {
        ...common, command: 'sync', source: String(argv.source), destination: String(argv.destination), jobs,
        scoped: argv.scoped === true, dryRun: argv.dryRun === true, removeSignatures: argv.removeSignatures === true,
        sideAuth: copyAuthFlagsOf(argv),
        ...givenOptions(argv, ['shard', 'policy', 'registriesD'], { registriesD: 'registries.d' }),
        // A sync file names its registries' tls-verify itself; OCI layouts have none.
        ...copyTlsArgs(argv, syncRegistrySide(String(argv.source)), syncRegistrySide(String(argv.destination))),
      };
      // --authfile is both sides' here: each side's SystemContext is made by the sync itself.
      delete y.auth;
      return { kind: 'run', args: y };
    }
    case 'trust':
      return { kind: 'run', args: trustArgs(common, argv) };
    case 'bundle':
      return { kind: 'run', args: bundleArgs(common, argv) };
    case 'signatures':
      return { kind: 'run', args: signaturesArgs(common, argv) };
    case 'plugins':
      if (argv.action !== 'list') return { kind: 'error', message: unknownCommandMessage(String(argv.action), ['list'], 'plugins action') };
      return { kind: 'run', args: { ...common, command: 'plugins' } };
    case 'inspect': {
      if (argv.raw === true && argv.config === true) return { kind: 'error', message: '--raw and --config: give one (--config prints the configuration\'s exact bytes)' };
      const raw = argv.config === true ? 'config' : argv.raw === true ? 'manifest' : undefined;
      const i: DsvInspectArgs = {
        ...common, command: 'inspect', image: String(argv.image), trust: asList(argv.trust), ...(raw ? { raw } : {}),
        ...givenOptions(argv, ['registriesD'], { registriesD: 'registries.d' }),
      };
      return { kind: 'run', args: i };
    }
    case 'copy':
      return { kind: 'run', args: { ...common, command: 'copy', rest: (argv._ as unknown[]).slice(1).map(String) } };
    case 'completion':
      try {
        return { kind: 'output', text: await dsvCompletion(String(argv.shell)) };
      } catch (e) {
        return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
      }
    case 'generate-key-pair': {
      const k: DsvKeygenArgs = { ...common, command: 'generate-key-pair', format: String(one(argv.format)), ...givenOptions(argv, ['outputPrefix', 'passphraseFile']) };
      return { kind: 'run', args: k };
    }
    default:
      return { kind: 'error', message: `unknown command "${cmd}" (sign, verify, inspect)` };
  }
}

/** The prefix of each built-in transport's references: `docker://`, `oci:`, `docker-archive:`… */
function transportPrefixes(): string[] {
  return BUILTIN_TRANSPORT_MANIFESTS.flatMap((m) => m.transports.map((t) => /^[a-z][a-z0-9-]*:(?:\/\/)?/.exec(t.syntax)?.[0] ?? `${t.name}:`));
}

/** `dsv completion SHELL`: the script, from the parsers (dsv's, and dsv-copy's for `dsv copy`). */
async function dsvCompletion(shell: string): Promise<string> {
  const { completionScript } = await import('./completion.js');
  const { copyParser } = await import('./copy.js');
  return completionScript(shell, {
    prog: 'dsv',
    parser: dsvParser,
    globalsWithValue: [...GLOBALS_WITH_VALUE],
    nested: { copy: () => copyParser('dsv copy'), 'docker-plugin': { flags: ['--dir', '--help', '-h'], words: ['install', 'uninstall'] } },
    words: { completion: ['bash', 'zsh', 'fish'], plugins: ['list'] },
    references: { commands: ['sign', 'verify', 'inspect', 'copy', 'sync', 'list-tags'], prefixes: transportPrefixes() },
  });
}

/** What `dsv` needs from the app that runs it. */
export interface DsvOptions {
  /** Builds the context (tests inject their own). */
  contextFactory?: typeof createContext;
  /** The Docker CLI plugin launchers `dsv docker-plugin install` writes (the app's own bin/ files). */
  pluginLaunchers?: PluginLaunchers;
}

/** The original's options before `copy` / `docker-plugin`; the others are handed on to the nested command. */
function nestedGlobals(globals: string[]): { output?: 'quiet' | 'silent'; checkSignatures?: boolean; forward: string[] } {
  const r: { output?: 'quiet' | 'silent'; checkSignatures?: boolean; forward: string[] } = { forward: [] };
  for (const g of globals) {
    if (g === '--check-signatures') r.checkSignatures = true;
    else if (g === '--no-check-signatures') r.checkSignatures = false;
    else if (g === '--silent') r.output = 'silent';
    else if ((g === '-q' || g === '--quiet') && r.output !== 'silent') r.output = 'quiet';
    else r.forward.push(g);
  }
  return r;
}

/**
 * `dsv copy …` and `dsv docker-plugin …`: runtime jobs, loaded only when used. `dsv [options] copy SRC DEST`
 * (no options of dsv-copy's own after `copy`) is the original's verified copy: every blob, and the
 * embedded signatures unless --no-check-signatures, checked before DEST changes. With dsv-copy's options it
 * is dsv-copy (signatures checked only when --check-signatures is given).
 */
async function runNested(name: 'copy' | 'docker-plugin', globals: string[], rest: string[], io: CliIo, opts: DsvOptions): Promise<number> {
  const g = nestedGlobals(globals);
  const shaped = shapeOutput(io, g.output, [...globals, ...rest].includes('--json'));
  try {
    if (name === 'copy') {
      const original = rest.length === 2 && rest.every((r) => !r.startsWith('-'));
      const checkSignatures = g.checkSignatures ?? original;
      return await (await import('./copy.js')).copyMain([...g.forward, ...rest], shaped.io, 'dsv copy', { verify: original || checkSignatures, checkSignatures });
    }
    const { dockerPluginCommand } = await import('./docker-plugin/docker-plugin-command.js');
    return await dockerPluginCommand(rest, shaped.io, opts.pluginLaunchers);
  } finally {
    shaped.flush();
  }
}

export async function dsvMain(args: string[], io: CliIo = processIo(), opts: DsvOptions | typeof createContext = {}): Promise<number> {
  const options: DsvOptions = typeof opts === 'function' ? { contextFactory: opts } : opts;
  const split = splitDsvArgs(args);
  if (split.command === 'copy' || split.command === 'docker-plugin') return runNested(split.command, split.globals, split.rest, io, options);
  if (split.command === 'login' || split.command === 'logout') return (await import('./auth/login.js')).loginMain(split.command, [...split.globals, ...split.rest], io);
  if (split.command === 'list-tags') return (await import('./list-tags.js')).listTagsMain([...split.globals, ...split.rest], io);
  const parsed = await parseDsvArgs(args);
  if (parsed.kind !== 'run') {
    const silent = split.globals.includes('--silent') || args.includes('--silent');
    return new CommandShell(silent ? shapeOutput(io, 'silent', false).io : io, { prog: 'dsv', secrets: [...secretsInArgs(args), ...credsSecretsInArgs(args)] }).parseEnded(parsed);
  }
  const shaped = shapeOutput(io, parsed.args.output, parsed.args.json);
  try {
    return await dsvRun(parsed.args, shaped.io, options, [...secretsInArgs(args), ...credsSecretsInArgs(args)]);
  } finally {
    shaped.flush();
  }
}

/** The fields of `dsv sign` that name its key, as key resolution takes them. */
const KEY_FIELDS = ['key', 'keyType', 'keypass', 'passphraseFile'] as const;

async function dsvRun(a: DsvArgs, io: CliIo, options: DsvOptions, secrets: string[]): Promise<number> {
  const contextFactory = options.contextFactory ?? createContext;
  if (a.command === 'copy') return runNested('copy', [], a.rest, io, options);
  if (a.command === 'plugins') return (await import('./plugins-command.js')).pluginsList(io, a);
  if (a.command === 'generate-key-pair') {
    const { runGenerateKeyPair } = await import('./detached/keygen-command.js');
    const shell = new CommandShell(io, { prog: 'dsv', json: a.json, debug: a.debug, secrets });
    return runGenerateKeyPair(shell, { format: a.format, ...definedFields(a, ['outputPrefix', 'passphraseFile']) });
  }
  const integrityOnly = a.checkSignatures === false;
  const shell = new CommandShell(io, { prog: 'dsv', json: a.json, debug: a.debug, secrets, ...(a.progress ? { progress: a.progress } : {}) });
  let ctx: CliContext;
  try {
    const system = a.auth ? await authSystem(io.env, a.auth, shellPrompt(shell)) : undefined;
    ctx = await contextFactory(
      shell.contextOptions({
        insecureRegistries: a.insecureRegistries,
        ...tlsOf(a),
        system: { ...containerdFromFlags(a), ...timeoutSystem(a.timeoutMs), ...(a.layerLimits ?? {}), ...(system ?? {}) },
        ...(a.command === 'bundle'
          ? a.subcommand === 'create' ? { references: [...a.images, 'oci:/bundle'] } : { transports: ['docker', 'oci'] }
          : a.command === 'sync'
          ? { transports: ['docker', 'oci'] }
          : a.command === 'signatures'
          ? { transports: ['docker'] }
          : { references: namedReferences(a) }),
        ...(a.command === 'verify' && (integrityOnly || a.dct) ? { signers: false } : {}),
        ...(a.command === 'trust' && a.subcommand === 'inspect' ? { signers: false } : {}),
      }),
    );
  } catch (e) {
    return shell.fail(e, () => ({ command: a.command, ok: false, error: errorJson(e) }));
  }
  if (a.command === 'verify' && a.dct) {
    // The keyless flags build a detached-signature policy, which --dct does not judge by.
    const keyless = (a.keyless && firstKeylessFlag(a.keyless)) ?? (a.signIdentity !== undefined ? '--sign-identity' : undefined);
    if (keyless) return shell.verifyFailed(a.images, new DsvError('Usage', `${keyless} cannot be combined with --dct`));
  }
  if (a.allTags && (a.command === 'sign' || a.command === 'verify')) return fleetRun(ctx, a, shell);
  if (a.command === 'sync') return syncRun(ctx, a, shell);
  switch (a.command) {
    case 'sign': {
      const detached = await detachedSign(ctx, a, shell);
      if (detached !== undefined) return detached;
      // An embedded signature without DEST moves SRC's tag to the signed image; a digest cannot move: refuse before any work.
      if (a.inPlace && DIGEST_REFERENCE.test(a.source)) {
        const e = new DsvError('Usage', `"${a.source}" names a digest, which cannot be re-pointed to the signed image: give a DEST to store it as (dsv sign SRC DEST)`);
        return shell.fail(e, () => signReportJson(undefined, a, e));
      }
      return shell.sign(
        async () => {
          applyPkiFormat(ctx.signerSettings, a.pkiFormat);
          const key = await shell.resolveKey(
            definedFields(a, KEY_FIELDS),
            '--key',
          );
          applySignerOpts(ctx.signerSettings, a.signerOpts ?? [], [key.keyType]);
          return { ctx, options: { source: a.source, destination: a.destination, key, kind: a.signatureType, dryRun: a.dryRun, ...(a.platform ? { platform: a.platform } : {}) } };
        },
        { input: () => a, ...(a.inPlace ? tagMoveReport : {}), ...(a.digestFile !== undefined ? { written: digestFileWriter(a.digestFile) } : {}) },
      );
    }
    case 'trust':
      return (await import('./trust/command.js')).runTrust(ctx, a, shell);
    case 'bundle':
      return (await import('./bundle/command.js')).runBundle(ctx, a, shell);
    case 'signatures':
      return (await import('./signatures/command.js')).runSignatures(ctx, a, shell);
    case 'verify': {
      if (a.dct) return (await import('./trust/verify.js')).dctVerify(ctx, { images: a.images, json: a.json, ...(a.server !== undefined ? { server: a.server } : {}), ...(a.platform ? { platform: a.platform } : {}) }, shell);
      const detached = await detachedVerify(ctx, a, shell);
      if (detached !== undefined) return detached;
      let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
      try {
        applySignerOpts(ctx.signerSettings, a.signerOpts ?? [], ctx.signers.types());
        verify = integrityOnly ? uncheckedVerify : await createVerifyFunction(ctx, { trust: a.trust });
      } catch (e) {
        return shell.verifyFailed(a.images, e);
      }
      return shell.verifyEach(a.images, async (input) => {
        const result = await runVerify(ctx, input, { verify, ...(a.platform ? { platform: a.platform } : {}) });
        return integrityOnly ? integrityVerdict(result) : result;
      });
    }
    case 'inspect':
      return dsvInspect(ctx, a, shell);
  }
}

/** `dsv sign SRC` (no DEST) moved SRC's tag: say from which digest to which, in text and JSON. */
const tagMoveReport = {
  done: (s: SignSummary) => formatTagMove(tagMove(s)),
  json: (s: SignSummary) => ({ tagMoved: tagMove(s) }),
};
/** --digestfile: the digest of the manifest written to DEST (nothing on a dry run, which writes nothing). */
function digestFileWriter(path: string) {
  return async (s: { result: { dryRun: boolean; destinationDigest: string } }) => {
    if (!s.result.dryRun) await writeDigestFile(path, s.result.destinationDigest);
  };
}

/** The --all-tags options of sign and verify. */
/** cosign's keyless verification flags, same names and meaning (README: cosign, keyless). */
function keylessOptions() {
  return {
    'certificate-identity': { type: 'string', describe: 'Keyless cosign: the email or URI the signing certificate must name (any SAN)' },
    'certificate-identity-regexp': { type: 'string', describe: 'Keyless cosign: a pattern the whole SAN must match' },
    'certificate-oidc-issuer': { type: 'string', describe: 'Keyless cosign: the OIDC issuer the certificate must name' },
    'certificate-oidc-issuer-regexp': { type: 'string', describe: 'Keyless cosign: a pattern the whole OIDC issuer must match' },
    'ca-roots': { type: 'string', describe: 'Keyless cosign: PEM Fulcio / PKI CA certificates (roots and intermediates); with --rekor-public-key' },
    'rekor-public-key': { type: 'string', describe: 'Keyless cosign: the Rekor log\'s PEM public key; with --ca-roots' },
    'trusted-root': { type: 'string', describe: 'Keyless cosign: a Sigstore trusted_root.json (CAs and Rekor keys, each within its validFor)' },
    'sign-identity': { type: 'string', describe: 'With --trust cosign: or keyless: the image reference or repository signatures must claim' },
  } as const;
}

function fleetOptions(command: 'sign' | 'verify') {
  return {
    'all-tags': { type: 'boolean', describe: `${command === 'sign' ? 'Sign' : 'Verify'} every tag of the REPOSITORY argument(s) (docker://HOST/REPO); one line per tag and a summary` },
    jobs: { type: 'number', describe: `With --all-tags: tags worked on at once [default ${DEFAULT_FLEET_JOBS}]` },
    shard: { type: 'string', describe: 'With --all-tags: only the repositories of shard INDEX/COUNT (stable hash) [env JOB_COMPLETION_INDEX + DSV_SHARD_COUNT]' },
  } as const;
}

/** The shard: --shard, else JOB_COMPLETION_INDEX (or DSV_SHARD_INDEX) with DSV_SHARD_COUNT. */
async function fleetShard(ctx: CliContext, flag: string | undefined): Promise<{ shard?: import('./fleet/shard.js').Shard; shardSource?: string }> {
  const { parseShard } = await import('./fleet/shard.js');
  if (flag !== undefined) return { shard: parseShard(flag), shardSource: '--shard' };
  const { shardFromEnv } = await import('./environment.js');
  const fromEnv = shardFromEnv(ctx.env);
  return fromEnv ? { shard: parseShard(fromEnv.value, fromEnv.source), shardSource: fromEnv.source } : {};
}

async function syncRun(ctx: CliContext, a: DsvSyncArgs, shell: CommandShell): Promise<number> {
  let sharding;
  let sides;
  try {
    sharding = await fleetShard(ctx, a.shard);
    const prompt = shellPrompt(shell);
    sides = {
      source: await authSystem(shell.io.env, a.sideAuth.source, prompt, { creds: '--src-creds' }),
      destination: await authSystem(shell.io.env, a.sideAuth.destination, prompt, { creds: '--dest-creds' }),
    };
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sync', ok: false, error: errorJson(e) }));
  }
  const { policyFromEnv } = await import('./environment.js');
  const policyFile = a.policy ?? policyFromEnv(ctx.env);
  const { runSync } = await import('./fleet/sync.js');
  return runSync(ctx, shell, {
    source: a.source,
    destination: a.destination,
    jobs: a.jobs,
    scoped: a.scoped,
    dryRun: a.dryRun,
    removeSignatures: a.removeSignatures,
    ...sharding,
    ...(policyFile !== undefined ? { policyFile } : {}),
    ...definedFields(a, ['registriesD']),
    sides,
  });
}

/** sign --format simple|cosign (or DSV_SIGNATURE_FORMAT): a detached signature (undefined: embedded, today's sign). */
async function detachedSign(ctx: CliContext, a: DsvSignArgs, shell: CommandShell): Promise<number | undefined> {
  const { parseSignatureFormat, signatureFormatFromEnv } = await import('./environment.js');
  let format;
  try {
    format = a.format !== undefined ? parseSignatureFormat(a.format) : signatureFormatFromEnv(ctx.env) ?? 'embedded';
    if (format === 'embedded') {
      if (a.signIdentity !== undefined || a.cosignBundle) throw new DsvError('Usage', `${a.signIdentity !== undefined ? '--sign-identity' : '--cosign-bundle'} needs --format simple or cosign`);
      return undefined;
    }
    if (a.destinationGiven) throw new DsvError('Usage', `--format ${format} writes a detached signature and leaves the image unchanged: give no DESTINATION (${a.destination})`);
    if (a.dryRun) throw new DsvError('Usage', `--dry-run is not supported with --format ${format}`);
    if (a.platform) throw new DsvError('Usage', `--platform is not supported with --format ${format}: a detached signature signs the whole image manifest`);
    if (a.keyType !== undefined) throw new DsvError('Usage', `--key-type is for embedded signatures; --format ${format} takes ${format === 'cosign' ? 'a cosign key' : 'an OpenPGP key'} with --key`);
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sign', ok: false, source: a.source, error: errorJson(e) }));
  }
  const { runDetachedSign } = await import('./detached/sign-command.js');
  return runDetachedSign(ctx, shell, {
    format,
    image: a.source,
    ...definedFields(a, ['key', 'passphraseFile', 'keypass', 'signIdentity', 'registriesD']),
    ...(a.cosignBundle ? { cosignBundle: true } : {}),
  });
}

/** sign / verify --all-tags: the fleet jobs. */
async function fleetRun(ctx: CliContext, a: DsvSignArgs | DsvVerifyArgs, shell: CommandShell): Promise<number> {
  const fleet = a.allTags!;
  let shard;
  let shardSource: string | undefined;
  try {
    ({ shard, shardSource } = await fleetShard(ctx, fleet.shard));
  } catch (e) {
    return shell.fail(e, () => ({ command: a.command, allTags: true, ok: false, error: errorJson(e) }));
  }
  const common = { jobs: fleet.jobs, ...(shard ? { shard } : {}), ...(shardSource ? { shardSource } : {}), ...(a.platform ? { platform: a.platform } : {}) };
  const { signAllTags, verifyAllTags } = await import('./fleet/commands.js');
  if (a.command === 'verify') {
    const { policyFromEnv } = await import('./environment.js');
    const policyFile = a.policy ?? policyFromEnv(ctx.env);
    // cosign's keyless flags: every tag judged by the one sigstoreSigned requirement they build.
    const keyless = a.keyless ? firstKeylessFlag(a.keyless) : undefined;
    let policy;
    try {
      if (keyless) {
        if (policyFile !== undefined) throw new DsvError('Usage', `${keyless} cannot be combined with a policy (${a.policy !== undefined ? '--policy' : 'DSV_POLICY'}); put a sigstoreSigned fulcio requirement in the policy`);
        if (a.trust.length) throw new DsvError('Usage', `--trust ${a.trust[0]} and ${keyless} cannot be combined`);
        if (a.checkSignatures === false) throw new DsvError('Usage', `${keyless} cannot be combined with --no-check-signatures`);
        const { keylessTrustPolicy } = await import('./detached/verify-command.js');
        policy = await keylessTrustPolicy(a.keyless!, a.signIdentity);
      } else if (a.signIdentity !== undefined) {
        throw new DsvError('Usage', '--sign-identity with --all-tags needs the keyless flags (--certificate-identity, ...)');
      }
    } catch (e) {
      return shell.fail(e, () => ({ command: a.command, allTags: true, ok: false, error: errorJson(e) }));
    }
    return verifyAllTags(ctx, shell, {
      ...common,
      repositories: a.images,
      trust: a.trust,
      ...(policy ? { policy } : policyFile !== undefined ? { policyFile } : {}),
      ...definedFields(a, ['registriesD']),
      ...(a.checkSignatures === false ? { integrityOnly: true } : {}),
    });
  }
  if (a.destination !== a.source) return shell.fail(new DsvError('Usage', `sign --all-tags signs every tag of ${a.source} in place: no DESTINATION (${a.destination})`));
  const { parseSignatureFormat, signatureFormatFromEnv } = await import('./environment.js');
  let format;
  try {
    format = a.format !== undefined ? parseSignatureFormat(a.format) : signatureFormatFromEnv(ctx.env) ?? 'embedded';
    if (format !== 'embedded') {
      if (a.dryRun) throw new DsvError('Usage', `--dry-run is not supported with --format ${format}`);
      if (a.platform) throw new DsvError('Usage', `--platform is not supported with --format ${format}: a detached signature signs the whole image manifest`);
      if (a.keyType !== undefined) throw new DsvError('Usage', `--key-type is for embedded signatures; --format ${format} takes ${format === 'cosign' ? 'a cosign key' : 'an OpenPGP key'} with --key`);
    } else if (a.signIdentity !== undefined || a.cosignBundle) {
      throw new DsvError('Usage', `${a.signIdentity !== undefined ? '--sign-identity' : '--cosign-bundle'} needs --format simple or cosign`);
    }
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sign', allTags: true, ok: false, error: errorJson(e) }));
  }
  if (format !== 'embedded') {
    const { detachedSignAllTags } = await import('./detached/sign-command.js');
    return detachedSignAllTags(ctx, shell, {
      ...common,
      repositories: [a.source],
      format,
      image: a.source,
      ...definedFields(a, ['key', 'passphraseFile', 'keypass', 'signIdentity', 'registriesD']),
      ...(a.cosignBundle ? { cosignBundle: true } : {}),
    });
  }
  let key;
  try {
    applyPkiFormat(ctx.signerSettings, a.pkiFormat);
    key = await shell.resolveKey(
      definedFields(a, KEY_FIELDS),
      '--key',
    );
  } catch (e) {
    return shell.fail(e, () => ({ command: 'sign', allTags: true, ok: false, error: errorJson(e) }));
  }
  return signAllTags(ctx, shell, { ...common, repositories: [a.source], key, dryRun: a.dryRun });
}

/** verify --policy / DSV_POLICY / --trust cosign:FILE: the detached-signature verify (undefined: not asked for). */
async function detachedVerify(ctx: CliContext, a: DsvVerifyArgs, shell: CommandShell): Promise<number | undefined> {
  const { policyFromEnv } = await import('./environment.js');
  const policyFile = a.policy ?? policyFromEnv(ctx.env);
  const cosign = a.trust.filter((t) => /^cosign:/i.test(t));
  const keyless = a.keyless ? firstKeylessFlag(a.keyless) : undefined;
  if (policyFile === undefined && cosign.length === 0 && !keyless) {
    if (a.signIdentity !== undefined) return shell.verifyFailed(a.images, new DsvError('Usage', '--sign-identity needs --trust cosign:FILE or the keyless flags (--certificate-identity, ...)'));
    return undefined;
  }
  const { runPolicyVerify, splitCosignTrust } = await import('./detached/verify-command.js');
  let keys: string[];
  try {
    if (keyless && a.policy === undefined && policyFile !== undefined) throw new DsvError('Usage', `${keyless} cannot be combined with a policy (DSV_POLICY); unset it, or put a sigstoreSigned fulcio requirement in the policy`);
    const split = splitCosignTrust(a.trust);
    if (keyless && split.other.length) throw new DsvError('Usage', `--trust ${split.other[0]} and ${keyless} cannot be combined (keyless verification judges cosign signatures only)`);
    if (policyFile !== undefined && a.trust.length) throw new DsvError('Usage', `--trust ${a.trust[0]} cannot be combined with a policy (${a.policy !== undefined ? '--policy' : 'DSV_POLICY'}); name every key in the policy file`);
    if (split.other.length) throw new DsvError('Usage', `--trust ${split.other[0]}: only cosign: keys can be given with --trust cosign: (or put every key in a --policy file)`);
    keys = split.cosign;
  } catch (e) {
    return shell.verifyFailed(a.images, e);
  }
  return runPolicyVerify(ctx, shell, a.images, {
    ...(policyFile !== undefined ? { policyFile } : {}),
    cosignKeys: keys,
    ...(a.keyless ? { keyless: a.keyless } : {}),
    ...definedFields(a, ['signIdentity', 'registriesD']),
    ...(a.platform ? { platform: a.platform } : {}),
  });
}

async function dsvInspect(ctx: CliContext, a: DsvInspectArgs, shell: CommandShell): Promise<number> {
  if (a.raw) {
    try {
      const bytes = await (await import('./inspect-raw.js')).inspectRawBytes(ctx, a.image, { config: a.raw === 'config', ...(a.platform ? { platform: a.platform } : {}) });
      shell.progress.clear();
      shell.io.stdout.write(bytes);
      return ExitCodes.Ok;
    } catch (e) {
      return shell.fail(e, () => ({ command: 'inspect', ok: false, input: a.image, error: errorJson(e) }));
    }
  }
  try {
    const verify = await createVerifyFunction(ctx, { trust: a.trust.filter((t) => !/^cosign:/i.test(t)) });
    const result = await runInspect(ctx, a.image, { verify, ...(a.platform ? { platform: a.platform } : {}) });
    // Every detached signature too (simple signing, cosign, Sigstore bundles).
    const { detachedStores } = await import('./detached/stores.js');
    const { detachedJson, formatDetachedText, listDetachedSignatures } = await import('./detached/inspect.js');
    const stores = await detachedStores(ctx, a.registriesD !== undefined ? { registriesD: a.registriesD } : {});
    let detached;
    try {
      detached = await listDetachedSignatures(ctx, stores, ctx.parseImage(a.image), { trust: a.trust });
    } finally {
      await stores.close();
    }
    shell.progress.clear();
    if (a.json) shell.writeJson({ ...inspectReportJson(a.image, result), detached: detachedJson(detached) });
    else shell.out.out(formatInspectText(result, { debug: a.debug }) + formatDetachedText(detached));
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ command: 'inspect', ok: false, input: a.image, error: errorJson(e) }));
  }
}
