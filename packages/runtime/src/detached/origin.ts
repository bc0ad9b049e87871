/**
 * The registry manifest an image's detached signatures are stored under. A docker: image is its own.
 * A local image (docker-daemon:, docker-storage:, docker-archive:, oci:, oci-archive:) names the registry
 * image it came from — Docker's RepoDigests (and RepoTags), a `docker save` archive's RepoTags, a layout's
 * `io.containerd.image.name` — and that registry manifest is read and proved to be this image before its
 * signatures count: its config digest is the local image's configuration digest (Docker: the image ID) and
 * its config's diff_ids are the local ones (which the caller's integrity check proves are what is on disk).
 */
import { DsvError, formatDockerReference, parseDockerReference, type ImageIndex, type ImageManifest, type Manifest } from '@dsv/core/formats';
import { readConfig, readManifest } from '@dsv/core/operations';
import type { ImageReference, ImageSource } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import type { DetachedStores, SignedSubject } from './stores.js';

/** How a local image was tied to its registry manifest. */
export interface RegistryOrigin {
  /** Where the registry reference came from: "RepoDigests", "the archive's RepoTags", ... */
  from: string;
  /** The registry manifest's config digest (= the local image's configuration digest). */
  configDigest: string;
  /** How many diff_ids were compared. */
  diffIds: number;
}

export interface FoundSubject {
  subject: SignedSubject;
  /** The registry manifest's exact bytes (the top one: an index when the registry image is multi-platform). */
  manifestBytes: Uint8Array;
  origin?: RegistryOrigin;
}

const LOCAL = new Set(['docker-daemon', 'docker-storage', 'docker-archive', 'oci', 'oci-archive']);

interface Candidate {
  /** host/repo@digest or host/repo:tag */
  reference: string;
  /** The identity to judge by (a tag in the same repository when known). */
  identity: string;
  from: string;
}

function normalise(name: string): string | undefined {
  try {
    return formatDockerReference(parseDockerReference(name, { defaultRegistry: 'docker.io' }));
  } catch {
    return undefined;
  }
}

function repoOf(ref: string): string {
  const p = parseDockerReference(ref, { defaultRegistry: 'docker.io' });
  return `${p.registry}/${p.repository}`;
}

/** Docker's store: RepoDigests (preferred) and RepoTags of the image, from the Engine API. */
async function dockerCandidates(ctx: CliContext, name: string): Promise<{ candidates: Candidate[]; id?: string }> {
  const { EngineClient, engineOptionsFrom } = await import('@dsv/source-repository');
  const client = new EngineClient(engineOptionsFrom(ctx.system));
  const path = `/images/${name.split('/').map(encodeURIComponent).join('/')}/json`;
  const info = await client.json<{ Id?: string; RepoDigests?: string[] | null; RepoTags?: string[] | null }>('GET', path, `inspect image ${name}`);
  const tags = (info.RepoTags ?? []).map(normalise).filter((t): t is string => t !== undefined);
  const wanted = normalise(name);
  const candidates: Candidate[] = [];
  for (const rd of info.RepoDigests ?? []) {
    const ref = normalise(rd);
    if (!ref) continue;
    const repo = repoOf(ref);
    // The identity: the name given when it is in that repository, else a tag there, else the digest reference.
    const identity = (wanted && repoOf(wanted) === repo ? wanted : undefined) ?? tags.find((t) => repoOf(t) === repo) ?? ref;
    candidates.push({ reference: ref, identity, from: `RepoDigests ${rd}` });
  }
  // The RepoDigest in the named repository first.
  if (wanted) candidates.sort((a, b) => Number(repoOf(b.reference) === repoOf(wanted)) - Number(repoOf(a.reference) === repoOf(wanted)));
  return { candidates, ...(info.Id ? { id: info.Id } : {}) };
}

/** Names the local source itself records (archive RepoTags, a layout's io.containerd.image.name). */
function sourceNames(source: ImageSource): Array<{ name: string; from: string }> {
  const s = source as unknown as { image?: { repoTags?: string[] }; descriptor?: { annotations?: Record<string, string> } };
  const out: Array<{ name: string; from: string }> = [];
  for (const t of s.image?.repoTags ?? []) out.push({ name: t, from: `the archive's RepoTags ${t}` });
  const ann = s.descriptor?.annotations?.['io.containerd.image.name'];
  if (ann) out.push({ name: ann, from: `the layout's io.containerd.image.name ${ann}` });
  return out;
}

/** The local image's configuration digest and diff_ids (a local index: every child's). */
async function localConfigs(source: ImageSource, top: Manifest): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const manifests: ImageManifest[] = [];
  if (top.kind === 'manifest') manifests.push(top);
  else for (const d of (top as ImageIndex).manifests) {
    const m = await readManifest(source, d.digest);
    if (m.kind === 'manifest') manifests.push(m);
  }
  for (const m of manifests) out.set(m.config.digest, (await readConfig(source, m)).diffIds);
  return out;
}

/**
 * Reads `c` from the registry and proves it is the local image: a manifest (or an index child) whose
 * config digest is a local configuration's and whose config lists the same diff_ids. Undefined when not.
 */
async function prove(stores: DetachedStores, c: Candidate, local: Map<string, string[]>, localTop: Manifest): Promise<FoundSubject | { why: string }> {
  const ref = await stores.dockerImage(c.reference);
  const src = await ref.newSource();
  try {
    const top = await readManifest(src);
    if (ref.digest && top.digest !== ref.digest) return { why: `${c.reference}: the registry answered manifest ${top.digest}` };
    const digestRef = `${repoOf(c.reference)}@${top.digest}`;
    const subject: SignedSubject = { dockerReference: c.identity, manifestDigest: top.digest };
    if (top.digest === localTop.digest) {
      const cfg = top.kind === 'manifest' ? top.config.digest : [...local.keys()][0]!;
      return { subject, manifestBytes: top.bytes, origin: { from: `${c.from} (the same manifest bytes)`, configDigest: cfg, diffIds: local.get(cfg)?.length ?? 0 } };
    }
    const children: ImageManifest[] = top.kind === 'manifest' ? [top] : [];
    if (top.kind === 'index') {
      for (const d of top.manifests) {
        if ((d as { platform?: unknown }).platform === undefined && top.manifests.length > 1 && !d.mediaType.includes('manifest')) continue;
        const m = await readManifest(src, d.digest);
        if (m.kind === 'manifest' && local.has(m.config.digest)) children.push(m);
      }
    }
    const match = children.find((m) => local.has(m.config.digest));
    if (!match) return { why: `${digestRef}: its config digest is not the local image's (${[...local.keys()].join(', ')})` };
    const remote = (await readConfig(src, match)).diffIds;
    const mine = local.get(match.config.digest)!;
    if (remote.length !== mine.length || remote.some((d, i) => d !== mine[i])) {
      return { why: `${digestRef}: its diff_ids are not the local image's` };
    }
    return { subject, manifestBytes: top.bytes, origin: { from: c.from, configDigest: match.config.digest, diffIds: mine.length } };
  } finally {
    await src.close();
  }
}

/**
 * The registry manifest whose signatures judge `ref`: undefined when the image names none (only
 * embedded signatures apply then). A named registry image that cannot be proved to be this one is an
 * error (Untrusted): its signatures must not be taken for this image's.
 */
export async function registrySubject(ctx: CliContext, stores: DetachedStores, ref: ImageReference, top: Manifest): Promise<FoundSubject | undefined> {
  const transport = ref.transport.name;
  if (transport === 'docker') {
    const parsed = stores.parseDocker(ref.within);
    return { subject: { dockerReference: formatDockerReference(parsed), manifestDigest: top.digest }, manifestBytes: top.bytes };
  }
  if (!LOCAL.has(transport)) return undefined;
  const source = await ref.newSource(ctx.system);
  let candidates: Candidate[] = [];
  let local: Map<string, string[]>;
  try {
    local = await localConfigs(source, top);
    if (transport === 'docker-daemon' || transport === 'docker-storage') {
      const name = ref.within.startsWith('//') ? ref.within.slice(2) : ref.within;
      candidates = (await dockerCandidates(ctx, name)).candidates;
    } else {
      for (const n of sourceNames(source)) {
        const r = normalise(n.name);
        if (r) candidates.push({ reference: r, identity: r, from: n.from });
      }
    }
  } finally {
    await source.close();
  }
  if (candidates.length === 0) return undefined;
  const why: string[] = [];
  for (const c of candidates) {
    let r: FoundSubject | { why: string };
    try {
      r = await prove(stores, c, local, top);
    } catch (e) {
      why.push(`${c.reference}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if ('subject' in r) return r;
    why.push(r.why);
  }
  throw new DsvError('Untrusted', `${ref.toString()}: the registry image it came from could not be proved to be this image (${why.join('; ')})`);
}
