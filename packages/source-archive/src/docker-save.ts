// The `docker save` archive model: both layouts docker writes (legacy: manifest.json + <id>.json +
// <layer>/layer.tar; Docker 25+: the same manifest.json pointing into an OCI layout's blobs/sha256/…),
// several images and tags per archive, plain and compressed layer files.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { DsvError, Limits, MediaTypes, digestOf, parseDigest, type Descriptor, type Digest } from '@dsv/core/formats';
import { TarIndex, type TarEntry } from './tar.js';
import { parseTaggedName, sameName, type TaggedName } from './names.js';
import { checkDescribed, descriptorOf, detectCompression, digestFromBlobPath, isObject, parseJson, type Compression } from './util.js';

/** manifest.json over this size is refused before it is read. */
export const MAX_MANIFEST_JSON = 1024 * 1024;
/** All configs of an archive are read when it is opened: their total is bounded. */
export const MAX_CONFIGS_TOTAL = 64 * 1024 * 1024;

export interface SaveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  [key: string]: unknown;
}

export interface ArchiveLayer {
  /** Entry name as written in manifest.json. */
  path: string;
  entry: TarEntry;
  compression: Compression;
  diffId: Digest;
  mediaType: string;
  /** Digest of the layer file's exact bytes (computed lazily for compressed legacy layers). */
  digest?: Digest;
  size: number;
}

export interface ArchiveImage {
  index: number;
  entry: SaveManifestEntry;
  configPath: string;
  configEntry: TarEntry;
  configBytes: Buffer;
  configDigest: Digest;
  repoTags: string[];
  layers: ArchiveLayer[];
}

export type SaveLayout = 'legacy' | 'oci';

function invalid(path: string, message: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('ArchiveInvalid', `${path}: ${message}`, { path, ...details });
}

/** Validates manifest.json's shape (array of {Config, RepoTags, Layers}). */
export function parseSaveManifest(bytes: Uint8Array, where: string): SaveManifestEntry[] {
  const doc = parseJson(bytes, `${where}: manifest.json`);
  if (!Array.isArray(doc)) throw invalid(where, 'manifest.json is not a JSON array');
  return doc.map((e, i) => {
    if (!isObject(e)) throw invalid(where, `manifest.json entry ${i} is not an object`);
    if (typeof e.Config !== 'string' || !e.Config) throw invalid(where, `manifest.json entry ${i} has no Config`);
    if (!Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) throw invalid(where, `manifest.json entry ${i} has no valid Layers list`);
    if (e.RepoTags != null && (!Array.isArray(e.RepoTags) || e.RepoTags.some((t) => typeof t !== 'string'))) throw invalid(where, `manifest.json entry ${i} has an invalid RepoTags list`);
    if (configNameDigest(e.Config) === undefined) {
      throw invalid(where, `manifest.json entry ${i}: config "${e.Config.slice(0, 100)}" is not named by its digest (<hex>.json or blobs/<algorithm>/<hex>)`, { entry: e.Config.slice(0, 100) });
    }
    for (const t of (e.RepoTags ?? []) as string[]) checkImageName(t, where, `manifest.json entry ${i} RepoTags`);
    return e as SaveManifestEntry;
  });
}

/** The digest a config entry's name claims: `<64 hex>.json` (docker save before 25) or `blobs/sha256/<hex>`. */
export function configNameDigest(name: string): Digest | undefined {
  const n = name.startsWith('./') ? name.slice(2) : name;
  if (/^[0-9a-f]{64}\.json$/.test(n)) return `sha256:${n.slice(0, 64)}` as Digest;
  return digestFromBlobPath(n);
}

/** An image name read from an archive must be a valid NAME:TAG reference; it is written back as is. */
export function checkImageName(text: string, where: string, what: string): void {
  try {
    parseTaggedName(text);
  } catch (e) {
    const why = e instanceof DsvError ? e.message.replace(/^invalid image name "[^]*?": /, '') : String(e);
    throw invalid(where, `${what}: "${text.slice(0, 100)}" is not a valid image name (${why})`, { name: text.slice(0, 100) });
  }
}

/** The `repositories` file ({repo: {tag: id}}): every repo:tag must be a valid name. */
export function checkRepositories(doc: unknown, where: string): Record<string, Record<string, string>> {
  if (!isObject(doc)) throw invalid(where, 'repositories is not a JSON object');
  for (const [repo, tags] of Object.entries(doc)) {
    if (!isObject(tags)) throw invalid(where, `repositories: "${repo.slice(0, 100)}" does not map tags to ids`);
    for (const [tag, id] of Object.entries(tags)) {
      if (typeof id !== 'string') throw invalid(where, `repositories: ${repo.slice(0, 100)}:${tag.slice(0, 100)} does not map to an id`);
      checkImageName(`${repo}:${tag}`, where, 'repositories');
    }
  }
  return doc as Record<string, Record<string, string>>;
}

export function diffIdsOf(config: Buffer, where: string): Digest[] {
  const doc = parseJson(config, where, 'ConfigInvalid');
  const rootfs = isObject(doc) ? doc.rootfs : undefined;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw new DsvError('ConfigInvalid', `${where}: config has no rootfs.diff_ids`, { entry: where });
  return ids.map((d) => parseDigest(String(d)).digest);
}

export async function hashEntry(tar: TarIndex, e: TarEntry): Promise<Digest> {
  const h = createHash('sha256');
  await pipeline(tar.openEntry(e), new Writable({ write(c, _e, cb) { h.update(c); cb(); } }));
  return `sha256:${h.digest('hex')}` as Digest;
}

const LAYER_MEDIA: Record<Compression, string> = {
  none: MediaTypes.DockerLayerTar,
  gzip: MediaTypes.DockerLayerGzip,
  zstd: MediaTypes.DockerLayerZstd,
};

export class DockerSaveArchive {
  readonly tar: TarIndex;
  readonly path: string;
  readonly manifest: SaveManifestEntry[];
  readonly images: ArchiveImage[];
  readonly layout: SaveLayout;
  readonly repositories?: Record<string, Record<string, string>>;
  /** index.json (Docker 25+ layout), parsed. */
  readonly ociIndex?: Record<string, unknown>;

  private constructor(tar: TarIndex, manifest: SaveManifestEntry[], images: ArchiveImage[], layout: SaveLayout, repositories?: Record<string, Record<string, string>>, ociIndex?: Record<string, unknown>) {
    this.tar = tar;
    this.path = tar.path;
    this.manifest = manifest;
    this.images = images;
    this.layout = layout;
    if (repositories) this.repositories = repositories;
    if (ociIndex) this.ociIndex = ociIndex;
  }

  static async open(path: string): Promise<DockerSaveArchive> {
    const tar = await TarIndex.open(path);
    return DockerSaveArchive.load(tar);
  }

  static async load(tar: TarIndex): Promise<DockerSaveArchive> {
    const where = tar.path;
    if (!tar.has('manifest.json')) {
      throw invalid(where, tar.has('repositories') ? 'no manifest.json: pre-1.10 archives (repositories only) are not supported' : 'no manifest.json: not a docker save archive');
    }
    const manifestBytes = await tar.readEntry('manifest.json', MAX_MANIFEST_JSON, 'manifest.json');
    const manifest = parseSaveManifest(manifestBytes, where);
    let repositories: Record<string, Record<string, string>> | undefined;
    if (tar.has('repositories')) {
      const r = parseJson(await tar.readEntry('repositories', MAX_MANIFEST_JSON, 'repositories'), `${where}: repositories`);
      repositories = checkRepositories(r, where);
    }
    let ociIndex: Record<string, unknown> | undefined;
    if (tar.has('index.json')) {
      const r = parseJson(await tar.readEntry('index.json', Limits.manifestBytes, 'index.json'), `${where}: index.json`);
      if (!isObject(r) || !Array.isArray(r.manifests)) throw invalid(where, 'index.json has no manifests list');
      for (const d of r.manifests) {
        const n = isObject(d) && isObject(d.annotations) ? d.annotations['io.containerd.image.name'] : undefined;
        if (typeof n === 'string') checkImageName(n, where, 'index.json io.containerd.image.name');
      }
      ociIndex = r;
    }
    const layout: SaveLayout = manifest.some((m) => digestFromBlobPath(m.Config)) || ociIndex ? 'oci' : 'legacy';

    const images: ArchiveImage[] = [];
    let configTotal = 0;
    for (const [index, entry] of manifest.entries()) {
      const configEntry = tar.regular(entry.Config, 'config');
      configTotal += configEntry.size;
      if (configTotal > MAX_CONFIGS_TOTAL) {
        throw new DsvError('LimitExceeded', `${where}: the image configurations add up to more than ${MAX_CONFIGS_TOTAL} bytes`, { path: where, limit: MAX_CONFIGS_TOTAL });
      }
      const configBytes = await tar.readEntry(entry.Config, Limits.configBytes, 'config');
      const configDigest = digestOf(configBytes);
      const named = configNameDigest(configEntry.name);
      if (named !== configDigest) {
        throw new DsvError('DigestMismatch', `${where}: config "${configEntry.name}" has digest ${configDigest}, not the ${named} its name claims`, { path: where, entry: configEntry.name, digest: named, actual: configDigest });
      }
      const diffIds = diffIdsOf(configBytes, `${where}: config "${configEntry.name}"`);
      if (diffIds.length !== entry.Layers.length) {
        throw invalid(where, `image ${index} lists ${entry.Layers.length} layers but its config "${configEntry.name}" has ${diffIds.length} diff_ids`);
      }
      const layers: ArchiveLayer[] = [];
      for (const [i, lp] of entry.Layers.entries()) {
        const le = tar.get(lp);
        if (!le) throw invalid(where, `layer "${lp}" of image ${index} is missing from the archive`, { entry: lp });
        const e = tar.regular(lp, 'layer');
        const compression = detectCompression(await tar.peek(e, 4));
        const byName = digestFromBlobPath(e.name);
        const layer: ArchiveLayer = {
          path: lp,
          entry: e,
          compression,
          diffId: diffIds[i]!,
          mediaType: LAYER_MEDIA[compression],
          size: e.size,
        };
        if (byName) layer.digest = byName;
        else if (compression === 'none') layer.digest = diffIds[i]!;
        layers.push(layer);
      }
      images.push({ index, entry, configPath: entry.Config, configEntry, configBytes, configDigest, repoTags: entry.RepoTags ?? [], layers });
    }
    return new DockerSaveArchive(tar, manifest, images, layout, repositories, ociIndex);
  }

  /** NAME:TAG among RepoTags, `@N`, or the only image. */
  select(sel: { name?: TaggedName; index?: number }): ArchiveImage {
    if (sel.index !== undefined) {
      const img = this.images[sel.index];
      if (!img) throw new DsvError('NotFound', `${this.path}: no image @${sel.index} (the archive holds ${this.images.length})`, { path: this.path });
      return img;
    }
    if (sel.name) {
      const n = sel.name;
      const found = this.images.filter((img) => img.repoTags.some((t) => sameName(t, n)));
      if (found.length === 0) throw new DsvError('NotFound', `${this.path}: no image tagged ${n.domain === 'docker.io' ? '' : `${n.domain}/`}${n.path}:${n.tag}`, { path: this.path });
      if (found.length > 1) throw invalid(this.path, `several images are tagged ${n.path}:${n.tag}`);
      return found[0]!;
    }
    if (this.images.length !== 1) {
      throw new DsvError('Usage', `${this.path} holds ${this.images.length} images: name one as docker-archive:${this.path}:NAME:TAG or :@N`, { path: this.path });
    }
    return this.images[0]!;
  }

  /** Fills in digests of compressed legacy layer files (one pass over each such file). */
  async resolveDigests(img: ArchiveImage): Promise<void> {
    for (const l of img.layers) l.digest ??= await hashEntry(this.tar, l.entry);
  }

  /** The real manifest blob of an image in the Docker 25+ layout (found through index.json), if any. */
  async realManifest(img: ArchiveImage): Promise<{ bytes: Buffer; mediaType: string; digest: Digest } | undefined> {
    if (!this.ociIndex) return undefined;
    const queue: Array<{ d: unknown; depth: number }> = (this.ociIndex.manifests as unknown[]).map((d) => ({ d, depth: 0 }));
    while (queue.length) {
      const { d, depth } = queue.shift()!;
      let desc: Descriptor;
      try {
        desc = descriptorOf(d, `${this.path}: index.json`, 'ArchiveInvalid');
      } catch {
        continue;
      }
      const name = `blobs/${desc.digest.replace(':', '/')}`;
      const e = this.tar.get(name);
      if (!e || e.type !== 'file' || e.size > Limits.manifestBytes) continue;
      const bytes = await this.tar.readEntry(name, Limits.manifestBytes, 'manifest');
      checkDescribed(bytes, desc, `${this.path}: manifest blob "${name}"`, { path: this.path, entry: name });
      const doc = parseJson(bytes, `${this.path}: manifest blob "${name}"`, 'ManifestInvalid');
      if (!isObject(doc)) continue;
      if (Array.isArray(doc.manifests) && depth < Limits.indexDepth) {
        for (const c of doc.manifests) queue.push({ d: c, depth: depth + 1 });
        continue;
      }
      const cfg = isObject(doc.config) ? doc.config : undefined;
      if (cfg && cfg.digest === img.configDigest) {
        return { bytes, mediaType: typeof doc.mediaType === 'string' ? doc.mediaType : desc.mediaType, digest: desc.digest };
      }
    }
    return undefined;
  }

  /** A Docker v2 schema 2 manifest for the image: config = exact config bytes, layers = exact layer files. */
  async synthesiseManifest(img: ArchiveImage): Promise<Buffer> {
    await this.resolveDigests(img);
    const m = {
      schemaVersion: 2,
      mediaType: MediaTypes.DockerManifest,
      config: { mediaType: MediaTypes.DockerConfig, size: img.configBytes.length, digest: img.configDigest },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest! })),
    };
    return Buffer.from(JSON.stringify(m), 'utf8');
  }

  /** The archive entry holding a blob of this image, by digest. */
  entryFor(img: ArchiveImage, digest: string): TarEntry | undefined {
    if (digest === img.configDigest) return img.configEntry;
    for (const l of img.layers) if (l.digest === digest) return l.entry;
    const byName = this.tar.get(`blobs/${digest.replace(':', '/')}`);
    if (byName && /^[a-z0-9]+:[0-9a-f]+$/.test(digest)) return this.tar.regular(byName.name, 'blob');
    return undefined;
  }

  /** Every blob this archive can serve by digest (configs, layers whose digest is known, OCI blobs). */
  knownBlobs(): Map<Digest, TarEntry> {
    const m = new Map<Digest, TarEntry>();
    for (const img of this.images) {
      if (!m.has(img.configDigest)) m.set(img.configDigest, img.configEntry);
      for (const l of img.layers) if (l.digest && !m.has(l.digest)) m.set(l.digest, l.entry);
    }
    for (const e of this.tar.entries) {
      const d = digestFromBlobPath(e.name);
      if (d && e.type === 'file' && !m.has(d)) m.set(d, e);
    }
    return m;
  }
}
