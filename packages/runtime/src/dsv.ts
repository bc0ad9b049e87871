/**
 * dsv: the modern command line, with transport-prefixed references.
 *   dsv sign SRC [DEST]   dsv verify IMAGE...   dsv inspect IMAGE   dsv copy …   dsv docker-plugin install|uninstall
 */
import type { Argv } from 'yargs';
import { isPlatformString, type SignatureKind } from '@dsv/core';
import { signatureTypeOption } from './options.js';
import { createContext, createVerifyFunction, type CliContext } from './context.js';
import { newYargs } from './parser.js';
import { runInspect, runVerify } from './commands.js';
import { ExitCodes } from './exit-codes.js';
import { processIo, type CliIo } from './io.js';
import { errorJson, formatInspectText, inspectReportJson } from './report.js';
import { CommandShell } from './shell.js';
import { VERSION } from './version.js';
import { referencesHelp } from './transports.js';
import type { PluginLaunchers } from './docker-plugin/install.js';

export interface DsvCommonArgs {
  debug: boolean;
  json: boolean;
  insecureRegistries: string[];
  platform?: string;
}
export interface DsvSignArgs extends DsvCommonArgs {
  command: 'sign';
  source: string;
  destination: string;
  key?: string;
  keyType?: string;
  passphraseFile?: string;
  signatureType: SignatureKind;
  dryRun: boolean;
}
export interface DsvVerifyArgs extends DsvCommonArgs {
  command: 'verify';
  images: string[];
  trust: string[];
}
export interface DsvInspectArgs extends DsvCommonArgs {
  command: 'inspect';
  image: string;
  trust: string[];
}
export interface DsvCopyArgs extends DsvCommonArgs {
  command: 'copy';
  rest: string[];
}
export type DsvArgs = DsvSignArgs | DsvVerifyArgs | DsvInspectArgs | DsvCopyArgs;

export type ParsedDsv = { kind: 'run'; args: DsvArgs } | { kind: 'output'; text: string } | { kind: 'error'; message: string };

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
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Diagnostics on stderr: digests, layers, signatures, stack traces' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable report on stdout' })
    .option('insecure-registry', { type: 'string', describe: 'Allow plain HTTP / unverified TLS for HOST[:PORT] (repeatable; also DSV_INSECURE_REGISTRIES)' })
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
      y
        .option('key', { alias: 'k', type: 'string', describe: 'Signing key: GnuPG key id / fingerprint / key file, PKI key file, or a plugin key [env DSV_KEYID]' })
        .option('key-type', { alias: 't', type: 'string', describe: 'Signature type: gpg, pki or a plugin type [env DSV_KEYTYPE, default gpg]' })
        .option('passphrase-file', { type: 'string', describe: 'Read the key passphrase from this file [env DSV_KEYPASS; prompted on a terminal]' })
        .option('signature-type', signatureTypeOption('sign (co-sign), endorse (countersign) or resign (replace all signatures)'))
        .option('dry-run', { type: 'boolean', default: false, describe: 'Do everything but write; print what would be written' }),
    )
    .command('verify <images..>', 'Check every blob and every embedded signature; exit 0 only when all hold and a trusted key signed', (y) =>
      y.option('trust', { type: 'string', describe: 'Trusted key / certificate file, [TYPE:]FILE (repeatable; also DSV_TRUST)' }),
    )
    .command('inspect <image>', 'Show the digests and who signed what, without judging trust', (y) =>
      y.option('trust', { type: 'string', describe: 'Key / certificate files used to name signers, [TYPE:]FILE' }),
    )
    .command('copy', 'Copy an image between transports with its signatures, verifying as it streams (dsv-copy; see dsv copy --help)', (y) => y.strict(false))
    .command('docker-plugin', 'Install or uninstall `docker sign` / `docker verify` as Docker CLI plugins (dsv docker-plugin --help)', (y) => y.strict(false))
    .demandCommand(1, 'missing command: sign, verify or inspect')
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

export async function parseDsvArgs(args: string[]): Promise<ParsedDsv> {
  let err: string | undefined;
  let output = '';
  const argv = (await dsvParser().parseAsync(args, {}, (e: Error | undefined, _a: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  if (err) return { kind: 'error', message: err };
  if (argv.help || argv.version) return { kind: 'output', text: output.endsWith('\n') ? output : `${output}\n` };
  const common: DsvCommonArgs = {
    debug: argv.debug === true,
    json: argv.json === true,
    insecureRegistries: asList(argv.insecureRegistry),
  };
  if (typeof argv.platform === 'string') common.platform = argv.platform;
  const cmd = String((argv._ as unknown[])[0]);
  const one = (v: unknown) => (Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v));
  switch (cmd) {
    case 'sign': {
      const a: DsvSignArgs = {
        ...common,
        command: 'sign',
        source: String(argv.source),
        destination: one(argv.destination) ?? String(argv.source),
        signatureType: (one(argv.signatureType) ?? 'sign') as SignatureKind,
        dryRun: argv.dryRun === true,
      };
      const key = one(argv.key);
      if (key !== undefined) a.key = key;
      const keyType = one(argv.keyType);
      if (keyType !== undefined) a.keyType = keyType;
      const pf = one(argv.passphraseFile);
      if (pf !== undefined) a.passphraseFile = pf;
      return { kind: 'run', args: a };
    }
    case 'verify':
      return { kind: 'run', args: { ...common, command: 'verify', images: (argv.images as unknown[]).map(String), trust: asList(argv.trust) } };
    case 'inspect':
      return { kind: 'run', args: { ...common, command: 'inspect', image: String(argv.image), trust: asList(argv.trust) } };
    case 'copy':
      return { kind: 'run', args: { ...common, command: 'copy', rest: (argv._ as unknown[]).slice(1).map(String) } };
    default:
      return { kind: 'error', message: `unknown command "${cmd}" (sign, verify, inspect)` };
  }
}

/** What `dsv` needs from the app that runs it. */
export interface DsvOptions {
  /** Builds the context (tests inject their own). */
  contextFactory?: typeof createContext;
  /** The Docker CLI plugin launchers `dsv docker-plugin install` writes (the app's own bin/ files). */
  pluginLaunchers?: PluginLaunchers;
}

/** `dsv copy …` and `dsv docker-plugin …`: runtime jobs, loaded only when used. */
async function runNested(name: 'copy' | 'docker-plugin', rest: string[], io: CliIo, opts: DsvOptions): Promise<number> {
  if (name === 'copy') return (await import('./copy.js')).copyMain(rest, io, 'dsv copy');
  const { dockerPluginCommand } = await import('./docker-plugin/docker-plugin-command.js');
  return dockerPluginCommand(rest, io, opts.pluginLaunchers);
}

export async function dsvMain(args: string[], io: CliIo = processIo(), opts: DsvOptions | typeof createContext = {}): Promise<number> {
  const options: DsvOptions = typeof opts === 'function' ? { contextFactory: opts } : opts;
  const contextFactory = options.contextFactory ?? createContext;
  if (args[0] === 'copy' || args[0] === 'docker-plugin') return runNested(args[0], args.slice(1), io, options);
  const parsed = await parseDsvArgs(args);
  if (parsed.kind !== 'run') {
    const out = new CommandShell(io, { prog: 'dsv' }).out;
    if (parsed.kind === 'output') {
      out.out(parsed.text);
      return ExitCodes.Ok;
    }
    out.err(`dsv: error: ${parsed.message.replace(/\s*\n\s*/g, ' ')}\ndsv: see dsv --help\n`);
    return ExitCodes.Usage;
  }
  const a = parsed.args;
  if (a.command === 'copy') return runNested('copy', a.rest, io, options);
  const shell = new CommandShell(io, { prog: 'dsv', json: a.json, debug: a.debug });
  let ctx: CliContext;
  try {
    ctx = await contextFactory(
      shell.contextOptions({
        insecureRegistries: a.insecureRegistries,
        references: a.command === 'sign' ? [a.source, a.destination] : a.command === 'verify' ? a.images : [a.image],
      }),
    );
  } catch (e) {
    return shell.fail(e, () => ({ command: a.command, ok: false, error: errorJson(e) }));
  }
  switch (a.command) {
    case 'sign':
      return shell.sign(
        async () => {
          const key = await shell.resolveKey(
            { ...(a.key !== undefined ? { key: a.key } : {}), ...(a.keyType !== undefined ? { keyType: a.keyType } : {}), ...(a.passphraseFile !== undefined ? { passphraseFile: a.passphraseFile } : {}) },
            '--key',
          );
          return { ctx, options: { source: a.source, destination: a.destination, key, kind: a.signatureType, dryRun: a.dryRun, ...(a.platform ? { platform: a.platform } : {}) } };
        },
        { input: () => a },
      );
    case 'verify': {
      let verify: Awaited<ReturnType<typeof createVerifyFunction>>;
      try {
        verify = await createVerifyFunction(ctx, { trust: a.trust });
      } catch (e) {
        return shell.verifyFailed(a.images, e);
      }
      return shell.verifyEach(a.images, (input) => runVerify(ctx, input, { verify, ...(a.platform ? { platform: a.platform } : {}) }));
    }
    case 'inspect':
      return dsvInspect(ctx, a, shell);
  }
}

async function dsvInspect(ctx: CliContext, a: DsvInspectArgs, shell: CommandShell): Promise<number> {
  try {
    const verify = await createVerifyFunction(ctx, { trust: a.trust });
    const result = await runInspect(ctx, a.image, { verify, ...(a.platform ? { platform: a.platform } : {}) });
    shell.progress.clear();
    if (a.json) shell.writeJson(inspectReportJson(a.image, result));
    else shell.out.out(formatInspectText(result, { debug: a.debug }));
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ command: 'inspect', ok: false, input: a.image, error: errorJson(e) }));
  }
}
