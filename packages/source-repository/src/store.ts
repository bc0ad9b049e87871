/**
 * Docker's on-disk image store (the graph-driver layout, Docker ≤ 28 default):
 *
 *   <root>/image/<driver>/repositories.json              {"Repositories":{"repo":{"repo:tag":"sha256:<id>"}}}
 *   <root>/image/<driver>/imagedb/content/sha256/<id>     the image config; its sha256 is <id>
 *   <root>/image/<driver>/layerdb/sha256/<chain-id>/      diff (diff_id), size, cache-id, tar-split.json.gz, parent
 *   overlay2: <root>/overlay2/<cache-id>/diff   aufs: <root>/aufs/diff/<cache-id>   vfs: <root>/vfs/dir/<cache-id>
 *   btrfs: <root>/btrfs/subvolumes/<cache-id>   devicemapper: thin device (see devicemapper.ts)
 *
 * chain(0) = diff_id(0); chain(n) = sha256(chain(n-1) + " " + diff_id(n)).
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DsvError, digestOf, isDigest, type Digest, type DigestAlgorithm } from '@dsv/core/formats';
import type { TarSplitHashPool } from './hash-pool.js';
import { mountDevicemapperLayer } from './devicemapper.js';
import type { LocalImageRef } from './reference.js';
import { formatLocalImageRef } from './reference.js';
import { createTarSplitReader, tarSplitSize } from './tarsplit.js';

export const DirectoryDrivers = ['overlay2', 'aufs', 'vfs', 'btrfs'] as const;
export const SupportedDrivers = [...DirectoryDrivers, 'devicemapper'] as const;
export type StorageDriver = (typeof SupportedDrivers)[number];
/** Drivers we recognise but cannot read on disk. */
const KnownUnsupported = ['zfs', 'overlay', 'fuse-overlayfs', 'windowsfilter'];

export interface StoreOptions {
  /** Storage driver; detected from `<root>/image/*` when absent. */
  driver?: string;
  /** devicemapper thin pool name (else Docker's default name). */
  devicemapperPool?: string;
  /** PATH to find dmsetup / mount in, for devicemapper. */
  searchPath?: string;
}

export interface StoreLayer {
  index: number;
  diffId: Digest;
  chainId: Digest;
  cacheId: string;
  /** `<root>/image/<driver>/layerdb/sha256/<chain-id>` */
  layerdbDir: string;
}

export interface StoreImage {
  driver: StorageDriver;
  /** `sha256:<hex>`: the config's digest. */
  id: Digest;
  configPath: string;
  /** The config's exact bytes. */
  config: Buffer;
  layers: StoreLayer[];
}

/** Docker's chain ids for a list of diff_ids. */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  for (const [i, d] of diffIds.entries()) out.push(i === 0 ? (d as Digest) : digestOf(`${out[i - 1]} ${d}`));
  return out;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function ioError(e: unknown, what: string, path: string): DsvError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new DsvError('NotFound', `${what} ${path} is missing`, { path });
  return new DsvError('IoError', `cannot read ${what} ${path}: ${code ?? (e as Error).message}`, { path });
}

async function readSmall(path: string, what: string, limit = 4 * 1024 * 1024): Promise<Buffer> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw ioError(e, what, path);
  }
  if (!st.isFile()) throw new DsvError('ArchiveInvalid', `${what} ${path} is not a regular file`, { path });
  if (st.size > limit) throw new DsvError('LimitExceeded', `${what} ${path} is over ${limit} bytes`, { path, limit });
  try {
    return await readFile(path);
  } catch (e) {
    throw ioError(e, what, path);
  }
}

/** Storage drivers with an image store under `<root>/image/`. */
export async function detectDrivers(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(root, 'image'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && existsSync(join(root, 'containerd'))) {
      throw new DsvError('Unsupported', `${root} uses the containerd image store (no ${join(root, 'image')}); docker-storage: reads the graph-driver store only: use docker-daemon: instead`, { path: root });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new DsvError('NotFound', `no Docker image store at ${join(root, 'image')} (set DSV_DOCKER_ROOT or use docker-daemon:)`, { path: join(root, 'image') });
    if (code === 'EACCES' || code === 'EPERM') throw new DsvError('IoError', `cannot read Docker's store at ${root}: permission denied (run as root or use docker-daemon:)`, { path: root });
    throw ioError(e, 'Docker image store', join(root, 'image'));
  }
  const found = names.filter((n) => existsSync(join(root, 'image', n, 'imagedb')) || existsSync(join(root, 'image', n, 'repositories.json')));
  // Prefer drivers we can read, in a stable order.
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
function rank(d: string): number {
  const i = (SupportedDrivers as readonly string[]).indexOf(d);
  return i < 0 ? 100 : i;
}

export class DockerStore {
  readonly root: string;
  readonly driver: string;
  readonly base: string;
  private readonly opts: StoreOptions;

  constructor(root: string, driver: string, opts: StoreOptions = {}) {
    this.root = root;
    this.driver = driver;
    this.base = join(root, 'image', driver);
    this.opts = opts;
  }

  /** Opens the store, detecting the driver; with several, the one that holds `ref` (when given). */
  static async open(root: string, opts: StoreOptions = {}, ref?: LocalImageRef): Promise<{ store: DockerStore; id?: Digest }> {
    if (opts.driver) {
      if (!existsSync(join(root, 'image', opts.driver))) {
        throw new DsvError('NotFound', `no ${opts.driver} image store at ${join(root, 'image', opts.driver)}`, { path: join(root, 'image', opts.driver) });
      }
      const store = new DockerStore(root, opts.driver, opts);
      return { store, id: ref ? await store.resolve(ref) : undefined };
    }
    const drivers = await detectDrivers(root);
    if (!drivers.length) throw new DsvError('NotFound', `no Docker image store under ${join(root, 'image')}`, { path: join(root, 'image') });
    if (!ref || drivers.length === 1) {
      const store = new DockerStore(root, drivers[0]!, opts);
      return { store, id: ref ? await store.resolve(ref) : undefined };
    }
    let first: unknown;
    for (const d of drivers) {
      const store = new DockerStore(root, d, opts);
      try {
        return { store, id: await store.resolve(ref) };
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }

  private checkDriver(): StorageDriver {
    if ((SupportedDrivers as readonly string[]).includes(this.driver)) return this.driver as StorageDriver;
    const known = KnownUnsupported.includes(this.driver) ? 'is' : 'is an unknown driver and';
    throw new DsvError('Unsupported', `storage driver ${this.driver} ${known} not supported by docker-storage:; use docker-daemon: instead`, { driver: this.driver });
  }

  async repositories(): Promise<Record<string, Record<string, string>>> {
    const path = join(this.base, 'repositories.json');
    if (!existsSync(path)) return {};
    const bytes = await readSmall(path, 'repositories file', 64 * 1024 * 1024);
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new DsvError('ArchiveInvalid', `${path} is not valid JSON`, { path });
    }
    const repos = (doc as { Repositories?: unknown })?.Repositories;
    if (repos === undefined || repos === null) return {};
    if (typeof repos !== 'object' || Array.isArray(repos)) throw new DsvError('ArchiveInvalid', `${path}: "Repositories" is not an object`, { path });
    return repos as Record<string, Record<string, string>>;
  }

  /** The image id a reference names. */
  async resolve(ref: LocalImageRef): Promise<Digest> {
    const contentDir = join(this.base, 'imagedb', 'content', 'sha256');
    if (ref.kind === 'id') {
      if (ref.id.startsWith('sha256:')) {
        if (!existsSync(join(contentDir, ref.id.slice(7)))) throw new DsvError('NotFound', `image ${ref.id} not found in ${contentDir}`, { image: ref.id, path: contentDir });
        return ref.id as Digest;
      }
      let names: string[] = [];
      try {
        names = await readdir(contentDir);
      } catch (e) {
        throw ioError(e, 'image config directory', contentDir);
      }
      const matches = names.filter((n) => n.startsWith(ref.id) && /^[0-9a-f]{64}$/.test(n));
      if (matches.length === 1) return `sha256:${matches[0]}` as Digest;
      if (matches.length > 1) throw new DsvError('ReferenceInvalid', `image id prefix ${ref.id} is ambiguous (${matches.length} images)`, { image: ref.id });
      // A bare hex word may also be a repository name.
      const byName = await this.lookupName({ kind: 'name', repository: ref.id, tag: 'latest' });
      if (byName) return byName;
      throw new DsvError('NotFound', `image ${ref.id} not found in ${contentDir}`, { image: ref.id, path: contentDir });
    }
    const id = await this.lookupName(ref);
    if (!id) throw new DsvError('NotFound', `image ${formatLocalImageRef(ref)} not found in ${join(this.base, 'repositories.json')}`, { image: formatLocalImageRef(ref), path: join(this.base, 'repositories.json') });
    return id;
  }

  private async lookupName(ref: Extract<LocalImageRef, { kind: 'name' }>): Promise<Digest | undefined> {
    const repos = await this.repositories();
    const entries = repos[ref.repository];
    if (!entries || typeof entries !== 'object') return undefined;
    const key = ref.digest ? `${ref.repository}@${ref.digest}` : `${ref.repository}:${ref.tag ?? 'latest'}`;
    const id = entries[key];
    if (id === undefined) return undefined;
    if (!isDigest(id)) throw new DsvError('ArchiveInvalid', `${join(this.base, 'repositories.json')}: ${key} maps to an invalid id`, { image: key });
    return id as Digest;
  }

  /** Reads the config (checking its digest is its file name) and each layer's metadata. */
  async loadImage(id: Digest): Promise<StoreImage> {
    const driver = this.checkDriver();
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new DsvError('DigestInvalid', `invalid image id ${id}`, { image: id });
    const configPath = join(this.base, 'imagedb', 'content', 'sha256', id.slice(7));
    const config = await readSmall(configPath, 'image config', 16 * 1024 * 1024);
    const actual = digestOf(config);
    if (actual !== id) {
      throw new DsvError('DigestMismatch', `image config ${configPath} changed on disk: its sha256 is ${actual}, not its name ${id}`, { image: id, actual, path: configPath });
    }
    let doc: { rootfs?: { diff_ids?: unknown } };
    try {
      doc = JSON.parse(config.toString('utf8')) as typeof doc;
    } catch {
      throw new DsvError('ConfigInvalid', `image config ${configPath} is not valid JSON`, { path: configPath });
    }
    const diffIds = doc?.rootfs?.diff_ids ?? [];
    if (!Array.isArray(diffIds) || !diffIds.every((d) => isDigest(d))) {
      throw new DsvError('ConfigInvalid', `image config ${configPath}: rootfs.diff_ids is not a list of digests`, { path: configPath });
    }
    const chains = chainIds(diffIds as string[]);
    const layers: StoreLayer[] = [];
    for (const [index, diffId] of (diffIds as Digest[]).entries()) {
      const chainId = chains[index]!;
      const layerdbDir = join(this.base, 'layerdb', chainId.replace(':', '/'));
      const label = layerLabel(index, diffId);
      if (!existsSync(layerdbDir)) throw new DsvError('NotFound', `${label}: layer metadata ${layerdbDir} is missing`, { layer: index, diffId, chainId, path: layerdbDir });
      const diff = (await readSmall(join(layerdbDir, 'diff'), `${label}: diff file`, 1024)).toString('utf8').trim();
      if (diff !== diffId) {
        throw new DsvError('ArchiveInvalid', `${label}: ${join(layerdbDir, 'diff')} says ${diff.slice(0, 80)}, the config says ${diffId}`, { layer: index, diffId, chainId, path: join(layerdbDir, 'diff') });
      }
      const cacheId = (await readSmall(join(layerdbDir, 'cache-id'), `${label}: cache-id file`, 1024)).toString('utf8').trim();
      if (!SAFE_ID.test(cacheId) || cacheId.includes('..')) {
        throw new DsvError('ArchiveInvalid', `${label}: ${join(layerdbDir, 'cache-id')} holds an invalid id`, { layer: index, path: join(layerdbDir, 'cache-id') });
      }
      layers.push({ index, diffId, chainId, cacheId, layerdbDir });
    }
    return { driver, id, configPath, config, layers };
  }

  /** The driver's directory holding a layer's files (directory drivers only). */
  layerDirectory(layer: StoreLayer): string {
    switch (this.driver) {
      case 'overlay2':
        return join(this.root, 'overlay2', layer.cacheId, 'diff');
      case 'aufs':
        return join(this.root, 'aufs', 'diff', layer.cacheId);
      case 'vfs':
        return join(this.root, 'vfs', 'dir', layer.cacheId);
      case 'btrfs':
        return join(this.root, 'btrfs', 'subvolumes', layer.cacheId);
      default:
        throw new DsvError('Unsupported', `storage driver ${this.driver} keeps no layer directory`, { driver: this.driver });
    }
  }

  tarSplitPath(layer: StoreLayer): string {
    return join(layer.layerdbDir, 'tar-split.json.gz');
  }

  private openTarSplit(layer: StoreLayer): Readable {
    const path = this.tarSplitPath(layer);
    if (!existsSync(path)) {
      throw new DsvError('NotFound', `${layerLabel(layer.index, layer.diffId)}: ${path} is missing (this layer cannot be rebuilt; use docker-daemon:)`, { layer: layer.index, diffId: layer.diffId, path });
    }
    return createReadStream(path);
  }

  /** Length in bytes of the layer's tar stream, from its tar-split metadata alone. */
  async layerTarSize(layer: StoreLayer): Promise<number> {
    return tarSplitSize(this.openTarSplit(layer), { layer: layerLabel(layer.index, layer.diffId) });
  }

  /** The digest and length of the layer's tar stream (and its first bytes), rebuilt and hashed by `pool`'s workers. */
  async digestLayer(layer: StoreLayer, algorithm: DigestAlgorithm, pool: TarSplitHashPool, signal?: AbortSignal): Promise<{ digest: Digest; size: number; head: Uint8Array }> {
    const label = layerLabel(layer.index, layer.diffId);
    const dir = this.layerDirectory(layer);
    const metadata = this.openTarSplit(layer);
    if (!existsSync(dir)) {
      metadata.destroy();
      throw new DsvError('NotFound', `${label}: layer directory ${dir} is missing`, { layer: layer.index, diffId: layer.diffId, cacheId: layer.cacheId, path: dir });
    }
    return pool.digest({ metadata, dir, layer: label, algorithm, ...(signal ? { signal } : {}) });
  }

  /**
   * The layer's exact tar stream, rebuilt from tar-split and the driver's files. Files whose CRC-64
   * differs from the metadata fail the stream naming the layer and file. Not hashed here: callers
   * check the digest (the integrity engine, verifyStoreImage).
   */
  openLayer(layer: StoreLayer, opts: { verifyChecksums?: boolean } = {}): Readable {
    const label = layerLabel(layer.index, layer.diffId);
    const metadata = this.openTarSplit(layer);
    if (this.driver !== 'devicemapper') {
      const dir = this.layerDirectory(layer);
      if (!existsSync(dir)) {
        metadata.destroy();
        throw new DsvError('NotFound', `${label}: layer directory ${dir} is missing`, { layer: layer.index, diffId: layer.diffId, cacheId: layer.cacheId, path: dir });
      }
      return createTarSplitReader({ metadata, files: dir, layer: label, verifyChecksums: opts.verifyChecksums });
    }
    // devicemapper: mount lazily when the stream is first read, release when it ends or is destroyed.
    const root = this.root;
    const pool = this.opts.devicemapperPool;
    const searchPath = this.opts.searchPath;
    async function* gen(): AsyncGenerator<Buffer> {
      let mounted: Awaited<ReturnType<typeof mountDevicemapperLayer>> | undefined;
      try {
        mounted = await mountDevicemapperLayer(root, layer.cacheId, label, { pool, ...(searchPath ? { searchPath } : {}) });
        for await (const c of createTarSplitReader({ metadata, files: mounted.dir, layer: label, verifyChecksums: opts.verifyChecksums })) yield c as Buffer;
      } finally {
        metadata.destroy();
        await mounted?.release();
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }
}

export function layerLabel(index: number, diffId: string): string {
  return `layer ${index} (${diffId})`;
}
