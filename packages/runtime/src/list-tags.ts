/**
 * dsv list-tags [options] REPO: the tags of a registry repository (docker://HOST/REPO or HOST/REPO), following
 * the registry's pagination, up to a cap (--limit, default 10000) that the output states when reached.
 */
import { decorateHelp } from './help-examples.js';
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import type { DockerImageReference } from '@dsv/source-registry';
import { authFlagsOf, authOptions, authSystem, credsSecretsInArgs, shellPrompt, type AuthFlags } from './auth/options.js';
import { createContext } from './context.js';
import { ExitCodes } from './exit-codes.js';
import type { CliIo } from './io.js';
import { newYargs, type Parsed } from './parser.js';
import { errorJson } from './report.js';
import { CommandShell } from './shell.js';
import { tlsArgs, tlsOptions, type TlsArgs } from './tls-flags.js';
import { VERSION } from './version.js';

/** Tags listed when --limit is not given. */
export const DEFAULT_TAG_LIMIT = 10_000;
/** The largest --limit. */
export const MAX_TAG_LIMIT = 1_000_000;

export interface ListTagsArgs extends TlsArgs {
  repository: string;
  limit: number;
  json: boolean;
  debug: boolean;
  insecureRegistries: string[];
  auth: AuthFlags;
}

function parser(): Argv {
  return tlsOptions(authOptions(
    newYargs()
      .scriptName('dsv list-tags')
      .usage(`$0 [options] REPO\n\nLists the tags of a registry repository: docker://HOST/REPO or HOST/REPO (no tag, no digest).\nThe registry's pages are followed up to --limit tags (default ${DEFAULT_TAG_LIMIT}); a cut list says so.`)
      .exitProcess(false)
      .strict()
      .command('$0 <repository>', false)
      .option('limit', { type: 'number', default: DEFAULT_TAG_LIMIT, describe: `At most this many tags (1 to ${MAX_TAG_LIMIT})` })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable list on stdout' })
      .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Diagnostics on stderr' })
      .option('insecure-registry', { type: 'string', array: true, describe: 'Allow plain HTTP / unverified TLS for HOST[:PORT]' }),
  ), 'REPO')
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

/** REPO as a docker:// reference without tag or digest; a usage error otherwise. */
export function repositoryReference(input: string): string {
  const name = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  if (/^[a-z][a-z0-9+.-]*:(?!\d)/i.test(name) && !input.startsWith('docker://')) {
    throw new DsvError('Usage', `list-tags lists registry repositories (docker://HOST/REPO), not "${input.slice(0, 100)}"`);
  }
  const last = name.slice(name.lastIndexOf('/') + 1);
  if (!name || name.includes('@') || last.includes(':')) throw new DsvError('Usage', `"${input.slice(0, 100)}" names a tag or digest: give the repository alone (docker://HOST/REPO)`);
  return `docker://${name}`;
}

export async function parseListTagsArgs(args: string[]): Promise<Parsed<ListTagsArgs>> {
  let err: string | undefined;
  let output = '';
  const argv = (await parser().parseAsync(args, {}, (e: Error | undefined, _a: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  if (err) return { kind: 'error', message: err };
  if (argv.help || argv.version) return { kind: 'output', text: argv.help ? decorateHelp(output, 'dsv list-tags') : output.endsWith('\n') ? output : `${output}\n` };
  const limitRaw = Array.isArray(argv.limit) ? argv.limit[argv.limit.length - 1] : argv.limit;
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TAG_LIMIT) return { kind: 'error', message: `invalid --limit "${String(limitRaw)}": a whole number from 1 to ${MAX_TAG_LIMIT}` };
  try {
    return {
      kind: 'run',
      args: {
        repository: repositoryReference(String(argv.repository)),
        limit,
        json: argv.json === true,
        debug: argv.debug === true,
        insecureRegistries: ((argv.insecureRegistry as unknown[] | undefined) ?? []).map(String),
        ...tlsArgs(argv, [repositoryReference(String(argv.repository))]),
        auth: authFlagsOf(argv),
      },
    };
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
}

export async function listTagsMain(args: string[], io: CliIo): Promise<number> {
  const prog = 'dsv list-tags';
  const parsed = await parseListTagsArgs(args);
  const shell = new CommandShell(io, { prog, secrets: credsSecretsInArgs(args), ...(parsed.kind === 'run' ? { json: parsed.args.json, debug: parsed.args.debug } : {}) });
  if (parsed.kind !== 'run') return shell.parseEnded(parsed);
  const a = parsed.args;
  try {
    const system = await authSystem(io.env, a.auth, shellPrompt(shell));
    const ctx = await createContext(shell.contextOptions({ insecureRegistries: a.insecureRegistries, tlsUnverified: a.tlsUnverified ?? [], certDirs: a.certDirs ?? [], references: [a.repository], signers: false, system }));
    const ref = ctx.parseImage(a.repository) as DockerImageReference;
    const client = ref.newClient(ctx.system);
    let tags: string[];
    try {
      tags = await client.listTags(ref.repository, { maxItems: a.limit + 1 });
    } finally {
      await client.close();
    }
    const truncated = tags.length > a.limit;
    if (truncated) tags = tags.slice(0, a.limit);
    const repository = `${ref.registry}/${ref.repository}`;
    if (a.json) shell.writeJson({ command: 'list-tags', ok: true, repository, tags, truncated, limit: a.limit });
    else {
      shell.out.out(tags.map((t) => `${t}\n`).join(''));
      if (truncated) shell.out.err(`${prog}: note: ${repository} has more than ${a.limit} tags; only the first ${a.limit} are listed (--limit N for more)\n`);
    }
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ command: 'list-tags', ok: false, repository: a.repository, error: errorJson(e) }));
  }
}
