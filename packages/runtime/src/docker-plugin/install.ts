import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DsvError } from '@dsv/core/formats';
import { PLUGIN_NAMES, type PluginName } from './metadata.js';

const MARKER = '# dsv docker CLI plugin launcher';

/** The Node scripts the installed plugins run, one per plugin (an app's bin/ launchers). */
export type PluginLaunchers = Record<PluginName, string>;

export interface InstallOptions {
  /** The launchers to install (the app that installs names its own). */
  launchers: PluginLaunchers;
  /** Target cli-plugins directory; default DOCKER_CONFIG/cli-plugins or ~/.docker/cli-plugins. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** The Node binary the launchers run (default: the one running now). */
  nodePath?: string;
}

export function defaultPluginDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'cli-plugins');
}

/** mkdir -p one component at a time: Node's recursive mkdir never returns for some paths (e.g. under /proc). */
function ensureDirectory(path: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) throw new DsvError('Usage', `cannot create ${path}: ${p} is not a directory`);
      break;
    } catch (e) {
      if (e instanceof DsvError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw new DsvError('IoError', `cannot create ${path}: ${(e as Error).message}`);
      missing.push(p);
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new DsvError('IoError', `cannot create ${d}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
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
export function installPlugins(options: InstallOptions): string[] {
  const dir = options.dir ?? defaultPluginDir(options.env);
  const node = options.nodePath ?? process.execPath;
  ensureDirectory(dir);
  const written: string[] = [];
  for (const name of PLUGIN_NAMES) {
    const file = join(dir, `docker-${name}`);
    if (existsSync(file) && !isOurs(file)) {
      throw new DsvError('Usage', `${file} exists and was not installed by dsv; remove it first`);
    }
    const script = `#!/bin/sh\n${MARKER} (installed by \`dsv docker-plugin install\`)\nexec ${shQuote(node)} ${shQuote(options.launchers[name])} "$@"\n`;
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, script, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, file);
    written.push(file);
  }
  return written;
}

/** Removes our launchers; leaves anything else alone. Returns what was removed. */
export function uninstallPlugins(options: Omit<InstallOptions, 'launchers'> = {}): string[] {
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
