/**
 * Signer plugin discovery: modules and `dsv-signer-<name>` executables named by DSV_SIGNER_PLUGINS
 * (read by the runtime's environment, given here) and the config file, registered in a SignerRegistry
 * (packages/core/PLUGINS.md).
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
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
  const env = opts.env ?? process.env;
  const importer = opts.importer ?? importPluginModule;
  for (const spec of await signerPluginSpecs(opts)) {
    if (spec.startsWith('exec:')) {
      registry.register(executableSignerPlugin(spec.slice(5), { env }));
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
      throw new DsvError('PluginError', `cannot load signer plugin module ${spec}: ${oneLine(e)}`, { plugin: spec }, {
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
  }
}
