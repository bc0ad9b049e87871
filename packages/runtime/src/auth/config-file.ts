// A docker config.json (or containers auth.json) as dsv login / logout change it: its other fields kept, written whole, mode 0600.
import { readFile } from 'node:fs/promises';
import { DsvError } from '@dsv/core/formats';
import { writeFileAtomic } from './files.js';

export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

export interface ConfigFile {
  auths?: Record<string, AuthEntry | null>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** The file's JSON object; an absent file is an empty one. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new DsvError('IoError', `credentials file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { path });
  }
  if (!text.trim()) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new DsvError('IoError', `credentials file ${path}: not valid JSON`, { path });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new DsvError('IoError', `credentials file ${path}: not a JSON object`, { path });
  return doc as ConfigFile;
}

/** Writes the config through a temp file and a rename, readable by its owner only (0600; a new directory 0700). */
export function writeConfigFile(path: string, config: ConfigFile): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600, dirMode: 0o700 });
}

/** `https://host:port/v1/` or `host:port` → `host:port`, lower case (as references name registries). */
export function authKeyHost(key: string): string {
  let k = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return k.toLowerCase();
}

/** The credential helper docker would use for `keys` (credHelpers by key, else credsStore). */
export function helperFor(config: ConfigFile, hosts: ReadonlySet<string>): { helper: string; via: 'credHelpers' | 'credsStore' } | undefined {
  for (const [k, v] of Object.entries(config.credHelpers ?? {})) if (typeof v === 'string' && v && hosts.has(authKeyHost(k))) return { helper: v, via: 'credHelpers' };
  if (typeof config.credsStore === 'string' && config.credsStore) return { helper: config.credsStore, via: 'credsStore' };
  return undefined;
}
