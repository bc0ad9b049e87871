/**
 * What `dsv sync` copies: the images of SRC grouped by repository — a registry repository (every tag, or
 * one), a skopeo-sync YAML/JSON file of registries, repositories and tag lists or patterns, or OCI layouts
 * (one layout, or a directory of them) — and where each goes at DEST (a registry prefix or a directory of
 * OCI layouts), named as skopeo sync names them: the repository's last path component, or with --scoped
 * the whole source name.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { DsvError, formatDockerReference } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import { syncSideKind } from './sync-kind.js';
import { listImageTags, parseRepository } from './tags.js';

/** One repository to sync and the images (tags) in it. */
export interface SyncRepository {
  /** The source repository's full name (`host/repo`, or the layout path): what shards partition. */
  name: string;
  /** The name it gets at DEST (before the DEST prefix). */
  destName: string;
  /** Source references, one per tag: `docker://host/repo:tag`, `oci:/dir:tag`. */
  images: Array<{ tag: string; source: string }>;
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_LAYOUTS = 10_000;
const REF_NAME = 'org.opencontainers.image.ref.name';

function lastComponent(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** skopeo sync's YAML: `REGISTRY: {images: {REPO: [tags]}, images-by-tag-regex: {REPO: REGEX}, tls-verify: bool}`. */
export interface SyncConfigEntry {
  registry: string;
  images: Map<string, string[]>;
  byRegex: Map<string, RegExp>;
  tlsVerify: boolean;
}

export function parseSyncConfig(text: string, origin: string): SyncConfigEntry[] {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) throw new DsvError('Usage', `${origin}: not valid YAML/JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
  const root = doc.toJS() as unknown;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new DsvError('Usage', `${origin}: expected a map of registries`);
  const out: SyncConfigEntry[] = [];
  for (const [registry, body] of Object.entries(root as Record<string, unknown>)) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new DsvError('Usage', `${origin}: ${registry}: expected a map (images, images-by-tag-regex, tls-verify)`);
    const entry: SyncConfigEntry = { registry, images: new Map(), byRegex: new Map(), tlsVerify: true };
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (key === 'images') {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DsvError('Usage', `${origin}: ${registry}.images: expected REPOSITORY: [TAG, ...]`);
        for (const [repo, tags] of Object.entries(value as Record<string, unknown>)) {
          const list = tags === null ? [] : tags;
          if (!Array.isArray(list) || list.some((t) => typeof t !== 'string')) throw new DsvError('Usage', `${origin}: ${registry}.images.${repo}: expected a list of tags ([] for every tag)`);
          entry.images.set(repo, list as string[]);
        }
      } else if (key === 'images-by-tag-regex') {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DsvError('Usage', `${origin}: ${registry}.images-by-tag-regex: expected REPOSITORY: REGEX`);
        for (const [repo, pattern] of Object.entries(value as Record<string, unknown>)) {
          if (typeof pattern !== 'string') throw new DsvError('Usage', `${origin}: ${registry}.images-by-tag-regex.${repo}: expected a regular expression`);
          try {
            entry.byRegex.set(repo, new RegExp(pattern));
          } catch (e) {
            throw new DsvError('Usage', `${origin}: ${registry}.images-by-tag-regex.${repo}: ${(e as Error).message}`);
          }
        }
      } else if (key === 'tls-verify') {
        if (typeof value !== 'boolean') throw new DsvError('Usage', `${origin}: ${registry}.tls-verify: expected true or false`);
        entry.tlsVerify = value;
      } else {
        throw new DsvError('Usage', `${origin}: ${registry}: unknown key "${key}" (dsv reads images, images-by-tag-regex, tls-verify)`);
      }
    }
    out.push(entry);
  }
  return out;
}

/** Tagged images of one OCI layout (index.json entries with a ref name), sorted. */
async function layoutTags(dir: string): Promise<string[]> {
  const path = join(dir, 'index.json');
  const st = statSync(path);
  if (st.size > MAX_CONFIG_BYTES) throw new DsvError('LimitExceeded', `${path}: ${st.size} bytes, more than ${MAX_CONFIG_BYTES}`);
  let index: { manifests?: Array<{ annotations?: Record<string, string> }> };
  try {
    index = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new DsvError('ManifestInvalid', `${path}: not JSON (${(e as Error).message})`);
  }
  const tags = new Set<string>();
  for (const m of index.manifests ?? []) {
    const t = m.annotations?.[REF_NAME];
    if (typeof t === 'string' && t) tags.add(t);
  }
  return [...tags].sort();
}

/** OCI layouts under `dir` (itself, or its subdirectories, 4 levels deep at most). */
async function findLayouts(dir: string): Promise<string[]> {
  if (existsSync(join(dir, 'oci-layout'))) return [dir];
  const found: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 4) return;
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const sub = join(d, e.name);
      if (existsSync(join(sub, 'oci-layout'))) {
        found.push(sub);
        if (found.length > MAX_LAYOUTS) throw new DsvError('LimitExceeded', `${dir}: more than ${MAX_LAYOUTS} OCI layouts`);
      } else await walk(sub, depth + 1);
    }
  };
  await walk(dir, 0);
  return found.sort();
}

export interface SyncSourceOptions {
  scoped: boolean;
}

/** The repositories SRC names. */
export async function syncSources(ctx: CliContext, src: string, opts: SyncSourceOptions): Promise<SyncRepository[]> {
  const kind = syncSideKind(src);
  if (kind === 'oci') {
    const dir = resolve(src.slice('oci:'.length));
    if (!existsSync(dir)) throw new DsvError('NotFound', `${src}: no such directory`);
    const layouts = await findLayouts(dir);
    if (layouts.length === 0) throw new DsvError('Usage', `${src}: no OCI layout (a directory with oci-layout and index.json) in it`);
    const repos: SyncRepository[] = [];
    for (const layout of layouts) {
      const name = layout === dir ? basename(dir) : relative(dir, layout);
      const tags = await layoutTags(layout);
      repos.push({ name: layout, destName: opts.scoped ? name : lastComponent(name), images: tags.map((tag) => ({ tag, source: `oci:${layout}:${tag}` })) });
    }
    return repos;
  }
  if (kind === 'file') {
    const st = statSync(src, { throwIfNoEntry: false });
    if (!st) throw new DsvError('NotFound', `${src}: no such file`);
    if (st.size > MAX_CONFIG_BYTES) throw new DsvError('LimitExceeded', `${src}: more than ${MAX_CONFIG_BYTES} bytes`);
    const entries = parseSyncConfig(await readFile(src, 'utf8'), src);
    const repos: SyncRepository[] = [];
    for (const e of entries) {
      if (!e.tlsVerify) ctx.system.insecureRegistries = [...new Set([...(ctx.system.insecureRegistries ?? []), e.registry])];
      const names = new Set([...e.images.keys(), ...e.byRegex.keys()]);
      for (const repo of [...names].sort()) {
        const ref = parseRepository(ctx, `docker://${e.registry}/${repo}`);
        const full = formatDockerReference(ref);
        let tags = e.images.get(repo) ?? [];
        const regex = e.byRegex.get(repo);
        if (tags.length === 0 || regex) {
          const all = await listImageTags(ctx, ref);
          tags = [...new Set([...(e.images.get(repo) ?? []), ...(regex ? all.filter((t) => regex.test(t)) : e.images.has(repo) && tags.length === 0 ? all : [])])].sort();
        }
        repos.push({ name: full, destName: opts.scoped ? full : lastComponent(ref.repository), images: tags.map((tag) => ({ tag, source: `docker://${full}:${tag}` })) });
      }
    }
    return repos;
  }
  const bare = src.replace(/^docker:\/\//, '');
  if (bare.includes('@')) throw new DsvError('Usage', `${src}: sync copies tags; name a repository or REPOSITORY:TAG`);
  const colon = bare.lastIndexOf(':');
  const tag = colon > bare.lastIndexOf('/') ? bare.slice(colon + 1) : undefined;
  const ref = parseRepository(ctx, tag === undefined ? src : `docker://${bare.slice(0, colon)}`);
  const full = formatDockerReference(ref);
  const destName = opts.scoped ? full : lastComponent(ref.repository);
  const tags = tag !== undefined ? [tag] : await listImageTags(ctx, ref);
  return [{ name: full, destName, images: tags.map((t) => ({ tag: t, source: `docker://${full}:${t}` })) }];
}

/** Where one repository goes: `docker://host/prefix/NAME` or `oci:DIR/NAME`. */
export function syncDestination(dest: string, destName: string, tag: string): string {
  if (dest.startsWith('oci:')) return `oci:${join(resolve(dest.slice('oci:'.length)), destName)}:${tag}`;
  const base = dest.replace(/^docker:\/\//, '').replace(/\/+$/, '');
  return `docker://${base}/${destName}:${tag}`;
}
