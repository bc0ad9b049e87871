/**
 * Entry of the `docker-sign` / `docker-verify` Docker CLI plugins. The Docker CLI runs
 *   docker-<name> docker-cli-plugin-metadata          (discovery: answer the metadata JSON)
 *   docker-<name> [global docker flags] <name> [args] (the command)
 *   docker-<name> __complete <name> [args] <partial>  (shell completion)
 * Only the metadata answer is loaded eagerly; the commands (and every dsv package) load on use.
 */
import { connect } from 'node:net';
import type { CliIo } from '../io.js';
import { pluginMetadata, PLUGIN_NAMES, type PluginName } from './metadata.js';

export type { PluginName };

export interface MainIo {
  stdout: CliIo['stdout'];
  stderr: CliIo['stderr'];
  stdin: CliIo['stdin'];
  env: NodeJS.ProcessEnv;
}

function defaultIo(): MainIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * The Docker CLI (since 25) passes DOCKER_CLI_PLUGIN_SOCKET, an (abstract, on Linux) unix socket it
 * closes to ask the plugin to stop (on SIGINT/SIGTERM when no terminal forwards the signal). EOF aborts.
 * Caveat: Node 20's libuv connects to abstract names padded to the whole sun_path, while the Go CLI
 * binds the exact name, so there the connection is refused (ignored) and this channel is unavailable.
 */
export function watchPluginSocket(env: NodeJS.ProcessEnv, controller: AbortController): () => void {
  const name = env.DOCKER_CLI_PLUGIN_SOCKET;
  if (!name) return () => {};
  const path = name.startsWith('@') ? `\0${name.slice(1)}` : name;
  const sock = connect({ path });
  sock.on('error', () => {});
  sock.on('data', () => {});
  sock.on('end', () => controller.abort(new Error('the docker CLI asked the plugin to stop')));
  sock.unref();
  return () => {
    sock.removeAllListeners('end');
    sock.destroy();
  };
}

const columnsOf = (io: MainIo): number => (io.stdout.isTTY ? ((io.stdout as { columns?: number }).columns ?? 100) : 100);

const COMPLETE = new Set(['__complete', '__completeNoDesc']);

async function complete(name: PluginName, argv: string[], io: MainIo, withDescriptions: boolean): Promise<number> {
  const { SPECS } = await import('./specs.js');
  const partial = argv[argv.length - 1] ?? '';
  if (partial.startsWith('-')) {
    for (const o of SPECS[name].options) {
      const flag = `--${o.long}`;
      if (flag.startsWith(partial)) io.stdout.write(withDescriptions ? `${flag}\t${o.description}\n` : `${flag}\n`);
    }
    io.stdout.write(':4\n'); // ShellCompDirectiveNoFileComp
  } else {
    io.stdout.write(':0\n'); // default: file completion (key and passphrase files)
  }
  return 0;
}

/** Runs `docker <name>`; resolves to the process exit code (0 ok, 1 not trusted, 2 usage, 3 operational). */
export async function main(name: PluginName, argv: string[], io: MainIo = defaultIo()): Promise<number> {
  if (!(PLUGIN_NAMES as readonly string[]).includes(name)) {
    io.stderr.write(`docker-plugin: unknown plugin "${String(name)}" (sign, verify)\n`);
    return 2;
  }
  if (argv[0] === 'docker-cli-plugin-metadata') {
    io.stdout.write(`${JSON.stringify(pluginMetadata(name), null, 2)}\n`);
    return 0;
  }
  if (COMPLETE.has(argv[0] ?? '')) return complete(name, argv.slice(argv[1] === name ? 2 : 1), io, argv[0] === '__complete');

  // `docker help <name>` runs `docker-<name> [globals] help <name>`.
  const helpAt = argv.indexOf('help');
  if (helpAt >= 0 && argv[helpAt + 1] === name && !argv.slice(0, helpAt).includes(name)) {
    const [{ SPECS }, { formatHelp }] = await Promise.all([import('./specs.js'), import('./args.js')]);
    io.stdout.write(formatHelp(SPECS[name], columnsOf(io)));
    return 0;
  }
  const { splitPluginArgs } = await import('./docker-context.js');
  let split: ReturnType<typeof splitPluginArgs>;
  try {
    split = splitPluginArgs(argv, name, io.env);
  } catch (e) {
    io.stderr.write(`docker ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  // Help needs none of the dsv packages: answer it without loading them.
  const [{ SPECS }, { parseArgs, formatHelp }] = await Promise.all([import('./specs.js'), import('./args.js')]);
  try {
    if (parseArgs(SPECS[name], split.args).help) {
      io.stdout.write(formatHelp(SPECS[name], columnsOf(io)));
      return 0;
    }
  } catch {
    /* reported by the command */
  }
  const controller = new AbortController();
  const unwatch = watchPluginSocket(io.env, controller);
  try {
    const run = await import('./run.js');
    const fullIo = io as CliIo;
    const opts = { globals: split.globals, signal: controller.signal };
    const code = name === 'sign' ? await run.signCommand(split.args, fullIo, opts) : await run.verifyCommand(split.args, fullIo, opts);
    if (controller.signal.aborted) {
      io.stderr.write(`docker ${name}: interrupted\n`);
      return 130;
    }
    return code;
  } finally {
    unwatch();
  }
}
