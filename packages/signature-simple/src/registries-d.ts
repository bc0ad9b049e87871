/**
 * containers-registries.d(5): YAML files naming where simple signatures live (lookaside stores) per
 * registry scope. Parsed with the `yaml` package (eemeli/yaml, YAML 1.2) with duplicate keys rejected.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { DsvError, dockerNamespaces, formatDockerReference, parseDockerReference } from '@dsv/core/formats';

/** One `default-docker` or `docker.<scope>` entry. */
export interface LookasideNamespace {
  /** `lookaside` (or its older name `sigstore`): where signatures are read, and written when no staging is set. */
  lookaside?: string;
  /** `lookaside-staging` (or `sigstore-staging`): where signatures are written. */
  lookasideStaging?: string;
  /** `use-sigstore-attachments` when set. */
  useSigstoreAttachments?: boolean;
}

export interface RegistriesD {
  /** The directory the configuration came from (undefined: none existed). */
  dir?: string;
  defaultDocker?: LookasideNamespace;
  docker: Map<string, LookasideNamespace>;
}

const MAX_FILE_BYTES = 1024 * 1024;

function invalid(source: string, message: string): DsvError {
  return new DsvError('Usage', `invalid registries.d file ${source}: ${message}`, { reason: 'RegistriesDInvalid', source });
}

function namespace(value: unknown, where: string, source: string): LookasideNamespace {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(source, `${where} must be a mapping`);
  const v = value as Record<string, unknown>;
  const url = (key: string): string | undefined => {
    const x = v[key];
    if (x === undefined || x === null) return undefined;
    if (typeof x !== 'string') throw invalid(source, `${where}.${key} must be a URL string`);
    if (x === '') return undefined;
    let u: URL;
    try {
      u = new URL(x);
    } catch {
      throw invalid(source, `${where}.${key} ${JSON.stringify(x)} is not a URL`);
    }
    if (!['file:', 'http:', 'https:'].includes(u.protocol)) throw invalid(source, `${where}.${key} uses ${u.protocol}, expected file:, http: or https:`);
    return x;
  };
  const ns: LookasideNamespace = {};
  // Unknown keys are ignored, as containers/image does (newer tools add keys older ones must tolerate).
  const lookaside = url('lookaside') ?? url('sigstore');
  const staging = url('lookaside-staging') ?? url('sigstore-staging');
  if (lookaside !== undefined) ns.lookaside = lookaside;
  if (staging !== undefined) ns.lookasideStaging = staging;
  const attach = v['use-sigstore-attachments'];
  if (attach !== undefined && attach !== null) {
    if (typeof attach !== 'boolean') throw invalid(source, `${where}.use-sigstore-attachments must be true or false`);
    ns.useSigstoreAttachments = attach;
  }
  return ns;
}

/** Parses one registries.d YAML document. */
export function parseRegistriesDFile(text: string, source: string): { defaultDocker?: LookasideNamespace; docker: Map<string, LookasideNamespace> } {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw invalid(source, doc.errors[0]!.message.split('\n')[0]!);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw invalid(source, (e as Error).message.split('\n')[0]!);
  }
  const out: { defaultDocker?: LookasideNamespace; docker: Map<string, LookasideNamespace> } = { docker: new Map() };
  if (value === null || value === undefined) return out;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(source, 'the document must be a mapping');
  const top = value as Record<string, unknown>;
  if (top['default-docker'] !== undefined) out.defaultDocker = namespace(top['default-docker'], 'default-docker', source);
  const docker = top.docker;
  if (docker !== undefined && docker !== null) {
    if (typeof docker !== 'object' || Array.isArray(docker)) throw invalid(source, 'docker must be a mapping of scopes');
    for (const [scope, ns] of Object.entries(docker as Record<string, unknown>)) {
      if (scope === '') throw invalid(source, 'docker has an empty scope');
      out.docker.set(scope, namespace(ns, `docker.${scope}`, source));
    }
  }
  return out;
}

/**
 * Loads the first existing directory of `dirs` (as containers/image: the user's directory replaces the
 * system one), every `*.yaml` file in it in name order. A scope (or default-docker) in two files is an error.
 */
export async function loadRegistriesD(dirs: readonly string[]): Promise<RegistriesD> {
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.yaml')).map((e) => e.name).sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new DsvError('IoError', `registries.d directory ${dir} cannot be read (${code ?? 'error'})`);
    }
    const config: RegistriesD = { dir, docker: new Map() };
    let defaultFrom: string | undefined;
    const scopeFrom = new Map<string, string>();
    for (const name of names) {
      const path = join(dir, name);
      const bytes = await readFile(path);
      if (bytes.length > MAX_FILE_BYTES) throw invalid(path, 'larger than 1 MiB');
      const parsed = parseRegistriesDFile(bytes.toString('utf8'), path);
      if (parsed.defaultDocker) {
        if (defaultFrom) throw invalid(path, `default-docker is also set in ${defaultFrom}`);
        defaultFrom = path;
        config.defaultDocker = parsed.defaultDocker;
      }
      for (const [scope, ns] of parsed.docker) {
        const other = scopeFrom.get(scope);
        if (other) throw invalid(path, `docker scope ${JSON.stringify(scope)} is also set in ${other}`);
        scopeFrom.set(scope, path);
        config.docker.set(scope, ns);
      }
    }
    return config;
  }
  return { docker: new Map() };
}

/** The scopes a reference falls under, most specific first: the reference, host/ns/repo ... host, *.domain. */
function scopesOf(dockerReference: string): string[] {
  const ref = parseDockerReference(dockerReference, { defaultRegistry: 'docker.io' });
  return [formatDockerReference(ref), ...dockerNamespaces(`${ref.registry}/${ref.repository}`)];
}

/**
 * The lookaside base URL for a reference: the most specific scope that names one, then default-docker.
 * `write`: the staging URL is preferred. Undefined when nothing is configured.
 */
export function lookasideBase(config: RegistriesD, dockerReference: string, write: boolean): string | undefined {
  const pick = (ns: LookasideNamespace | undefined): string | undefined =>
    ns === undefined ? undefined : (write ? ns.lookasideStaging : undefined) ?? ns.lookaside;
  for (const scope of scopesOf(dockerReference)) {
    const url = pick(config.docker.get(scope));
    if (url !== undefined) return url;
  }
  return pick(config.defaultDocker);
}

/** `use-sigstore-attachments` for a reference: the most specific scope that sets it, then default-docker, else false. */
export function useSigstoreAttachments(config: RegistriesD, dockerReference: string): boolean {
  for (const scope of scopesOf(dockerReference)) {
    const v = config.docker.get(scope)?.useSigstoreAttachments;
    if (v !== undefined) return v;
  }
  return config.defaultDocker?.useSigstoreAttachments ?? false;
}
