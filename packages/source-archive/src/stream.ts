// docker save archives as streams that cannot be seeked (the Engine API's GET /images/{name}/get and
// POST /images/load): one sequential pass that hashes every entry, and a writer producing a tar stream.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline, finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { DsvError, Limits, digestOf, parseDigest, type Descriptor, type Digest } from '@dsv/core/formats';
import { MAX_MANIFEST_JSON, checkRepositories, configNameDigest, diffIdsOf, parseSaveManifest, type SaveManifestEntry } from './docker-save.js';
import { familiarName, familiarRepository, parseTaggedName } from './names.js';
import { MAX_TAR_ENTRIES, checkEntryName, normaliseEntryName, tarChunks, type TarAddition, type TarEntryType } from './tar.js';
import { detectCompression, isObject, parseJson, type Compression } from './util.js';

export interface ScannedEntry {
  type: TarEntryType;
  size: number;
  /** sha256 of the entry's exact bytes (regular files only). */
  digest?: Digest;
  compression?: Compression;
  /** sha256 of the inflated bytes for gzip entries; equal to `digest` for uncompressed ones. */
  diffId?: Digest;
  linkname?: string;
}

export interface ArchiveScan {
  /** manifest.json, parsed. */
  manifests: SaveManifestEntry[];
  /** Every image's config by its entry name (exact bytes). */
  configs: Map<string, Buffer>;
  /** Every entry by normalised name. */
  entries: Map<string, ScannedEntry>;
  repositories?: Record<string, Record<string, string>>;
  /** index.json of the Docker 25+ layout, parsed. */
  index?: Record<string, unknown>;
  /** Small JSON entries kept in memory (manifest.json, repositories, index.json, configs, manifests). */
  metadata: Map<string, Buffer>;
}

export interface ScanOptions {
  /** Largest entry kept in memory as metadata (default: 4 MiB, core's config limit). */
  maxMetadataEntry?: number;
  /** Total bytes kept in memory (default 64 MiB). */
  maxMetadataTotal?: number;
  signal?: AbortSignal;
}

function invalid(message: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('ArchiveInvalid', message, details);
}

/**
 * Consumes a docker save tar stream once: every regular entry's sha256 and size (and, for gzip entries,
 * the inflated digest) computed while streaming; small JSON entries kept in memory. Nothing is written
 * to disk; no layer is held in memory.
 */
export async function scanDockerArchiveStream(stream: Readable, opts: ScanOptions = {}): Promise<ArchiveScan> {
  const maxEntry = opts.maxMetadataEntry ?? Limits.configBytes;
  const maxTotal = opts.maxMetadataTotal ?? 64 * 1024 * 1024;
  const entries = new Map<string, ScannedEntry>();
  const metadata = new Map<string, Buffer>();
  let kept = 0;
  const ex = extract();
  const piping = pipeline(stream, ex, ...(opts.signal ? [{ signal: opts.signal }] : []) as []);
  piping.catch(() => undefined);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const raw = h.name;
      checkEntryName(raw.startsWith('./') ? raw.slice(2) : raw, 'the archive stream');
      const name = normaliseEntryName(raw);
      if (name === '') {
        entry.resume();
        continue;
      }
      if (entries.has(name)) throw invalid(`duplicate tar entry "${name}" in the archive stream`, { entry: name });
      if (entries.size >= MAX_TAR_ENTRIES) throw new DsvError('LimitExceeded', `the archive stream holds more than ${MAX_TAR_ENTRIES} entries`, { limit: MAX_TAR_ENTRIES });
      const type: TarEntryType =
        h.type === 'file' || h.type === 'contiguous-file' ? 'file'
          : h.type === 'directory' ? 'directory'
            : h.type === 'symlink' ? 'symlink'
              : h.type === 'link' ? 'hardlink' : 'other';
      if (type !== 'file') {
        entries.set(name, { type, size: h.size ?? 0, ...(h.linkname ? { linkname: h.linkname } : {}) });
        for await (const _ of entry) void _;
        continue;
      }
      const size = h.size ?? 0;
      const hash = createHash('sha256');
      const keep = size <= maxEntry && (name === 'manifest.json' || name === 'repositories' || name === 'index.json' || name.endsWith('.json') || name.startsWith('blobs/'));
      if (name === 'manifest.json' && size > MAX_MANIFEST_JSON) throw invalid(`manifest.json in the archive stream is ${size} bytes, over the ${MAX_MANIFEST_JSON}-byte limit`, { entry: name });
      const chunks: Buffer[] = [];
      let keepThis = keep;
      let compression: Compression | undefined;
      let gunzip: ReturnType<typeof createGunzip> | undefined;
      let inflated: ReturnType<typeof createHash> | undefined;
      let gunzipFailed = false;
      let n = 0;
      for await (const c of entry) {
        const chunk = c as Buffer;
        if (compression === undefined) {
          compression = detectCompression(chunk);
          if (keepThis && chunk[0] !== 0x7b && chunk[0] !== 0x5b) keepThis = false; // not JSON
          if (compression === 'gzip') {
            inflated = createHash('sha256');
            const inf = inflated;
            gunzip = createGunzip();
            gunzip.on('data', (d: Buffer) => inf.update(d));
            gunzip.on('error', () => { gunzipFailed = true; });
          }
        }
        hash.update(chunk);
        n += chunk.length;
        if (keepThis) chunks.push(chunk);
        if (gunzip && !gunzipFailed && !gunzip.write(chunk)) await Promise.race([once(gunzip, 'drain'), once(gunzip, 'error')]).catch(() => undefined);
      }
      if (gunzip && !gunzipFailed) {
        gunzip.end();
        await finished(gunzip).catch(() => { gunzipFailed = true; });
      }
      const digest = `sha256:${hash.digest('hex')}` as Digest;
      const se: ScannedEntry = { type, size: n, digest, compression: compression ?? 'none' };
      if (compression === 'gzip' && inflated && !gunzipFailed) se.diffId = `sha256:${inflated.digest('hex')}` as Digest;
      else if (compression !== 'gzip' && compression !== 'zstd') se.diffId = digest;
      entries.set(name, se);
      if (keepThis) {
        kept += n;
        if (kept > maxTotal) throw new DsvError('LimitExceeded', `the archive stream holds more than ${maxTotal} bytes of metadata`, { limit: maxTotal });
        metadata.set(name, Buffer.concat(chunks));
      }
    }
    await piping;
  } catch (e) {
    ex.destroy();
    stream.destroy();
    if (e instanceof DsvError) throw e;
    if ((e as Error)?.name === 'AbortError') throw e;
    throw invalid(`the archive stream is not a valid tar (truncated or corrupt): ${(e as Error)?.message ?? String(e)}`);
  }

  const mj = metadata.get('manifest.json');
  if (!mj) throw invalid('the archive stream has no manifest.json: not a docker save archive');
  const manifests = parseSaveManifest(mj, 'the archive stream');
  const configs = new Map<string, Buffer>();
  for (const [i, m] of manifests.entries()) {
    const name = normaliseEntryName(m.Config);
    const e = entries.get(name);
    if (!e) throw invalid(`config "${m.Config}" of image ${i} is missing from the archive stream`, { entry: m.Config });
    if (e.type !== 'file') throw invalid(`config "${m.Config}" of image ${i} is a ${e.type}, not a regular file`, { entry: m.Config });
    const bytes = metadata.get(name);
    if (!bytes) throw new DsvError('LimitExceeded', `config "${m.Config}" of image ${i} is over the ${maxEntry}-byte limit`, { entry: m.Config });
    const named = configNameDigest(name);
    if (named === undefined || (parseDigest(named).algorithm === 'sha256' && named !== e.digest)) {
      throw new DsvError('DigestMismatch', `the archive stream: config "${m.Config}" of image ${i} has digest ${e.digest}, not the ${named} its name claims`, { entry: m.Config, digest: named, actual: e.digest });
    }
    configs.set(m.Config, bytes);
    const diffIds = diffIdsOf(bytes, `config "${m.Config}"`);
    if (diffIds.length !== m.Layers.length) throw invalid(`image ${i} lists ${m.Layers.length} layers but its config has ${diffIds.length} diff_ids`);
    for (const l of m.Layers) {
      const le = entries.get(normaliseEntryName(l));
      if (!le) throw invalid(`layer "${l}" of image ${i} is missing from the archive stream`, { entry: l });
      if (le.type !== 'file') throw invalid(`layer "${l}" of image ${i} is a ${le.type}, not a regular file; links are not followed`, { entry: l });
    }
  }
  const scan: ArchiveScan = { manifests, configs, entries, metadata };
  const repos = metadata.get('repositories');
  if (repos) {
    scan.repositories = checkRepositories(parseJson(repos, 'repositories'), 'the archive stream');
  }
  const idx = metadata.get('index.json');
  if (idx) {
    const r = parseJson(idx, 'index.json');
    if (isObject(r)) scan.index = r;
  }
  return scan;
}

export interface DockerArchiveLayer {
  descriptor: Descriptor;
  diffId?: Digest;
  /** Opens the layer's bytes (they are checked against the descriptor while written). */
  open(): Promise<Readable>;
}

export interface DockerArchiveImage {
  /** The config's exact bytes. */
  config: Uint8Array;
  layers: DockerArchiveLayer[];
  /** `name:tag` references (normalised to the familiar form docker writes). */
  repoTags?: string[];
}

/**
 * A docker save (legacy layout) tar stream of one or more images, in the form `docker load` accepts:
 * `<config-hex>.json`, `<layer-digest-hex>.tar` (the layer bytes as given, plain or compressed),
 * manifest.json and repositories. Layers are opened one at a time, as the stream is read.
 */
export function writeDockerArchive(images: DockerArchiveImage | DockerArchiveImage[]): Readable {
  const list = Array.isArray(images) ? images : [images];
  const add: TarAddition[] = [];
  const names = new Set<string>();
  const manifest: SaveManifestEntry[] = [];
  const repos: Record<string, Record<string, string>> = {};
  for (const img of list) {
    const configDigest = digestOf(img.config);
    const configName = `${parseDigest(configDigest).hex}.json`;
    const diffIds = diffIdsOf(Buffer.from(img.config), `config ${configDigest}`);
    if (diffIds.length !== img.layers.length) {
      throw new DsvError('ConfigInvalid', `config ${configDigest} has ${diffIds.length} diff_ids for ${img.layers.length} layers`, { digest: configDigest });
    }
    if (!names.has(configName)) {
      names.add(configName);
      add.push({ name: configName, bytes: img.config });
    }
    const layerNames: string[] = [];
    for (const l of img.layers) {
      const ln = `${parseDigest(l.descriptor.digest).hex}.tar`;
      layerNames.push(ln);
      if (names.has(ln)) continue;
      names.add(ln);
      add.push({ name: ln, size: l.descriptor.size, open: () => l.open(), digest: l.descriptor.digest });
    }
    const tags = (img.repoTags ?? []).map((t) => parseTaggedName(t));
    manifest.push({ Config: configName, RepoTags: tags.length ? tags.map(familiarName) : null, Layers: layerNames });
    const top = layerNames[layerNames.length - 1];
    if (top) for (const t of tags) (repos[familiarRepository(t)] ??= {})[t.tag] = top.slice(0, 64);
  }
  add.push({ name: 'manifest.json', bytes: Buffer.from(JSON.stringify(manifest)) });
  if (Object.keys(repos).length) add.push({ name: 'repositories', bytes: Buffer.from(JSON.stringify(repos)) });
  return Readable.from(tarChunks({ add }), { objectMode: false });
}
