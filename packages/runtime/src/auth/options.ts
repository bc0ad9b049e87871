// The registry auth flags, with skopeo's meanings: --authfile FILE, --creds USER[:PASS] (dsv sign/verify/inspect,
// list-tags), and dsv-copy's --src-/--dest- forms; turned into the SystemContext fields the registry transport reads.
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import type { SystemContext } from '@dsv/core/transport';
import { credentialsFilesFromEnv, type Environment } from '../environment.js';
import { isInteractive, secretsInArgs } from '../io.js';
import { promptSecretOnTty } from '../keys.js';
import type { CommandShell } from '../shell.js';
import { lastValue } from '../argv-fields.js';

/** Options whose values hold a password (USER:PASS), scrubbed from all output even when parsing fails. */
export const CREDS_FLAGS = ['--creds', '--src-creds', '--dest-creds'] as const;

/** The passwords in `--creds USER:PASS`-style arguments (the value and its password part; USER alone is none). */
export function credsSecretsInArgs(args: string[]): string[] {
  const found: string[] = [];
  for (const v of secretsInArgs(args, [...CREDS_FLAGS])) {
    // USER alone holds no secret (the password is asked for); USER:PASS does.
    const colon = v.indexOf(':');
    if (colon >= 0) found.push(v, v.slice(colon + 1));
  }
  return found;
}

/** One side's auth flags as given. */
export interface AuthFlags {
  authfile?: string;
  creds?: string;
}

/** USER[:PASSWORD] as skopeo reads --creds; the password may contain ':'. */
export function parseCreds(value: string, option = '--creds'): { username: string; password?: string } {
  const colon = value.indexOf(':');
  const username = colon < 0 ? value : value.slice(0, colon);
  if (!username) throw new DsvError('Usage', `${option} needs USER[:PASSWORD], with a user name`);
  return colon < 0 ? { username } : { username, password: value.slice(colon + 1) };
}

export interface AuthPrompt {
  /** A human can answer a prompt. */
  interactive: boolean;
  /** Asks for a secret without echo. */
  promptSecret(question: string): Promise<string>;
  /** Registers a secret to scrub from output. */
  addSecret(secret: string): void;
}

/**
 * The SystemContext fields for one side: the auth files (--authfile, else REGISTRY_AUTH_FILE, else the
 * default chain) and --creds (which wins over every file). `--creds USER` asks for the password on a
 * terminal and is a usage error without one.
 */
export async function authSystem(env: Environment, flags: AuthFlags, prompt: AuthPrompt, names: { creds: string } = { creds: '--creds' }): Promise<Partial<SystemContext>> {
  const sys: Partial<SystemContext> = { credentialsFiles: credentialsFilesFromEnv(env, flags.authfile) };
  if (flags.creds !== undefined) {
    const c = parseCreds(flags.creds, names.creds);
    let password = c.password;
    if (password === undefined) {
      if (!prompt.interactive) {
        throw new DsvError('Usage', `${names.creds} ${c.username} has no password and there is no terminal to ask for it: give ${names.creds} USER:PASSWORD`);
      }
      password = await prompt.promptSecret(`Password for ${c.username}: `);
    }
    prompt.addSecret(password);
    sys.registryCredentials = { username: c.username, password, source: `${names.creds} (user ${c.username})` };
  }
  return sys;
}

const one = lastValue;

/** --authfile and --creds on a command (dsv sign / verify / inspect / list-tags). */
export function authOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('authfile', { type: 'string', describe: 'Registry credentials file (containers auth.json / docker config.json) [env REGISTRY_AUTH_FILE]' })
    .option('creds', { type: 'string', describe: 'Registry credentials USER[:PASSWORD] (no password: asked on a terminal)' });
}

/** dsv-copy's --authfile (both sides), --src-/--dest-authfile and --src-/--dest-creds. */
export function copyAuthOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('authfile', { type: 'string', describe: 'Registry credentials file for both sides [env REGISTRY_AUTH_FILE]' })
    .option('src-authfile', { type: 'string', describe: 'Registry credentials file for SRC (wins over --authfile)' })
    .option('dest-authfile', { type: 'string', describe: 'Registry credentials file for DEST (wins over --authfile)' })
    .option('src-creds', { type: 'string', describe: 'Registry credentials for SRC: USER[:PASSWORD]' })
    .option('dest-creds', { type: 'string', describe: 'Registry credentials for DEST: USER[:PASSWORD]' });
}

/** The auth flags of a parsed command line (authOptions). */
export function authFlagsOf(argv: Record<string, unknown>): AuthFlags {
  const f: AuthFlags = {};
  const authfile = one(argv.authfile);
  if (authfile !== undefined) f.authfile = authfile;
  const creds = one(argv.creds);
  if (creds !== undefined) f.creds = creds;
  return f;
}

/** dsv-copy's per-side auth flags (copyAuthOptions): --src-* / --dest-* win over --authfile. */
export function copyAuthFlagsOf(argv: Record<string, unknown>): { source: AuthFlags; destination: AuthFlags } {
  const both = one(argv.authfile);
  const side = (prefix: 'src' | 'dest'): AuthFlags => {
    const f: AuthFlags = {};
    const file = one(argv[`${prefix}Authfile`]) ?? both;
    if (file !== undefined) f.authfile = file;
    const creds = one(argv[`${prefix}Creds`]);
    if (creds !== undefined) f.creds = creds;
    return f;
  };
  return { source: side('src'), destination: side('dest') };
}

/** The prompt of a command shell: its terminal, and its secret scrubbing. */
export function shellPrompt(shell: CommandShell): AuthPrompt {
  return {
    interactive: isInteractive(shell.io),
    promptSecret: (q) => promptSecretOnTty(q, shell.io.stdin, shell.io.stderr),
    addSecret: (s) => shell.out.addSecret(s),
  };
}
