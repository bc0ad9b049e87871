/**
 * `dsv docker-plugin install [--dir DIR]` / `uninstall [--dir DIR]`: puts the docker-sign and
 * docker-verify launchers where the Docker CLI looks for plugins (DOCKER_CONFIG/cli-plugins, default
 * ~/.docker/cli-plugins), or removes them.
 */
import { DsvError, isDsvError } from '@dsv/core/formats';
import { examplesSection } from '../help-examples.js';
import { defaultPluginDir, installPlugins, uninstallPlugins, type PluginLaunchers } from './install.js';

export interface PluginCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export const DOCKER_PLUGIN_HELP = `Usage: dsv docker-plugin <install|uninstall> [--dir DIR]

Installs (or removes) \`docker sign\` and \`docker verify\` as Docker CLI plugins.

Commands:
  install     Write the docker-sign and docker-verify launchers (re-installing replaces them)
  uninstall   Remove the launchers dsv installed (other files are left alone)

Options:
  --dir DIR   The Docker CLI plugin directory (default: $DOCKER_CONFIG/cli-plugins, else
              ~/.docker/cli-plugins; system-wide: /usr/local/lib/docker/cli-plugins)
  -h, --help  Print this help

${examplesSection('dsv docker-plugin')}`;

/** Exit codes: 0 done, 2 usage error or a foreign file in the way, 3 I/O failure. */
export async function dockerPluginCommand(args: string[], io: PluginCommandIo, launchers?: PluginLaunchers): Promise<number> {
  let action: string | undefined;
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') {
      io.stdout.write(DOCKER_PLUGIN_HELP);
      return 0;
    }
    if (a === '--dir' || a.startsWith('--dir=')) {
      dir = a === '--dir' ? args[++i] : a.slice('--dir='.length);
      if (!dir) {
        io.stderr.write('dsv docker-plugin: error: --dir needs a directory\n');
        return 2;
      }
      continue;
    }
    if (a.startsWith('-') || action !== undefined) {
      io.stderr.write(`dsv docker-plugin: error: unexpected argument "${a}"\n${DOCKER_PLUGIN_HELP}`);
      return 2;
    }
    action = a;
  }
  if (action !== 'install' && action !== 'uninstall') {
    io.stderr.write(`dsv docker-plugin: error: ${action === undefined ? 'missing command' : `unknown command "${action}"`} (install, uninstall)\n${DOCKER_PLUGIN_HELP}`);
    return 2;
  }
  const target = dir ?? defaultPluginDir(io.env);
  try {
    if (action === 'install') {
      if (!launchers) throw new DsvError('Usage', 'this build of dsv has no Docker CLI plugin launchers to install');
      for (const f of installPlugins({ dir: target, env: io.env, launchers })) io.stdout.write(`Installed ${f}\n`);
      io.stdout.write('Try: docker sign --help, docker verify --help\n');
    } else {
      const removed = uninstallPlugins({ dir: target, env: io.env });
      for (const f of removed) io.stdout.write(`Removed ${f}\n`);
      if (removed.length === 0) io.stdout.write(`No dsv plugins installed in ${target}\n`);
    }
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.stderr.write(`dsv docker-plugin: error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (isDsvError(e)) return e.code === 'Usage' ? 2 : 3;
    return 3;
  }
}
