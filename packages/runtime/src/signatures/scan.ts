/**
 * What a repository holds for `dsv signatures prune|revoke`: the digests its image tags point at (index
 * children included), its cosign `.sig` and referrers tags, and the lookaside directories of a file://
 * store (`<base>/<repo>@sha256=<hex>`), each with the digest it is for.
 */
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DsvError, isDsvError, type DockerReference } from '@dsv/core/formats';
import { lookasideBase } from '@dsv/signature-simple';
import type { RegistryClient } from '@dsv/source-registry';
import type { DetachedStores } from '../detached/stores.js';
import type { CliContext } from '../context.js';
import { MAX_TAGS, isAttachmentTag, parseRepository } from '../fleet/tags.js';

const SIG_TAG = /^sha256-([0-9a-f]{64})\.sig$/;
const REFERRERS_TAG = /^sha256-([0-9a-f]{64})$/;
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export interface RepositoryScan {
  repo: DockerReference;
  /** host/repo */
  name: string;
  client: RegistryClient;
  /** Image tags → the manifest digest each names. */
  tags: Map<string, string>;
  /** Digests images of the repository have: tagged manifests and the children of tagged indexes. */
  live: Set<string>;
  /** `sha256-<hex>.sig` tags, by the image digest they sign. */
  sigTags: Map<string, string>;
  /** Referrers-tag indexes (`sha256-<hex>`), by the image digest. */
  referrersTags: Map<string, string>;
  /** The file:// lookaside base for this repository (read and staging), if registries.d names one. */
  lookasideBases: string[];
  /** Lookaside directories for the repository, by digest → the directory and the store base it is in. */
  lookasideDirs: Map<string, { path: string; base: string }>;
}

export async function scanRepository(stores: DetachedStores, repo: DockerReference): Promise<RepositoryScan> {
  const name = `${repo.registry}/${repo.repository}`;
  const client = await stores.client(repo.registry);
  let all: string[];
  try {
    all = await client.listTags(repo.repository, { pageSize: 1000 });
  } catch (e) {
    if (isDsvError(e, 'NotFound')) all = [];
    else throw e;
  }
  if (all.length > MAX_TAGS) throw new DsvError('LimitExceeded', `${name} lists ${all.length} tags, more than ${MAX_TAGS}`);
  const tags = new Map<string, string>();
  const live = new Set<string>();
  const sigTags = new Map<string, string>();
  const referrersTags = new Map<string, string>();
  for (const tag of [...new Set(all)].sort()) {
    const sig = SIG_TAG.exec(tag);
    if (sig) {
      sigTags.set(`sha256:${sig[1]}`, tag);
      continue;
    }
    const refs = REFERRERS_TAG.exec(tag);
    if (refs) {
      referrersTags.set(`sha256:${refs[1]}`, tag);
      continue;
    }
    if (isAttachmentTag(tag)) continue;
    let m;
    try {
      m = await client.getManifest(repo.repository, tag);
    } catch (e) {
      if (isDsvError(e, 'NotFound')) continue; // deleted while we listed
      throw e;
    }
    tags.set(tag, m.digest);
    live.add(m.digest);
    if (INDEX_TYPES.has(m.mediaType)) {
      const doc = JSON.parse(Buffer.from(m.bytes).toString('utf8')) as { manifests?: Array<{ digest?: unknown }> };
      for (const c of doc.manifests ?? []) if (typeof c.digest === 'string') live.add(c.digest);
    }
  }
  const lookasideBases: string[] = [];
  for (const write of [false, true]) {
    const base = lookasideBase(stores.registries, `${name}:latest`, write);
    if (base !== undefined && base.startsWith('file:') && !lookasideBases.includes(base)) lookasideBases.push(base);
  }
  const lookasideDirs = new Map<string, { path: string; base: string }>();
  for (const base of lookasideBases) {
    const root = fileURLToPath(base.replace(/\/*$/, '/'));
    const parent = join(root, dirname(repo.repository));
    const leaf = repo.repository.slice(repo.repository.lastIndexOf('/') + 1);
    let entries: string[];
    try {
      entries = await readdir(parent);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new DsvError('IoError', `cannot list lookaside directory ${parent} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    for (const entry of entries.sort()) {
      const m = /^(.+)@sha256=([0-9a-f]{64})$/.exec(entry);
      if (m && m[1] === leaf) lookasideDirs.set(`sha256:${m[2]}`, { path: join(parent, entry), base });
    }
  }
  return { repo, name, client, tags, live, sigTags, referrersTags, lookasideBases, lookasideDirs };
}

/** Deletes a manifest by digest; a registry that refuses DELETE: an error saying how to enable it. */
export async function deleteManifest(scan: RepositoryScan, digest: string, what: string): Promise<void> {
  try {
    await scan.client.deleteManifest(scan.repo.repository, digest);
  } catch (e) {
    if (isDsvError(e, 'NotFound')) return;
    const status = (e as { details?: { status?: number } }).details?.status;
    const codes = (e as { details?: { registryCodes?: string[] } }).details?.registryCodes ?? [];
    if (status === 405 || codes.includes('UNSUPPORTED')) {
      throw new DsvError('RemoteError', `${scan.repo.registry} refuses to delete ${what} (${scan.name}@${digest}): the registry does not allow DELETE of manifests (distribution: set storage.delete.enabled: true)`);
    }
    throw e;
  }
}

/** The manifest digest a tag names, or undefined when it is gone. */
export async function tagDigest(scan: RepositoryScan, tag: string): Promise<{ digest: string; bytes: Uint8Array } | undefined> {
  try {
    const m = await scan.client.getManifest(scan.repo.repository, tag);
    return { digest: m.digest, bytes: m.bytes };
  } catch (e) {
    if (isDsvError(e, 'NotFound')) return undefined;
    throw e;
  }
}

export async function removeDir(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (e) {
    throw new DsvError('IoError', `cannot remove lookaside directory ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** REPO of `dsv signatures SUB` (docker://host/repo, no tag or digest); errors name this command. */
export function repositoryArg(ctx: CliContext, input: string, command: string): DockerReference {
  try {
    return parseRepository(ctx, input);
  } catch (e) {
    if (isDsvError(e, 'Usage')) throw new DsvError('Usage', (e as Error).message.replace('--all-tags takes', `${command} takes`));
    throw e;
  }
}
