/**
 * Signer plugin discovery: modules and `dsv-signer-<name>` executables named by DSV_SIGNER_PLUGINS
 * (read by the runtime's environment, given here) and the config file, and executables `dsv-signer-<name>`
 * found in the plugins directory (~/.dsv/plugins) and on PATH, as docker finds its CLI plugins; all
 * registered in a SignerRegistry (packages/core/PLUGINS.md, PLUGINS.md).
 */
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DsvError, oneLineError as oneLine, validateSignerPlugin, type SignerRegistry } from '@dsv/core/formats';
import { executableSignerPlugin } from './plugin-exec.js';

export interface LoadSignerPluginsOptions {
  /** Module specifiers to load before those named by the environment and the config file. */
  modules?: string[];
  /** Environment to read DSV_SIGNER_PLUGINS / DSV_CONFIG / PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Config file (default: env.DSV_CONFIG ?? ~/.config/dsv/config.json). */
  configFile?: string;
  /** How a module is imported (default: dynamic import()); tests inject their own. */
  importer?: (spec: string) => Promise<unknown>;
  /** Also register the executables found in the plugins directory and on PATH (default true). */
  discover?: boolean;
  /** Where each loaded type came from, and discovered executables that could not be loaded (dsv plugins list, --debug). */
  report?: PluginLoadReport;
}

/** Where a signer type came from. */
export type PluginOrigin = 'builtin' | 'DSV_SIGNER_PLUGINS' | 'config file' | 'plugins directory' | 'PATH' | 'app';

export interface PluginLoadEntry {
  type?: string;
  kind: 'builtin' | 'module' | 'executable';
  from: PluginOrigin;
  /** The module specifier or the executable's path. */
  location: string;
  version?: string;
  /** Why a discovered plugin was not registered. */
  error?: string;
}
export interface PluginLoadReport {
  entries: PluginLoadEntry[];
}

/** The plugins directory: ~/.dsv/plugins (docker's ~/.docker/cli-plugins, for dsv signers). */
export function pluginsDirectory(env: NodeJS.ProcessEnv): string {
  return join(env.HOME || homedir(), '.dsv', 'plugins');
}

/**
 * Executables `dsv-signer-<name>` in the plugins directory, then in each absolute PATH directory; the
 * first of a name wins.
 */
export function discoverSignerExecutables(env: NodeJS.ProcessEnv): Array<{ name: string; path: string; from: 'plugins directory' | 'PATH' }> {
  const found = new Map<string, { name: string; path: string; from: 'plugins directory' | 'PATH' }>();
  const dirs: Array<[string, 'plugins directory' | 'PATH']> = [[pluginsDirectory(env), 'plugins directory']];
  for (const d of (env.PATH ?? '').split(delimiter)) if (d && isAbsolute(d)) dirs.push([d, 'PATH']);
  for (const [dir, from] of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const file of names) {
      const m = /^dsv-signer-([a-z0-9][a-z0-9._-]{0,63})$/i.exec(file);
      if (!m || found.has(m[1]!)) continue;
      const path = join(dir, file);
      try {
        if (!statSync(path).isFile()) continue;
        accessSync(path, constants.X_OK);
      } catch {
        continue;
      }
      found.set(m[1]!, { name: m[1]!, path, from });
    }
  }
  return [...found.values()];
}

/**
 * An import failure in one line without the paths of dsv's own files: "Cannot find package 'x' imported
 * from /…/bundle/chunk-AB12.js" names a bundle chunk the user never wrote.
 */
export function cleanImportError(message: string): string {
  return oneLine(message).replace(/\s+imported from \S+/g, '').replace(/\s*(?:Did you mean|Require stack)[\s\S]*$/, '').trim();
}

/** A plugin-loading failure: a usage error of the user's setup (exit 2), still a PluginError by code. */
function loading(e: unknown): unknown {
  if (e instanceof DsvError && e.code === 'PluginError' && e.details.loading !== true) {
    return new DsvError('PluginError', cleanImportError(e.message), { ...e.details, loading: true }, { cause: e });
  }
  return e;
}

/** The plugin specifiers that loadSignerPlugins would load, in order, without duplicates. */
export async function signerPluginSpecs(opts: LoadSignerPluginsOptions = {}): Promise<string[]> {
  const env = opts.env ?? process.env;
  const specs: string[] = [...(opts.modules ?? [])];
  for (const s of (env.DSV_SIGNER_PLUGINS ?? '').split(',')) specs.push(s);
  specs.push(...(await configFileSpecs(opts.configFile ?? env.DSV_CONFIG, env, 'signerPlugins')));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of specs) {
    const s = raw.trim();
    if (!s || seen.has(s)) continue;
    seen.add(s);
    out.push(s);
  }
  return out;
}

/** The config file's array `key` ("signerPlugins", "transportPlugins"); a missing default file is fine. */
export async function configFileSpecs(explicit: string | undefined, env: NodeJS.ProcessEnv, key: string): Promise<string[]> {
  const file = explicit || join(env.HOME || homedir(), '.config', 'dsv', 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return [];
    if (code === 'ENOENT') throw new DsvError('NotFound', `config file ${file} does not exist`, { file });
    throw new DsvError('IoError', `cannot read config file ${file}: ${code ?? oneLine(e)}`, { file }, { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new DsvError('Usage', `config file ${file} is not valid JSON`, { file });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new DsvError('Usage', `config file ${file} must hold a JSON object`, { file });
  }
  const list = (doc as Record<string, unknown>)[key];
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    throw new DsvError('Usage', `config file ${file}: "${key}" must be an array of strings`, { file });
  }
  return list as string[];
}

/** The entry file of a package directory: exports["."] (import/default), else main, else index.js. */
async function packageEntry(dir: string): Promise<string> {
  let pj: Record<string, unknown> = {};
  try {
    pj = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    /* no (usable) package.json: fall back to index.js */
  }
  let exp = pj.exports as unknown;
  if (exp && typeof exp === 'object' && !Array.isArray(exp) && '.' in exp) exp = (exp as Record<string, unknown>)['.'];
  if (exp && typeof exp === 'object' && !Array.isArray(exp)) {
    const c = exp as Record<string, unknown>;
    exp = c.import ?? c.default ?? c.node;
  }
  const rel = typeof exp === 'string' ? exp : typeof pj.main === 'string' ? pj.main : 'index.js';
  return join(dir, rel);
}

/** import() of a package name, or of an absolute file or package directory. */
export const importPluginModule = async (spec: string): Promise<unknown> => {
  if (!isAbsolute(spec)) return import(spec);
  let file = spec;
  if ((await stat(spec).catch(() => undefined))?.isDirectory()) file = await packageEntry(spec);
  return import(pathToFileURL(file).href);
};

/**
 * Loads the signer plugins named by `opts.modules`, DSV_SIGNER_PLUGINS (comma-separated) and the
 * config file's "signerPlugins" array, in that order, and registers them. A specifier is an npm
 * package name, an absolute path to an ES module file or package directory, or `exec:<name>` for an executable
 * `dsv-signer-<name>` on PATH. Modules must export a SignerPlugin as default or as `plugin`.
 */
export async function loadSignerPlugins(registry: SignerRegistry, opts: LoadSignerPluginsOptions = {}): Promise<void> {
  try {
    await loadNamedPlugins(registry, opts);
  } catch (e) {
    throw loading(e);
  }
  if (opts.discover !== false) discoverPlugins(registry, opts.env ?? process.env, opts.report);
}

/**
 * Registers the executables found in the plugins directory and on PATH whose type is not registered yet.
 * One that does not describe itself properly is skipped (and reported): a stray file on PATH must not
 * break every command; naming it (DSV_SIGNER_PLUGINS=exec:NAME) makes its failure an error.
 */
function discoverPlugins(registry: SignerRegistry, env: NodeJS.ProcessEnv, report?: PluginLoadReport): void {
  for (const exe of discoverSignerExecutables(env)) {
    if (registry.has(exe.name)) continue;
    const entry: PluginLoadEntry = { type: exe.name, kind: 'executable', from: exe.from, location: exe.path };
    try {
      const plugin = executableSignerPlugin(exe.name, { env, executable: exe.path });
      registry.register(plugin);
      const version = (plugin as { version?: unknown }).version;
      if (typeof version === 'string') entry.version = version;
    } catch (e) {
      entry.error = cleanImportError(e instanceof Error ? e.message : String(e));
    }
    report?.entries.push(entry);
  }
}

async function loadNamedPlugins(registry: SignerRegistry, opts: LoadSignerPluginsOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const importer = opts.importer ?? importPluginModule;
  const envSpecs = new Set((env.DSV_SIGNER_PLUGINS ?? '').split(',').map((x) => x.trim()));
  const from = (spec: string): PluginOrigin => ((opts.modules ?? []).includes(spec) ? 'app' : envSpecs.has(spec) ? 'DSV_SIGNER_PLUGINS' : 'config file');
  for (const spec of await signerPluginSpecs(opts)) {
    if (spec.startsWith('exec:')) {
      const plugin = executableSignerPlugin(spec.slice(5), { env, ...(findNamedExecutable(spec.slice(5), env) ?? {}) });
      registry.register(plugin);
      const version = (plugin as { version?: unknown }).version;
      opts.report?.entries.push({ type: plugin.type, kind: 'executable', from: from(spec), location: spec, ...(typeof version === 'string' ? { version } : {}) });
      continue;
    }
    if (spec.startsWith('.') || (spec.includes('\\') && !isAbsolute(spec))) {
      throw new DsvError('PluginError', `signer plugin module ${spec} must be a package name or an absolute path`, {
        plugin: spec,
      });
    }
    let mod: unknown;
    try {
      mod = await importer(spec);
    } catch (e) {
      throw new DsvError('PluginError', `cannot load signer plugin module ${spec}: ${cleanImportError(oneLine(e))}`, { plugin: spec, loading: true }, {
        cause: e,
      });
    }
    const m = (mod ?? {}) as Record<string, unknown>;
    let candidate = m.default ?? m.plugin;
    // CommonJS modules imported from ESM put module.exports on `default`.
    if (candidate && typeof candidate === 'object' && !('type' in candidate)) {
      const inner = candidate as Record<string, unknown>;
      candidate = inner.default ?? inner.plugin ?? candidate;
    }
    if (candidate === undefined) {
      throw new DsvError('PluginError', `signer plugin module ${spec} exports neither a default nor a "plugin"`, {
        plugin: spec,
      });
    }
    const plugin = validateSignerPlugin(candidate, `module ${spec}`);
    if (registry.has(plugin.type) && !registry.isRegistered(plugin)) {
      throw new DsvError(
        'PluginError',
        `signer plugin module ${spec} provides type "${plugin.type}", which is already registered by another plugin`,
        { plugin: spec, type: plugin.type },
      );
    }
    registry.register(plugin);
    const version = (plugin as { version?: unknown }).version;
    opts.report?.entries.push({ type: plugin.type, kind: 'module', from: from(spec), location: spec, ...(typeof version === 'string' ? { version } : {}) });
  }
}

/** `exec:NAME` looks in the plugins directory too (PATH is searched by the executable route itself). */
function findNamedExecutable(name: string, env: NodeJS.ProcessEnv): { executable: string } | undefined {
  const p = join(pluginsDirectory(env), `dsv-signer-${name}`);
  try {
    if (statSync(p).isFile()) {
      accessSync(p, constants.X_OK);
      return { executable: p };
    }
  } catch {
    /* not there */
  }
  return undefined;
}
