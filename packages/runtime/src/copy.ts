/**
 * dsv-copy: copy images between transports, verifying every byte as it streams, optionally signing on the way,
 * keeping the embedded signatures they carry.
 *   dsv-copy [OPTIONS] SRC DEST          dsv-copy verify-same SRC DEST
 */
import { availableParallelism } from 'node:os';
import type { Argv } from 'yargs';
import { resolveImages, type CopyResult } from '@dsv/core/operations';
import { DsvError, isPlatformString, type Digest, type SignatureKind } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import { createContext, createVerifyFunction, type CliContext } from './context.js';
import { withRunResources } from './fleet/run-resources.js';
import { copyBetween } from './copy-between.js';
import type { CarryPlan, CarryReport, DetachedSigner } from './copy-signatures.js';
import type { DetachedStores } from './detached/stores.js';
import { layerLimitsOf, runVerify } from './commands.js';
import { applyPkiFormat, applySignerOpts, containerdFromFlags, policyFromEnv } from './environment.js';
import { ExitCodes, exitCodeForVerify } from './exit-codes.js';
import { processIo, type CliIo, type Output } from './io.js';
import { PROGRESS_OPTION, signatureTypeOption } from './options.js';
import { givenOptions, lastValue } from './argv-fields.js';
import type { ProgressMode } from './progress.js';
import { newYargs, type Parsed } from './parser.js';
import { errorJson, jsonReportText, verifyFailureLines } from './report.js';
import { CommandShell, shapeOutput } from './shell.js';
import { VERSION } from './version.js';
import { referencesHelp } from './transports.js';
import { decorateHelp, helpKey } from './help-examples.js';
import { commandsOf } from './suggest.js';
import { copyTlsArgs, copyTlsOptions, type TlsArgs } from './tls-flags.js';
import { authSystem, copyAuthFlagsOf, copyAuthOptions, credsSecretsInArgs, shellPrompt, type AuthFlags } from './auth/options.js';
import { writeDigestFile } from './auth/files.js';
import type { SystemContext } from '@dsv/core/transport';
import { timeoutArg, timeoutOption, timeoutSystem } from './timeout.js';
import { layerLimitOptions, layerLimitSystem } from './layer-limit-options.js';

export const DEFAULT_JOBS = Math.max(2, Math.min(8, availableParallelism() * 2));

const HELP = `Copies an image between any two places, hashing every byte on the way; a mismatch aborts before DEST changes.

${referencesHelp()} docker:// is the default without a prefix; docker-storage: is a source only.

Multi-platform images: the whole list/index is copied by default (like skopeo copy --all), because silently dropping platforms surprises users; --platform os/arch[/variant] copies that one image only.
A plain copy checks every blob's digest and size (as skopeo does); --verify also inflates every layer and checks it against the config's diff_ids, all before DEST changes.
Unsigned and unchanged, the manifest is copied byte for byte (same digest at DEST). Embedded signatures travel with the config; --sign-by adds one, --remove-signatures strips them (that changes the image and its digest).
Detached signatures travel too, as with skopeo copy: simple signatures (lookaside or extension API, per registries.d) to docker:// destinations, cosign .sig attachments and referrers to docker:// and oci:; --remove-signatures carries none. --sign-by KEY --format simple|cosign adds one without changing the image. --policy FILE copies only a source the policy accepts.
Exit codes: 0 ok; 1 integrity failure; 2 usage or input error; 3 operational failure.`;

/** What `dsv copy` and `dsv copy verify-same` both take (TlsArgs: --src-/--dest-tls-verify and --src-/--dest-cert-dir). */
export interface CopyCommonArgs extends TlsArgs {
  /** --progress auto|bar|plain|none. */
  progress?: ProgressMode;
  /** -q/--quiet: only errors and the verdict line. */
  quiet?: boolean;
  source: string;
  destination: string;
  platform?: string;
  json: boolean;
  insecureRegistries: string[];
  debug: boolean;
  /** --authfile / --src-* / --dest-* registry credentials. */
  auth?: { source: AuthFlags; destination: AuthFlags };
  /** --timeout: deadline of each network request, in ms. */
  timeoutMs?: number;
  /** --max-layer-size / --max-layer-ratio, as SystemContext fields. */
  layerLimits?: { maxLayerBytes?: number; maxLayerRatio?: number };
  /** --namespace / --address: containerd's, for `containerd:` references without brackets. */
  namespace?: string;
  address?: string;
}
export interface CopyArgs extends CopyCommonArgs {
  command: 'copy';
  /** --signer-opt [TYPE:]KEY=VALUE for --sign-by. */
  signerOpts?: string[];
  signBy?: string;
  keyType?: string;
  passphraseFile?: string;
  /** --pki-format legacy|v2 for --sign-by. */
  pkiFormat?: string;
  signatureType: SignatureKind;
  removeSignatures: boolean;
  /** --verify: also prove every layer against the config's rootfs.diff_ids before DEST changes. */
  verify: boolean;
  /** --format for --sign-by: embedded (in the config; changes the image) or a detached simple / cosign signature. */
  format: SignFormat;
  /** --sign-identity: the reference a detached signature claims (default DEST). */
  signIdentity?: string;
  /** --registries.d DIR: where simple signatures are read and written. */
  registriesD?: string;
  /** --policy FILE: the source must be accepted before anything is written. */
  policy?: string;
  all: boolean;
  dryRun: boolean;
  jobs: number;
  retryTimes?: number;
  /** --digestfile FILE: the digest of the manifest written to DEST. */
  digestFile?: string;
}
export interface VerifySameArgs extends CopyCommonArgs {
  command: 'verify-same';
}
export type SignFormat = 'embedded' | 'simple' | 'cosign';
const SIGN_FORMATS: readonly SignFormat[] = ['embedded', 'simple', 'cosign'];
export type ParsedCopy = Parsed<CopyArgs | VerifySameArgs>;

const asList = (v: unknown): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const one = lastValue;

export function copyParser(scriptName = 'dsv-copy'): Argv {
  return copyTlsOptions(copyAuthOptions(newYargs()))
    .scriptName(scriptName)
    .usage(`$0 [options] SRC DEST\n$0 verify-same SRC DEST\n\n${HELP}`)
    .exitProcess(false)
    .strict()
    .parserConfiguration({ 'dot-notation': false })
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Diagnostics on stderr' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable summary on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only errors and the verdict line' })
    .option('progress', PROGRESS_OPTION)
    .option('insecure-registry', { type: 'string', array: true, describe: 'Allow plain HTTP / unverified TLS for HOST[:PORT] (repeatable)' })
    .option('platform', { type: 'string', describe: 'Copy only this platform of a list/index: os/arch[/variant]' })
    .option('digestfile', { type: 'string', describe: 'Write the digest of the manifest written to DEST to this file' })
    .option('timeout', timeoutOption())
    .options(layerLimitOptions())
    .option('namespace', { type: 'string', describe: 'containerd namespace of containerd: references without brackets [env CONTAINERD_NAMESPACE, default default]' })
    .option('address', { type: 'string', describe: 'containerd socket for containerd: references [env CONTAINERD_ADDRESS, default /run/containerd/containerd.sock]' })
    .command('$0 <source> <destination>', 'Copy SRC to DEST', (y) =>
      y
        .option('sign-by', { type: 'string', describe: 'Sign with this key on the way (GnuPG key id / key file, PKI key file, plugin key)' })
        .option('key-type', { alias: 't', type: 'string', describe: 'Signature type for --sign-by: gpg, pki or a plugin type [env DSV_KEYTYPE]' })
        .option('passphrase-file', { type: 'string', describe: 'Passphrase for --sign-by [env DSV_KEYPASS; prompted on a terminal]' })
        .option('pki-format', { type: 'string', describe: 'PKI signature armour for --sign-by: legacy (docker-sign-verify\'s) or v2 [env DSV_PKI_FORMAT]' })
        .option('signature-type', signatureTypeOption('sign (co-sign), endorse (countersign) or resign (replace all signatures)'))
        .option('signer-opt', { type: 'string', describe: 'A setting for the --sign-by signer plugin, [TYPE:]KEY=VALUE (repeatable)' })
        .option('format', { type: 'string', describe: 'Signature format for --sign-by: embedded (default; in the image config, changes the image), simple or cosign (detached; the image is unchanged)' })
        .option('sign-identity', { type: 'string', describe: 'Identity a detached signature claims (default: DEST)' })
        .option('remove-signatures', { type: 'boolean', default: false, describe: 'Strip embedded signatures (changes the image) and carry no detached ones' })
        .option('registries.d', { type: 'string', describe: 'registries.d directory naming lookaside stores [default ~/.config/containers/registries.d, then /etc/containers/registries.d]' })
        .option('policy', { type: 'string', describe: 'Copy only if this containers-policy.json accepts the source (judged before anything is written) [env DSV_POLICY]' })
        .option('verify', { type: 'boolean', default: false, describe: 'Full integrity before DEST changes: also inflate every layer and check it against the config\'s rootfs.diff_ids' })
        .option('all', { alias: 'a', type: 'boolean', default: true, describe: 'Copy every platform of a list/index (default; --no-all with --platform)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Read and check everything, write nothing; print what would be written' })
        .option('jobs', { alias: 'j', type: 'number', default: DEFAULT_JOBS, describe: 'Blobs transferred in parallel' })
        .option('retry-times', { type: 'number', describe: 'Retries for transient network failures (default 3)' }),
    )
    .command('verify-same <source> <destination>', 'Are SRC and DEST the same image (same config digest per platform), even with different manifests?')
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

export async function parseCopyArgs(args: string[], scriptName?: string): Promise<ParsedCopy> {
  let err: string | undefined;
  let output = '';
  const parser = copyParser(scriptName);
  const argv = (await parser.parseAsync(args, {}, (e: Error | undefined, _a: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  if (err) return { kind: 'error', message: err };
  if (argv.help) return { kind: 'output', text: decorateHelp(output, helpKey(scriptName ?? 'dsv-copy', argv._ as unknown[], commandsOf(parser))) };
  if (argv.version) return { kind: 'output', text: output.endsWith('\n') ? output : `${output}\n` };
  const platform = one(argv.platform);
  if (platform !== undefined && !isPlatformString(platform)) return { kind: 'error', message: `invalid --platform "${platform}": expected os/arch[/variant]` };
  let limits: ReturnType<typeof layerLimitSystem>;
  try {
    limits = layerLimitSystem(argv);
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  const common = {
    ...(argv.quiet === true ? { quiet: true } : {}),
    ...(argv.progress !== undefined ? { progress: argv.progress as ProgressMode } : {}),
    json: argv.json === true,
    debug: argv.debug === true,
    insecureRegistries: asList(argv.insecureRegistry),
    ...copyTlsArgs(argv, String(argv.source), String(argv.destination)),
    source: String(argv.source),
    destination: String(argv.destination),
    ...(platform ? { platform } : {}),
    auth: copyAuthFlagsOf(argv),
    ...(timeoutArg(argv.timeout) !== undefined ? { timeoutMs: timeoutArg(argv.timeout)! } : {}),
    ...(Object.keys(limits).length ? { layerLimits: limits } : {}),
    ...givenOptions(argv, ['namespace', 'address']),
  };
  if ((argv._ as unknown[])[0] === 'verify-same') return { kind: 'run', args: { ...common, command: 'verify-same' } };
  const kind = (argv.signatureType as SignatureKind | undefined) ?? 'sign';
  const jobs = Number(one(argv.jobs) ?? DEFAULT_JOBS);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) return { kind: 'error', message: `invalid --jobs "${one(argv.jobs)}": a whole number from 1 to 64` };
  const retry = one(argv.retryTimes);
  if (retry !== undefined && !/^\d+$/.test(retry)) return { kind: 'error', message: `invalid --retry-times "${retry}": a whole number` };
  const all = argv.all !== false;
  if (!all && !platform) return { kind: 'error', message: '--no-all needs --platform os/arch[/variant] to say which image to copy' };
  const signBy = one(argv.signBy);
  const format = (one(argv.format) ?? 'embedded').toLowerCase() as SignFormat;
  if (!SIGN_FORMATS.includes(format)) return { kind: 'error', message: `invalid --format "${one(argv.format)}": embedded, simple or cosign` };
  if (format !== 'embedded' && signBy === undefined) return { kind: 'error', message: `--format ${format} signs: it needs --sign-by KEY` };
  const signIdentity = one(argv.signIdentity);
  if (signIdentity !== undefined && format === 'embedded') return { kind: 'error', message: '--sign-identity names the identity of a detached signature: use it with --format simple or cosign' };
  if (argv.removeSignatures === true && signBy !== undefined && kind !== 'resign' && format === 'embedded') {
    return { kind: 'error', message: '--remove-signatures with --sign-by: use --signature-type resign to replace all signatures with a new one' };
  }
  const a: CopyArgs = {
    ...common,
    command: 'copy',
    signatureType: kind,
    removeSignatures: argv.removeSignatures === true,
    verify: argv.verify === true,
    format,
    all,
    dryRun: argv.dryRun === true,
    jobs,
    ...givenOptions(argv, ['signBy', 'keyType', 'passphraseFile', 'pkiFormat', 'digestFile', 'signIdentity', 'registriesD', 'policy'], { digestFile: 'digestfile', registriesD: 'registries.d' }),
  };
  if (argv.signerOpt !== undefined) a.signerOpts = ([] as unknown[]).concat(argv.signerOpt).map(String);
  if (retry !== undefined) a.retryTimes = Number(retry);
  return { kind: 'run', args: a };
}

/** A cross-repository mount source when both ends are repositories of the same registry. */
function mountSource(src: ImageReference, dst: ImageReference): ImageReference | undefined {
  if (src.transport.name !== 'docker' || dst.transport.name !== 'docker') return undefined;
  const host = (r: ImageReference) => r.within.replace(/^\/\//, '').split('/')[0];
  return host(src) === host(dst) ? src : undefined;
}

/** How `dsv copy` runs the copy job beyond its arguments. */
export interface CopyMainOptions {
  /** Check every blob before DEST changes (the original's `dsv copy SRC DEST`). */
  verify?: boolean;
  /** Also check the embedded signatures (trusted keys as for verify) before DEST changes. */
  checkSignatures?: boolean;
}

export async function copyMain(args: string[], io: CliIo = processIo(), prog = 'dsv-copy', opts: CopyMainOptions = {}): Promise<number> {
  const parsed = await parseCopyArgs(args, prog);
  if (parsed.kind === 'run' && parsed.args.quiet) {
    // -q/--quiet: errors and the verdict line only (as dsv -q).
    const shaped = shapeOutput(io, 'quiet', parsed.args.json);
    try {
      return await copyMain(args.filter((a) => a !== '-q' && a !== '--quiet'), shaped.io, prog, opts);
    } finally {
      shaped.flush();
    }
  }
  const shell = new CommandShell(io, { prog, secrets: credsSecretsInArgs(args), ...(parsed.kind === 'run' ? { json: parsed.args.json, debug: parsed.args.debug, ...(parsed.args.progress ? { progress: parsed.args.progress } : {}) } : {}) });
  if (parsed.kind !== 'run') return shell.parseEnded(parsed);
  const out = shell.out;
  const a = parsed.args;
  // DSV_POLICY gates copies as it gates verify (--policy wins).
  if (a.command === 'copy' && a.policy === undefined) {
    const fromEnv = policyFromEnv(io.env);
    if (fromEnv !== undefined) a.policy = fromEnv;
  }
  try {
    const ctx = await createContext(
      shell.contextOptions({
        insecureRegistries: a.insecureRegistries,
        tlsUnverified: a.tlsUnverified ?? [],
        certDirs: a.certDirs ?? [],
        system: { ...containerdFromFlags(a), ...timeoutSystem(a.timeoutMs), ...(a.layerLimits ?? {}) },
        references: [a.source, a.destination],
        signers: a.command === 'copy' && ((a.signBy !== undefined && a.format === 'embedded') || opts.checkSignatures === true || a.policy !== undefined),
      }),
    );
    if (a.command === 'copy' && a.retryTimes !== undefined) ctx.system.retryTimes = a.retryTimes;
    const sides = await copySides(ctx.system, a, shell);
    const code = a.command === 'verify-same' ? await verifySame(ctx, a, out, sides) : await copy(ctx, a, shell, opts, sides);
    shell.progress.clear();
    return code;
  } catch (e) {
    return shell.fail(e, () => ({ command: a.command, ok: false, error: errorJson(e) }));
  }
}

/** Each side's SystemContext: its auth files and credentials (--src-* / --dest-*, --authfile, the environment). */
async function copySides(system: SystemContext, a: CopyArgs | VerifySameArgs, shell: CommandShell): Promise<{ source: SystemContext; destination: SystemContext }> {
  const flags = a.auth ?? { source: {}, destination: {} };
  const prompt = shellPrompt(shell);
  const source = { ...system, ...(await authSystem(shell.io.env, flags.source, prompt, { creds: '--src-creds' })) };
  const destination = { ...system, ...(await authSystem(shell.io.env, flags.destination, prompt, { creds: '--dest-creds' })) };
  return { source, destination };
}

async function copy(context: CliContext, a: CopyArgs, shell: CommandShell, opts: CopyMainOptions, given: { source: SystemContext; destination: SystemContext }): Promise<number> {
  // One registry client per registry and configuration for the whole command: the signature lookups and the
  // copy met the source registry five times (an HTTPS probe and a /v2/ ping each) before its first blob.
  return withRunResources(
    context,
    (ctx) => {
      const run = ctx.system.runResources;
      return copyIn(ctx, a, shell, opts, { source: { ...given.source, runResources: run }, destination: { ...given.destination, runResources: run } });
    },
    { governor: false },
  );
}

async function copyIn(ctx: CliContext, a: CopyArgs, shell: CommandShell, opts: CopyMainOptions, sides: { source: SystemContext; destination: SystemContext }): Promise<number> {
  const srcRef = ctx.parseImage(a.source);
  const dstRef = ctx.parseImage(a.destination);
  // Signature stores reach both registries through one context: each registry gets its side's credentials.
  const registryOf = (r: ImageReference) => (r.transport.name === 'docker' ? (r as unknown as { registry?: string }).registry : undefined);
  const registryAuth: Record<string, NonNullable<SystemContext['registryAuth']>[string]> = {};
  for (const [ref, sys] of [[srcRef, sides.source], [dstRef, sides.destination]] as const) {
    const reg = registryOf(ref);
    if (reg) registryAuth[reg] = { ...(sys.credentialsFiles ? { credentialsFiles: sys.credentialsFiles } : {}), ...(sys.registryCredentials ? { registryCredentials: sys.registryCredentials } : {}) };
  }
  ctx = { ...ctx, system: { ...ctx.system, registryAuth } };
  const detached = await openDetached(ctx, a, srcRef, dstRef);
  try {
    return await copyWithSignatures(ctx, a, shell, opts, srcRef, dstRef, detached, sides);
  } finally {
    await detached.stores?.close();
  }
}

/** The detached-signature side of a copy: the stores (when any is needed) and the --policy file. */
interface Detached {
  stores?: DetachedStores;
  /** copy-signatures.ts, loaded only when signatures are carried, added or judged. */
  sigs?: typeof import('./copy-signatures.js');
}

async function openDetached(ctx: CliContext, a: CopyArgs, src: ImageReference, dst: ImageReference): Promise<Detached> {
  const carries = !a.removeSignatures && (src.transport.name === 'docker' || src.transport.name === 'oci');
  if (!carries && a.format === 'embedded' && a.policy === undefined) return {};
  const { detachedStores } = await import('./detached/stores.js');
  const d: Detached = { stores: await detachedStores(ctx, a.registriesD !== undefined ? { registriesD: a.registriesD } : {}), sigs: await import('./copy-signatures.js') };
  if (dst.transport.name === 'docker') ctx.debug(`registries.d: ${d.stores!.registries.dir ?? 'none found'}`);
  return d;
}

async function copyWithSignatures(
  ctx: CliContext, a: CopyArgs, shell: CommandShell, opts: CopyMainOptions, srcRef: ImageReference, dstRef: ImageReference, detached: Detached,
  sides: { source: SystemContext; destination: SystemContext },
): Promise<number> {
  const out = shell.out;
  const { stores, sigs } = detached;
  if (a.policy !== undefined && stores) {
    // The source judged by the policy before anything is read for the copy or written.
    const { judgeImage, loadPolicy } = await import('./detached/policy.js');
    const { formatVerdict } = await import('@dsv/policy');
    const verdict = await judgeImage(ctx, srcRef, await loadPolicy(a.policy), { stores, ...(a.platform ? { platform: a.platform } : {}) });
    shell.progress.clear();
    if (!verdict.allowed) {
      for (const line of formatVerdict(verdict).split('\n')) out.err(`${out.prog}: ${line.trim()}\n`);
      out.err(`${out.prog}: error: ${srcRef.toString()} not copied: rejected by policy ${a.policy}\n`);
      if (a.json) out.out(jsonReportText({ command: 'copy', ok: false, source: srcRef.toString(), destination: dstRef.toString(), policy: verdict }));
      return ExitCodes.NotTrusted;
    }
    if (!a.json) out.out(`Source accepted by policy ${a.policy} (${verdict.scope})\n`);
  }
  let detachedSign: { signer: DetachedSigner; identity: string } | undefined;
  if (a.signBy !== undefined && a.format !== 'embedded' && stores && sigs) {
    const { checkSimpleStore, detachedSigner, dockerName, identityOf } = sigs;
    if (a.format === 'simple' && dstRef.transport.name !== 'docker') throw new DsvError('Usage', `--format simple: ${dstRef.toString()} has no signature store; simple signatures go with docker:// destinations`);
    if (a.format === 'cosign' && !['docker', 'oci'].includes(dstRef.transport.name)) throw new DsvError('Usage', `--format cosign: ${dstRef.toString()} cannot hold a .sig attachment (docker:// and oci: destinations can)`);
    if (a.signIdentity === undefined && dstRef.transport.name !== 'docker') throw new DsvError('Usage', `--format ${a.format}: DEST ${dstRef.toString()} is not a registry reference; say which identity to sign with --sign-identity REF`);
    const identity = identityOf(a.signIdentity ?? dockerName(dstRef));
    if (a.format === 'simple') await checkSimpleStore(stores, dstRef, 'cannot store the new simple signature');
    const key = await shell.resolveKey({ key: a.signBy, ...(a.passphraseFile ? { passphraseFile: a.passphraseFile } : {}) }, '--sign-by');
    detachedSign = { signer: await detachedSigner(ctx, a.format, key.key, key.passphrase), identity };
    ctx.debug(`signing the copy at DEST with a ${a.format} signature claiming ${identity}`);
  }
  const plan: CarryPlan = stores && sigs && !a.removeSignatures ? await sigs.planCarry(ctx, stores, srcRef, dstRef, a.platform) : { found: [] };
  if (opts.checkSignatures) {
    // Integrity and signatures of the source, judged as `dsv verify` does, before anything is written.
    const verify = await createVerifyFunction(ctx);
    const checked = await runVerify({ ...ctx, system: sides.source }, srcRef, { verify, ...(a.platform ? { platform: a.platform } : {}) });
    shell.progress.clear();
    if (!checked.ok) {
      for (const line of verifyFailureLines(checked)) out.err(`${out.prog}: error: ${line}\n`);
      out.err(`${out.prog}: error: ${srcRef.toString()} not copied: not verified\n`);
      if (a.json) out.out(jsonReportText({ command: 'copy', ok: false, source: srcRef.toString(), destination: dstRef.toString(), failures: checked.failures }));
      return exitCodeForVerify(checked);
    }
    if (!a.json) out.out(`Source verified: ${srcRef.toString()} (${checked.digest})\n`);
  }
  applyPkiFormat(ctx.signerSettings, a.pkiFormat);
  let sign: { signer: ReturnType<ReturnType<CliContext['signers']['get']>['createSigner']>; kind: SignatureKind } | undefined;
  if (a.signBy !== undefined && a.format === 'embedded') {
    const key = await shell.resolveKey({ key: a.signBy, ...(a.keyType ? { keyType: a.keyType } : {}), ...(a.passphraseFile ? { passphraseFile: a.passphraseFile } : {}) }, '--sign-by');
    const plugin = ctx.signers.get(key.keyType);
    applySignerOpts(ctx.signerSettings, a.signerOpts ?? [], [plugin.type]);
    const settings = ctx.signerSettings[plugin.type];
    // Not awaited: the key (and the signer's crypto code) loads while the copy starts; copyImage waits for it
    // only to sign, and stops when it fails (bench/NOTES.md §14).
    const signer = plugin.createSigner({ key: key.key, passphrase: key.passphrase, ...(settings && Object.keys(settings).length ? { settings } : {}) });
    sign = { signer, kind: a.signatureType };
    signer.then(
      (s) => s.describeKey().then((info) => ctx.debug(`signing with ${info.type} key ${info.keyId}${info.identity ? ` (${info.identity})` : ''}`), () => undefined),
      () => undefined,
    );
  }
  const mountFrom = mountSource(srcRef, dstRef);
  if (mountFrom) ctx.debug(`same registry: blobs are mounted from ${mountFrom.toString()}`);
  const result = await copyBetween(
    srcRef,
    dstRef,
    sides.source,
    {
      ...layerLimitsOf(ctx.system),
      ...(sign ? { sign } : {}),
      removeSignatures: a.removeSignatures,
      ...(opts.verify || a.verify || detachedSign ? { verify: true } : {}),
      ...(a.platform ? { platform: a.platform } : {}),
      jobs: a.jobs,
      dryRun: a.dryRun,
      ...(mountFrom ? { mountFrom } : {}),
      ...(ctx.system.onProgress ? { onProgress: ctx.system.onProgress } : {}),
      debug: ctx.debug,
    },
    { destinationSystem: sides.destination },
  );
  if (a.digestFile !== undefined && !result.dryRun) await writeDigestFile(a.digestFile, result.destinationDigest);
  // Signatures bind manifest digests: they travel only where the copy kept the digest.
  const kept = new Map<Digest, Digest>(result.images.map((i) => [i.sourceManifestDigest, i.manifestDigest]));
  kept.set(result.sourceDigest, result.destinationDigest);
  const after = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (e) {
      const err = e instanceof DsvError ? e : new DsvError('IoError', String((e as Error)?.message ?? e));
      throw new DsvError(err.code, `${dstRef.toString()} was copied (${result.destinationDigest}) but ${what} failed: ${err.message}`, err.details, { cause: err });
    }
  };
  const carried: CarryReport = stores && sigs && plan.found.length > 0
    ? await after('carrying its signatures', () => sigs.carrySignatures(ctx, stores, plan, srcRef, dstRef, kept, a.dryRun))
    : { simple: 0, cosign: 0, referrers: 0, skipped: [] };
  let added: string | undefined;
  if (detachedSign && stores && !a.dryRun) {
    const { signer, identity } = detachedSign;
    added = await after(`signing it (${a.format})`, () => signer.signAndStore(stores, dstRef, identity, result.destinationDigest));
  }
  const signatures = { carried, ...(detachedSign ? { added: { format: a.format, identity: detachedSign.identity, digest: result.destinationDigest, ...(added ? { stored: added } : {}) } } : {}) };
  if (a.json) {
    out.out(jsonReportText({ command: 'copy', ok: true, source: srcRef.toString(), destination: dstRef.toString(), ...summary(result), signatures }));
  } else {
    out.out(formatCopy(srcRef.toString(), dstRef.toString(), result, a));
    out.out(formatSignatures(a, carried, detachedSign ? { identity: detachedSign.identity, digest: result.destinationDigest, ...(added ? { stored: added } : {}) } : undefined));
  }
  return ExitCodes.Ok;
}

function summary(r: CopyResult) {
  return {
    dryRun: r.dryRun,
    kind: r.kind,
    sourceDigest: r.sourceDigest,
    destinationDigest: r.destinationDigest,
    sameDigest: r.sourceDigest === r.destinationDigest,
    images: r.images.map((i) => ({
      platform: i.platform ?? null,
      sourceManifestDigest: i.sourceManifestDigest,
      manifestDigest: i.manifestDigest,
      sourceConfigDigest: i.sourceConfigDigest,
      configDigest: i.configDigest,
      signed: i.signature ? { digest: i.signature.digest } : null,
      blobsCopied: i.blobsCopied,
      blobsSkipped: i.blobsSkipped,
      bytesCopied: i.bytesCopied,
    })),
  };
}

function formatCopy(src: string, dst: string, r: CopyResult, a: CopyArgs): string {
  const lines = [`${r.dryRun ? 'Would copy' : 'Copied'} ${src} -> ${dst}`];
  for (const i of r.images) {
    const p = i.platform ? `${i.platform}: ` : '';
    lines.push(
      `  ${p}manifest ${i.manifestDigest}${i.manifestDigest === i.sourceManifestDigest ? ' (unchanged)' : ` (was ${i.sourceManifestDigest})`}, ` +
        `${i.blobsCopied} blob(s) copied, ${i.blobsSkipped} already present${i.signature ? ', signed' : ''}`,
    );
  }
  if (r.kind === 'index') lines.push(`  index ${r.destinationDigest}${r.destinationDigest === r.sourceDigest ? ' (unchanged)' : ` (was ${r.sourceDigest})`}`);
  if (a.removeSignatures) lines.push('  signatures removed: the image (and its digest) changed');
  return `${lines.join('\n')}\n`;
}

function formatSignatures(a: CopyArgs, c: CarryReport, added?: { identity: string; digest: Digest; stored?: string }): string {
  const lines: string[] = [];
  const verb = a.dryRun ? 'would carry' : 'carried';
  if (c.simple + c.cosign + c.referrers > 0) lines.push(`  signatures ${verb}: ${c.simple} simple, ${c.cosign} cosign (.sig), ${c.referrers} referrer(s)`);
  for (const s of c.skipped) lines.push(`  ${s.count} detached signature(s) of ${s.digest} not carried: the copy changed that manifest, so they would not verify`);
  if (a.removeSignatures) lines.push('  detached signatures: none carried (--remove-signatures)');
  if (added) lines.push(`  ${a.dryRun ? 'would sign' : 'signed'} (${a.format}) ${added.digest} as ${added.identity}${added.stored ? `: ${added.stored}` : ''}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

interface SideImages {
  digest: Digest;
  byPlatform: Map<string, { manifestDigest: Digest; configDigest: Digest }>;
}

async function describeSide(ctx: CliContext, ref: ImageReference, platform?: string, system: SystemContext = ctx.system): Promise<SideImages> {
  const source = await ref.newSource(system);
  try {
    const { top, images } = await resolveImages(source, platform ? { platform } : {});
    const byPlatform = new Map<string, { manifestDigest: Digest; configDigest: Digest }>();
    for (const img of images) {
      const p = img.platform ?? (img.config.platform.os ? `${img.config.platform.os}/${img.config.platform.architecture}${img.config.platform.variant ? `/${img.config.platform.variant}` : ''}` : 'unknown');
      if (byPlatform.has(p)) throw new DsvError('ManifestInvalid', `${ref.toString()}: two images for platform ${p}`);
      byPlatform.set(p, { manifestDigest: img.manifest.digest, configDigest: img.config.digest });
    }
    return { digest: top.digest, byPlatform };
  } finally {
    await source.close();
  }
}

/** The seed-004 check: the same images (config digests, per platform), whatever the manifests look like. */
async function verifySame(ctx: CliContext, a: VerifySameArgs, out: Output, sides: { source: SystemContext; destination: SystemContext }): Promise<number> {
  const srcRef = ctx.parseImage(a.source);
  const dstRef = ctx.parseImage(a.destination);
  const [left, right] = await Promise.all([describeSide(ctx, srcRef, a.platform, sides.source), describeSide(ctx, dstRef, a.platform, sides.destination)]);
  const platforms = [...new Set([...left.byPlatform.keys(), ...right.byPlatform.keys()])].sort();
  const rows = platforms.map((p) => {
    const l = left.byPlatform.get(p);
    const r = right.byPlatform.get(p);
    const same = Boolean(l && r && l.configDigest === r.configDigest);
    return { platform: p, same, source: l ?? null, destination: r ?? null };
  });
  const ok = rows.length > 0 && rows.every((r) => r.same);
  if (a.json) {
    out.out(jsonReportText({ command: 'verify-same', ok, source: { reference: srcRef.toString(), digest: left.digest }, destination: { reference: dstRef.toString(), digest: right.digest }, platforms: rows }));
  } else {
    out.out(`${srcRef.toString()} (${left.digest})\n${dstRef.toString()} (${right.digest})\n`);
    for (const r of rows) {
      if (r.same) out.out(`  ${r.platform}: same image, config ${r.source!.configDigest}\n`);
      else if (!r.source || !r.destination) out.out(`  ${r.platform}: only in ${r.source ? 'the source' : 'the destination'}\n`);
      else out.out(`  ${r.platform}: DIFFERENT: config ${r.source.configDigest} vs ${r.destination.configDigest}\n`);
    }
    out.out(ok ? 'SAME: every platform has the same config digest\n' : 'DIFFERENT\n');
  }
  return ok ? ExitCodes.Ok : ExitCodes.NotTrusted;
}
