import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DsvError } from '@dsv/core';
import { PLUGIN_NAMES } from './metadata.js';

const MARKER = '# dsv docker CLI plugin launcher';

export interface InstallOptions {
  /** Target cli-plugins directory; default DOCKER_CONFIG/cli-plugins or ~/.docker/cli-plugins. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** The Node binary the launchers run (default: the one running now). */
  nodePath?: string;
}

export function defaultPluginDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'cli-plugins');
}

function launcherTarget(name: string): string {
  return fileURLToPath(new URL(`../bin/docker-${name}.js`, import.meta.url));
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function isOurs(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(MARKER);
  } catch {
    return false;
  }
}

/** Writes `docker-sign` and `docker-verify` launchers. Re-installing replaces our own launchers; a foreign file is never overwritten. */
export function installPlugins(options: InstallOptions = {}): string[] {
  const dir = options.dir ?? defaultPluginDir(options.env);
  const node = options.nodePath ?? process.execPath;
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const name of PLUGIN_NAMES) {
    const file = join(dir, `docker-${name}`);
    if (existsSync(file) && !isOurs(file)) {
      throw new DsvError('Usage', `${file} exists and was not installed by dsv; remove it first`);
    }
    const script = `#!/bin/sh\n${MARKER} (installed by \`dsv docker-plugin install\`)\nexec ${shQuote(node)} ${shQuote(launcherTarget(name))} "$@"\n`;
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, script, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, file);
    written.push(file);
  }
  return written;
}

/** Removes our launchers; leaves anything else alone. Returns what was removed. */
export function uninstallPlugins(options: InstallOptions = {}): string[] {
  const dir = options.dir ?? defaultPluginDir(options.env);
  const removed: string[] = [];
  for (const name of PLUGIN_NAMES) {
    const file = join(dir, `docker-${name}`);
    if (existsSync(file) && isOurs(file)) {
      rmSync(file);
      removed.push(file);
    }
  }
  return removed;
}
