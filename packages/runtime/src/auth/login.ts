/**
 * dsv login [REGISTRY] [-u USER] [-p PASS | --password-stdin] [--authfile FILE] and dsv logout [REGISTRY]:
 * credentials are checked against the registry (GET /v2/, Basic or a token as `docker login` asks for one)
 * before they are stored where docker keeps them ($DOCKER_CONFIG/config.json, or --authfile), through the
 * credential helper the file names (credHelpers, credsStore) when it names one.
 */
import { decorateHelp } from '../help-examples.js';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import { credentialsFilesFromEnv, credentialsStoreFromEnv, systemContextFromEnv } from '../environment.js';
import { ExitCodes } from '../exit-codes.js';
import { givenOptions, lastValue } from '../argv-fields.js';
import { isInteractive, secretsInArgs, type CliIo } from '../io.js';
import { promptSecretOnTty } from '../keys.js';
import { newYargs, type Parsed } from '../parser.js';
import { CommandShell } from '../shell.js';
import { VERSION } from '../version.js';
import { authKeyHost, helperFor, readConfigFile, writeConfigFile, type ConfigFile } from './config-file.js';
import { runCredentialHelper } from './helpers.js';
import { tlsOptions } from '../tls-flags.js';

/** Registry names that mean Docker Hub, and the key docker stores its credentials under. */
const HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const HUB_KEY = 'https://index.docker.io/v1/';

export interface LoginArgs {
  command: 'login' | 'logout';
  /** host[:port] as references name it (docker.io for Docker Hub). */
  registry: string;
  username?: string;
  password?: string;
  passwordStdin: boolean;
  authfile?: string;
  insecureRegistries: string[];
  /** --cert-dir: the registry's TLS material. */
  certDir?: string;
  debug: boolean;
}

function parser(command: 'login' | 'logout'): Argv {
  const y = newYargs()
    .scriptName(`dsv ${command}`)
    .exitProcess(false)
    .strict()
    .option('authfile', { type: 'string', describe: 'The credentials file to change instead of $DOCKER_CONFIG/config.json (~/.docker/config.json)' })
    .option('debug', { alias: 'v', type: 'boolean', default: false, describe: 'Diagnostics on stderr' })
    .help()
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100));
  if (command === 'logout') {
    return y.usage(`$0 [REGISTRY]\n\nRemoves the credentials stored for REGISTRY (default docker.io), from the file or its credential helper.`).command('$0 [registry]', false);
  }
  const login = y
    .usage(
      `$0 [options] [REGISTRY]\n\nChecks the credentials against REGISTRY (default docker.io), then stores them where docker keeps them: ` +
        `$DOCKER_CONFIG/config.json (default ~/.docker/config.json) or --authfile, through the credential helper that file names ` +
        `(credHelpers, credsStore). Without -u, the stored credentials are checked again; on a terminal, missing ones are asked for.`,
    )
    .command('$0 [registry]', false)
    .option('username', { alias: 'u', type: 'string', describe: 'User name' })
    .option('password', { alias: 'p', type: 'string', describe: 'Password (visible in ps: prefer --password-stdin)' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the password from stdin' })
    .option('insecure-registry', { type: 'string', array: true, describe: 'Allow plain HTTP / unverified TLS for HOST[:PORT]' });
  return tlsOptions(login, 'REGISTRY');
}

/** REGISTRY as docker login takes it (`https://host/`, `host:port`, `index.docker.io`): host[:port], docker.io for Docker Hub. */
export function loginRegistry(input: string | undefined): string {
  const host = authKeyHost(input ?? 'docker.io');
  if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(host)) throw new DsvError('Usage', `invalid registry "${(input ?? '').slice(0, 100)}": HOST[:PORT]`);
  return HUB_NAMES.has(host) ? 'docker.io' : host;
}

const one = lastValue;

export async function parseLoginArgs(command: 'login' | 'logout', args: string[]): Promise<Parsed<LoginArgs>> {
  let err: string | undefined;
  let output = '';
  const argv = (await parser(command).parseAsync(args, {}, (e: Error | undefined, _a: unknown, out: string) => {
    if (e) err = e.message;
    output = out;
  })) as Record<string, unknown>;
  if (err) return { kind: 'error', message: err };
  if (argv.help || argv.version) return { kind: 'output', text: argv.help ? decorateHelp(output, `dsv ${command}`) : output.endsWith('\n') ? output : `${output}\n` };
  try {
    const registry = loginRegistry(one(argv.registry));
    const a: LoginArgs = {
      command,
      registry,
      passwordStdin: argv.passwordStdin === true,
      insecureRegistries: [...((argv.insecureRegistry as unknown[] | undefined) ?? []).map(String), ...(argv.tlsVerify === false ? [registry] : [])],
      debug: argv.debug === true,
      ...givenOptions(argv, ['username', 'password', 'authfile', 'certDir']),
    };
    if (a.password !== undefined && a.passwordStdin) return { kind: 'error', message: '--password and --password-stdin are mutually exclusive' };
    if ((a.password !== undefined || a.passwordStdin) && a.username === undefined) return { kind: 'error', message: 'a password needs --username (-u USER)' };
    if (a.username !== undefined && !a.username.trim()) return { kind: 'error', message: '--username is empty' };
    return { kind: 'run', args: a };
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > 64 * 1024) throw new DsvError('Usage', '--password-stdin: more than 64 KiB on stdin');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function askLine(io: CliIo, question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    });
  });
}

/** What `dsv login` / `dsv logout` run for `dsv login …` (args after the command). */
export async function loginMain(command: 'login' | 'logout', args: string[], io: CliIo): Promise<number> {
  const prog = `dsv ${command}`;
  const parsed = await parseLoginArgs(command, args);
  const shell = new CommandShell(io, { prog, secrets: secretsInArgs(args, ['-p', '--password']), ...(parsed.kind === 'run' ? { debug: parsed.args.debug } : {}) });
  if (parsed.kind !== 'run') return shell.parseEnded(parsed);
  try {
    return parsed.args.command === 'login' ? await login(parsed.args, shell) : await logout(parsed.args, shell);
  } catch (e) {
    return shell.fail(e);
  }
}

/** The keys a registry's credentials may be stored under (docker's Hub key, host[:port], legacy URLs). */
function hostsOf(registry: string): Set<string> {
  return registry === 'docker.io' ? new Set(HUB_NAMES) : new Set([registry]);
}

async function login(a: LoginArgs, shell: CommandShell): Promise<number> {
  const io = shell.io;
  const env = io.env;
  const out = shell.out;
  const store = a.authfile ?? credentialsStoreFromEnv(env);
  const tried: string[] = [];
  let creds: { username: string; password: string } | undefined;
  let from = '';
  if (a.username !== undefined) {
    let password = a.password;
    if (password !== undefined) from = `-u ${a.username} with --password`;
    else if (a.passwordStdin) {
      password = await readAll(io.stdin);
      from = `-u ${a.username} with --password-stdin`;
    } else if (isInteractive(io)) {
      password = await promptSecretOnTty('Password: ', io.stdin, io.stderr);
      from = `-u ${a.username} with the password typed`;
    } else throw new DsvError('Usage', `-u ${a.username} without a password, and no terminal to ask for it: give --password-stdin or -p`);
    if (!password) throw new DsvError('Usage', 'the password is empty');
    out.addSecret(password);
    creds = { username: a.username, password };
  } else {
    // As docker login: the stored credentials are checked again.
    const files = credentialsFilesFromEnv(env, a.authfile);
    const { resolveCredentialsInFiles } = await import('@dsv/source-registry');
    const found = await resolveCredentialsInFiles(a.registry, { files, childEnv: env, debug: out.debug });
    if (found && found.credentials.username !== undefined && found.credentials.password !== undefined) {
      out.addSecret(found.credentials.password);
      creds = { username: found.credentials.username, password: found.credentials.password };
      from = `the credentials stored in ${found.file} (user ${creds.username})`;
      if (!shell.json) out.err(`Authenticating with existing credentials (${found.file})...\n`);
    } else {
      tried.push(`no stored credentials in ${files.join(', ')}`);
      if (!isInteractive(io)) {
        throw new DsvError('Usage', `no credentials for ${a.registry}: give -u USER with --password-stdin or -p (tried: ${tried.join('; ')})`);
      }
      const username = await askLine(io, 'Username: ');
      if (!username) throw new DsvError('Usage', 'no user name given');
      const password = await promptSecretOnTty('Password: ', io.stdin, io.stderr);
      if (!password) throw new DsvError('Usage', 'the password is empty');
      out.addSecret(password);
      creds = { username, password };
      from = `user ${username} with the password typed`;
    }
  }
  tried.push(from);
  await checkCredentials(a, shell, creds, tried);
  const where = await storeCredentials(store, a.registry, creds, env);
  out.out(`Credentials for ${a.registry} stored ${where}\nLogin Succeeded\n`);
  return ExitCodes.Ok;
}

/** GET /v2/ with the credentials; a refusal names every source tried. */
async function checkCredentials(a: LoginArgs, shell: CommandShell, creds: { username: string; password: string }, tried: string[]): Promise<void> {
  const { RegistryClient } = await import('@dsv/source-registry');
  const ctx = systemContextFromEnv(shell.io.env, { insecureRegistries: a.insecureRegistries, debug: shell.out.debug });
  if (a.certDir !== undefined) ctx.registryCertDirs = { [a.registry]: resolve(a.certDir) };
  const client = new RegistryClient({ registry: a.registry, ctx, credentials: creds });
  try {
    await client.checkLogin();
  } catch (e) {
    if (e instanceof DsvError && e.code === 'AuthFailed') {
      throw new DsvError('AuthFailed', `login to ${a.registry} refused: ${e.message.replace(/ \(credentials from the caller\)$/, '').replace(/; credentials from the caller\)$/, ')')}; tried: ${tried.join('; ')}`, { registry: a.registry, tried }, { cause: e });
    }
    throw e;
  } finally {
    await client.close();
  }
}

/** Stores the credentials in `file` or the helper it names; says where. */
async function storeCredentials(file: string, registry: string, creds: { username: string; password: string }, childEnv: NodeJS.ProcessEnv): Promise<string> {
  const config = await readConfigFile(file);
  const key = registry === 'docker.io' ? HUB_KEY : registry;
  const helper = helperFor(config, hostsOf(registry));
  if (helper) {
    await runCredentialHelper(helper.helper, 'store', JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password }), childEnv);
    // As docker does with a credsStore: an empty entry records the login; no secret in the file.
    const auths = (config.auths ??= {});
    const had = dropEntries(config, registry);
    if (helper.via === 'credsStore' || had) {
      auths[key] = {};
      await writeConfigFile(file, config);
    }
    return `by docker-credential-${helper.helper} (${helper.via} in ${file})`;
  }
  dropEntries(config, registry);
  (config.auths ??= {})[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  await writeConfigFile(file, config);
  return `in ${file}`;
}

/** Removes every auths entry for the registry (host key, Hub key, legacy URL keys); true when there was one. */
function dropEntries(config: ConfigFile, registry: string): boolean {
  const hosts = hostsOf(registry);
  let dropped = false;
  for (const k of Object.keys(config.auths ?? {})) {
    if (hosts.has(authKeyHost(k))) {
      delete config.auths![k];
      dropped = true;
    }
  }
  return dropped;
}

async function logout(a: LoginArgs, shell: CommandShell): Promise<number> {
  const env = shell.io.env;
  const file = a.authfile ?? credentialsStoreFromEnv(env);
  const config = await readConfigFile(file);
  const key = a.registry === 'docker.io' ? HUB_KEY : a.registry;
  const helper = helperFor(config, hostsOf(a.registry));
  let removed = false;
  if (helper) {
    const r = await runCredentialHelper(helper.helper, 'erase', key, env);
    removed = !r.notFound;
  }
  if (dropEntries(config, a.registry)) {
    removed = true;
    await writeConfigFile(file, config);
  }
  if (!removed) {
    shell.out.out(`Not logged in to ${a.registry} (${helper ? `docker-credential-${helper.helper}, ` : ''}${file})\n`);
    return ExitCodes.Ok;
  }
  shell.out.out(`Removing login credentials for ${a.registry} (${helper ? `docker-credential-${helper.helper}, ` : ''}${file})\n`);
  return ExitCodes.Ok;
}
