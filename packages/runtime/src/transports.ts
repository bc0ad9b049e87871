/**
 * Transport discovery: the manifests of dsv's transport packages plus third-party ones named by
 * DSV_TRANSPORT_PLUGINS (comma-separated) or the config file's "transportPlugins" array, the same way signer
 * plugins are found. A manifest names its transports without loading them; a registry is built from the
 * manifests whose transports a command uses (each package costs start-up time).
 */
import { DsvError, oneLineError } from '@dsv/core/formats';
import { TransportRegistry, knownTransportOf, type SystemContext, type TransportManifest } from '@dsv/core/transport';
import { transportManifest as archiveManifest } from '@dsv/source-archive/manifest';
import { transportManifest as registryManifest } from '@dsv/source-registry/manifest';
import { transportManifest as repositoryManifest } from '@dsv/source-repository/manifest';
import { transportManifest as containerdManifest } from '@dsv/source-containerd/manifest';
import type { Environment } from './environment.js';
import { cleanImportError, configFileSpecs, importPluginModule } from './plugins.js';

/** dsv's own transport packages (registry first: `docker` is the default transport). */
export const BUILTIN_TRANSPORT_MANIFESTS: readonly TransportManifest[] = [registryManifest, archiveManifest, repositoryManifest, containerdManifest];

/** Checks that `value` has the TransportManifest shape; PluginError naming `origin` otherwise. */
export function validateTransportManifest(value: unknown, origin: string): TransportManifest {
  const bad = (why: string): never => {
    throw new DsvError('PluginError', `transport plugin ${origin} is invalid: ${why}`, { plugin: origin, loading: true });
  };
  if (value === null || typeof value !== 'object') bad('it exports no manifest object');
  const m = value as Record<string, unknown>;
  if (typeof m.package !== 'string') bad('"package" must be a string');
  if (!Array.isArray(m.transports) || m.transports.length === 0) bad('"transports" must list at least one transport');
  for (const t of m.transports as unknown[]) {
    const name = (t as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name)) bad('every transport needs a "name" like "s3" or "my-store"');
    if (typeof (t as { syntax?: unknown }).syntax !== 'string') bad(`transport "${String(name)}" needs a "syntax" string`);
  }
  if (typeof m.load !== 'function') bad('"load" is not a function');
  return value as TransportManifest;
}

export interface TransportManifestOptions {
  env?: Environment;
  /** Config file (default: env.DSV_CONFIG ?? ~/.config/dsv/config.json). */
  configFile?: string;
  /** How a module is imported (tests inject their own). */
  importer?: (spec: string) => Promise<unknown>;
}

/** The built-in manifests, then those of DSV_TRANSPORT_PLUGINS and the config file; a name is provided once. */
export async function loadTransportManifests(opts: TransportManifestOptions = {}): Promise<TransportManifest[]> {
  const env = opts.env ?? {};
  const specs = [...(env.DSV_TRANSPORT_PLUGINS ?? '').split(','), ...(await configFileSpecs(opts.configFile ?? env.DSV_CONFIG, env, 'transportPlugins'))]
    .map((s) => s.trim())
    .filter(Boolean);
  const manifests = [...BUILTIN_TRANSPORT_MANIFESTS];
  if (specs.length === 0) return manifests;
  const owner = new Map<string, string>();
  for (const m of manifests) for (const t of m.transports) owner.set(t.name, m.package);
  for (const spec of [...new Set(specs)]) {
    if (spec.startsWith('.')) throw new DsvError('PluginError', `transport plugin module ${spec} must be a package name or an absolute path`, { plugin: spec, loading: true });
    let mod: Record<string, unknown>;
    try {
      mod = ((await (opts.importer ?? importPluginModule)(spec)) ?? {}) as Record<string, unknown>;
    } catch (e) {
      throw new DsvError('PluginError', `cannot load transport plugin module ${spec}: ${cleanImportError(oneLineError(e))}`, { plugin: spec, loading: true }, { cause: e });
    }
    const manifest = validateTransportManifest(mod.transportManifest ?? mod.default, `module ${spec}`);
    for (const t of manifest.transports) {
      const taken = owner.get(t.name);
      if (taken) throw new DsvError('PluginError', `transport plugin module ${spec} provides "${t.name}", which ${taken} already provides`, { plugin: spec, transport: t.name, loading: true });
      owner.set(t.name, manifest.package);
    }
    manifests.push(manifest);
  }
  return manifests;
}

/** Every transport name the manifests announce. */
export function transportNames(manifests: readonly TransportManifest[]): string[] {
  return manifests.flatMap((m) => m.transports.map((t) => t.name));
}

/** The transport a reference uses (`docker` without a known prefix). */
export function transportOf(reference: string, manifests: readonly TransportManifest[] = BUILTIN_TRANSPORT_MANIFESTS): string {
  return knownTransportOf(reference, transportNames(manifests));
}

/** The `References:` line of --help: every registered transport's syntax. */
export function referencesHelp(manifests: readonly TransportManifest[] = BUILTIN_TRANSPORT_MANIFESTS): string {
  return `References: ${manifests.flatMap((m) => m.transports.map((t) => t.syntax)).join(', ')}.`;
}

/**
 * A TransportRegistry (docker:// the default) with the transports of `names` (default: all) loaded from
 * their manifests; only the packages those transports need are imported.
 */
export async function createTransportRegistry(
  names?: readonly string[],
  opts: { manifests?: readonly TransportManifest[]; system?: SystemContext } = {},
): Promise<TransportRegistry> {
  const manifests = opts.manifests ?? BUILTIN_TRANSPORT_MANIFESTS;
  const wanted = manifests.filter((m) => !names || m.transports.some((t) => names.includes(t.name)));
  const loaded = await Promise.all(
    wanted.map(async (m) => {
      try {
        return await m.load(opts.system);
      } catch (e) {
        throw new DsvError('PluginError', `cannot load the transports of ${m.package}: ${oneLineError(e)}`, { plugin: m.package }, { cause: e });
      }
    }),
  );
  const transports = new TransportRegistry({ defaultTransport: 'docker', known: transportNames(manifests) });
  for (const t of loaded.flat()) transports.register(t);
  return transports;
}
