/**
 * `docker-storage:NAME[:TAG]`, `docker-storage:NAME@sha256:…`, `docker-storage:<image id>` — read
 * an image straight from Docker's store on disk (root: SystemContext.dockerRoot, which the
 * runtime fills from DSV_DOCKER_ROOT, else /var/lib/docker). An optional `[driver@/root]` or `[/root]` prefix selects another store.
 *
 * The image is served as an uncompressed Docker v2 schema 2 manifest we synthesise: the config is the
 * imagedb file's exact bytes, each layer has media type `…rootfs.diff.tar`, digest = its diff_id and
 * the size of the tar stream rebuilt from tar-split. So core's integrity engine checks the store
 * unchanged: config digest = image id, every rebuilt layer hashes to its diff_id.
 */
import { Readable } from 'node:stream';
import { DsvError, Digester, MediaTypes, digestOf, type Descriptor, type Digest, type DigestAlgorithm } from '@dsv/core/formats';
import type { ImageDestination, ImageReference, ImageSource, SystemContext, Transport } from '@dsv/core/transport';
import { formatLocalImageRef, parseLocalImageRef, type LocalImageRef } from './reference.js';
import { TarSplitHashPool } from './hash-pool.js';
import { DockerStore, layerLabel, type StoreImage, type StoreOptions } from './store.js';

export const DEFAULT_DOCKER_ROOT = '/var/lib/docker';

export function dockerRootFrom(ctx?: SystemContext): string {
  return ctx?.dockerRoot || DEFAULT_DOCKER_ROOT;
}

/** A Docker v2s2 manifest for a config and uncompressed layers (the shape both local transports serve). */
export function synthesizeManifest(config: { digest: Digest; size: number }, layers: { digest: Digest; size: number; mediaType?: string }[]): Uint8Array {
  const doc = {
    schemaVersion: 2,
    mediaType: MediaTypes.DockerManifest,
    config: { mediaType: MediaTypes.DockerConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? MediaTypes.DockerLayerTar, size: l.size, digest: l.digest })),
  };
  return Buffer.from(JSON.stringify(doc, null, 3));
}

interface StorageLocation {
  driver?: string;
  root?: string;
}

const PREFIX_RE = /^\[(?:([a-z0-9-]+)@)?([^\]]*)\](.*)$/s;

class StorageReference implements ImageReference {
  readonly transport: Transport;
  readonly within: string;
  readonly image: LocalImageRef;
  readonly location: StorageLocation;

  constructor(transport: Transport, within: string) {
    this.transport = transport;
    this.within = within;
    let rest = within;
    const m = PREFIX_RE.exec(within);
    this.location = {};
    if (m) {
      this.location = { driver: m[1] || undefined, root: m[2] || undefined };
      if (this.location.root && !this.location.root.startsWith('/')) {
        throw new DsvError('ReferenceInvalid', `invalid docker-storage: reference "${within.slice(0, 200)}": the store root must be an absolute path`, { reference: within.slice(0, 200) });
      }
      rest = m[3]!;
    }
    this.image = parseLocalImageRef(rest, 'docker-storage');
  }

  get digest(): Digest | undefined {
    return this.image.kind === 'name' ? (this.image.digest as Digest | undefined) : undefined;
  }

  toString(): string {
    return `docker-storage:${this.within}`;
  }

  async newSource(ctx?: SystemContext): Promise<ImageSource> {
    const root = this.location.root ?? dockerRootFrom(ctx);
    const { store, id } = await DockerStore.open(
      root,
      {
        driver: this.location.driver,
        ...(ctx?.devicemapperPool ? { devicemapperPool: ctx.devicemapperPool } : {}),
        ...(ctx?.childEnv?.PATH ? { searchPath: ctx.childEnv.PATH } : {}),
      },
      this.image,
    );
    const image = await store.loadImage(id!);
    return new StorageSource(this, store, image, ctx);
  }

  async newDestination(): Promise<ImageDestination> {
    throw new DsvError('Unsupported', 'docker-storage: is read-only: write to docker-daemon: instead (Docker must register images itself)', { transport: 'docker-storage' });
  }
}

/**
 * Layers from this size on are hashed by the pool (the main thread, then a worker thread). Starting a worker
 * costs ≈ 70–80 ms of CPU (and more latency on a loaded machine) against ≈ 20 ms to hash 32 MiB on the main
 * thread: an image of small layers never starts one (bench/NOTES.md §23).
 */
const WORKER_MIN_BYTES = 32 * 1024 * 1024;

class StorageSource implements ImageSource {
  readonly reference: ImageReference;
  /** Each layer is rebuilt from its own tar-split file and layer directory. */
  readonly blobOrder = 'any';
  private readonly store: DockerStore;
  private readonly image: StoreImage;
  private readonly ctx?: SystemContext;
  private manifest?: Uint8Array;
  private pool?: TarSplitHashPool;

  constructor(reference: ImageReference, store: DockerStore, image: StoreImage, ctx?: SystemContext) {
    this.reference = reference;
    this.store = store;
    this.image = image;
    this.ctx = ctx;
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    if (!this.manifest) {
      const layers: { digest: Digest; size: number }[] = [];
      for (const l of this.image.layers) layers.push({ digest: l.diffId, size: await this.store.layerTarSize(l) });
      this.manifest = synthesizeManifest({ digest: this.image.id, size: this.image.config.length }, layers);
    }
    // By digest: only the image's own manifest exists here.
    if (instanceDigest !== undefined && instanceDigest !== digestOf(this.manifest)) {
      throw new DsvError('NotFound', `${this.reference.toString()} is a single image, it has no manifest ${instanceDigest}`, { digest: instanceDigest });
    }
    return { bytes: this.manifest, mediaType: MediaTypes.DockerManifest };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    if (descriptor.digest === this.image.id) return Readable.from([this.image.config]);
    const layer = this.image.layers.find((l) => l.diffId === descriptor.digest);
    if (!layer) throw new DsvError('NotFound', `blob ${descriptor.digest} is not part of image ${this.image.id} in ${this.store.base}`, { digest: descriptor.digest });
    this.ctx?.debug?.(`docker-storage: rebuilding ${layerLabel(layer.index, layer.diffId)} from ${this.store.tarSplitPath(layer)}`);
    // Fast path: no per-file CRC-64 (it costs more than the SHA-256 the reader computes anyway);
    // diagnoseBlob() runs it only for a layer that failed, to name the file that changed. (Verification
    // hashes layers in the hashing pool instead: digestBlob.)
    return this.store.openLayer(layer, { verifyChecksums: false });
  }

  /**
   * A layer rebuilt and hashed by the hashing pool (two cores hashing, no bytes handed over): the engine's
   * check without streaming. Directory drivers and layers of WORKER_MIN_BYTES or more; others are streamed
   * and hashed here.
   */
  async digestBlob(descriptor: Descriptor, algorithm: DigestAlgorithm, signal?: AbortSignal): Promise<{ digest: Digest; size: number; head: Uint8Array }> {
    const layer = this.image.layers.find((l) => l.diffId === descriptor.digest);
    if (descriptor.digest === this.image.id || !layer || this.store.driver === 'devicemapper' || descriptor.size < WORKER_MIN_BYTES) {
      const d = new Digester(algorithm);
      const head: Buffer[] = [];
      let headLen = 0;
      for await (const c of await this.getBlob(descriptor)) {
        d.update(c as Buffer);
        if (headLen < 512) {
          head.push(c as Buffer);
          headLen += (c as Buffer).length;
        }
        signal?.throwIfAborted();
      }
      return { digest: d.digest(), size: d.size, head: Buffer.concat(head).subarray(0, 512) };
    }
    this.ctx?.debug?.(`docker-storage: rebuilding and hashing ${layerLabel(layer.index, layer.diffId)} from ${this.store.tarSplitPath(layer)} in the hashing pool`);
    this.pool ??= new TarSplitHashPool();
    return this.store.digestLayer(layer, algorithm, this.pool, signal);
  }

  async diagnoseBlob(descriptor: Descriptor): Promise<DsvError | undefined> {
    const layer = this.image.layers.find((l) => l.diffId === descriptor.digest);
    if (!layer) return undefined;
    try {
      for await (const _ of this.store.openLayer(layer, { verifyChecksums: true })) {
        /* drained only for the CRC-64 check, which throws naming the changed file */
      }
    } catch (e) {
      if (e instanceof DsvError) return e;
      throw e;
    }
    return undefined;
  }

  async listTags(): Promise<string[]> {
    if (this.reference instanceof StorageReference && this.reference.image.kind === 'name') {
      const repo = this.reference.image.repository;
      const entries = (await this.store.repositories())[repo] ?? {};
      return Object.keys(entries).filter((k) => k.startsWith(`${repo}:`)).map((k) => k.slice(repo.length + 1)).sort();
    }
    return [];
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}

export const dockerStorageTransport: Transport = {
  name: 'docker-storage',
  parseReference(within: string): ImageReference {
    return new StorageReference(dockerStorageTransport, within);
  },
};

export interface VerifyStoreOptions extends StoreOptions {
  /** Check each file's CRC-64 (default true): a changed file is named, not just its layer. */
  verifyChecksums?: boolean;
  onProgress?: SystemContext['onProgress'];
  signal?: AbortSignal;
}

export interface VerifyStoreLayerResult {
  index: number;
  diffId: Digest;
  chainId: Digest;
  cacheId: string;
  /** Bytes of the rebuilt tar stream. */
  size: number;
}

export interface VerifyStoreResult {
  /** The image id (= config digest), checked against the config file's bytes. */
  id: Digest;
  driver: string;
  root: string;
  layers: VerifyStoreLayerResult[];
}

/**
 * Checks an image in Docker's store on disk without the daemon: the config hashes to the image id,
 * every layer's metadata is consistent (chain ids, diff, cache-id), and every layer rebuilt from
 * tar-split and the driver's files hashes to its diff_id. The first failure throws a DsvError naming
 * the layer (and the file, when a file changed: DigestMismatch/SizeMismatch with details.file).
 */
export async function verifyStoreImage(root: string, name: string, opts: VerifyStoreOptions = {}): Promise<VerifyStoreResult> {
  const ref = parseLocalImageRef(name, 'docker-storage');
  const { store, id } = await DockerStore.open(root, { driver: opts.driver, devicemapperPool: opts.devicemapperPool }, ref);
  const image = await store.loadImage(id!);
  const layers: VerifyStoreLayerResult[] = [];
  for (const layer of image.layers) {
    opts.signal?.throwIfAborted();
    const label = layerLabel(layer.index, layer.diffId);
    const digester = new Digester();
    const stream = store.openLayer(layer, { verifyChecksums: opts.verifyChecksums });
    try {
      for await (const chunk of stream) {
        digester.update(chunk as Buffer);
        opts.onProgress?.({ id: layer.diffId, done: digester.size, phase: 'verify' });
        opts.signal?.throwIfAborted();
      }
    } catch (e) {
      stream.destroy();
      if (e instanceof DsvError) {
        e.details.layer ??= layer.index;
        e.details.diffId ??= layer.diffId;
        e.details.image ??= image.id;
      }
      throw e;
    }
    const actual = digester.digest();
    if (actual !== layer.diffId) {
      throw new DsvError('DigestMismatch', `${label}: rebuilt layer hashes to ${actual}, not its diff_id (tar-split or files changed in ${store.driver === 'devicemapper' ? 'the thin device' : store.layerDirectory(layer)})`, {
        layer: layer.index,
        diffId: layer.diffId,
        actual,
        image: image.id,
      });
    }
    layers.push({ index: layer.index, diffId: layer.diffId, chainId: layer.chainId, cacheId: layer.cacheId, size: digester.size });
  }
  return { id: image.id, driver: store.driver, root, layers };
}

export { formatLocalImageRef };
