/**
 * `docker-daemon:NAME[:TAG]` (or an image id, read only): images in a Docker Engine reached over
 * DOCKER_HOST, whatever its storage driver.
 *
 * Reading. The Engine only exports whole images (`GET /images/{id}/get`, a docker-save tar stream), and
 * dockerd writes manifest.json and the config after the layers, so nothing can be served before the
 * export ended. The source therefore reads it ONCE, by image id (so a moved tag cannot change what we
 * read): the stream goes through source-archive's single-pass scanner (which hashes every entry and
 * keeps manifest.json and the config) and, chunk by chunk as it flows, into a private spool file
 * (ExportSpool: pid in its name, mode 0600, removed by close() and on SIGINT/SIGTERM/exit) in
 * SystemContext.bigFilesTemporaryDir or os.tmpdir(). getManifest() synthesises an uncompressed Docker
 * v2s2 manifest from the scan (config = the exact config bytes; layers = digest and size of each layer
 * entry); getBlob() streams an entry back from the spool by offset, in any order and concurrently
 * (blobOrder 'any'). Memory stays bounded (the export is streamed to disk, never held); the disk
 * holds one image at a time. Readers hash every blob they take against its descriptor as before.
 *
 * Writing. The destination streams a docker-save tar into `POST /images/load` as blobs arrive: each
 * putBlob() adds `blobs/sha256/<hex>` to the request body (checked against its digest and size as it
 * flows: a mismatch aborts the upload so the daemon loads nothing); commit() appends manifest.json
 * (no RepoTags: loading moves no tag), waits for the daemon's answer, checks the loaded image id is the
 * config digest, and only then tags it with `POST /images/{id}/tag`. close() without commit() aborts
 * the upload: a truncated archive is never loaded. (source-archive's writeDockerArchive needs the
 * config and every layer up front; a destination is handed blobs one at a time, so we write the tar
 * entries ourselves with tar-stream.)
 */
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import type { Pack } from 'tar-stream';
import { DsvError, DigestingStream, MediaTypes, digestOf, isDigest, parseDigest, verifiedFor, type Descriptor, type Digest } from '@dsv/core/formats';
import type { ImageDestination, ImageReference, ImageSource, SystemContext, Transport } from '@dsv/core/transport';
import type { TarEntry } from '@dsv/source-archive';
import { ExportSpool } from './export-spool.js';
import { EngineClient, engineOptionsFrom, imagePath, readJsonMessages } from './engine.js';
import { formatLocalImageRef, parseLocalImageRef, type LocalImageRef } from './reference.js';
import { synthesizeManifest } from './storage-transport.js';

function normaliseEntry(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.startsWith('/')) n = n.slice(1);
  while (n.endsWith('/')) n = n.slice(0, -1);
  return n.replace(/\/{2,}/g, '/');
}

class DaemonReference implements ImageReference {
  readonly transport: Transport;
  readonly within: string;
  readonly image: LocalImageRef;

  constructor(transport: Transport, within: string) {
    this.transport = transport;
    this.within = within;
    this.image = parseLocalImageRef(within, 'docker-daemon');
  }

  get digest(): Digest | undefined {
    return this.image.kind === 'name' ? (this.image.digest as Digest | undefined) : undefined;
  }

  toString(): string {
    return `docker-daemon:${this.within}`;
  }

  /** The name the Engine API takes for this reference. */
  get apiName(): string {
    return formatLocalImageRef(this.image);
  }

  async newSource(ctx?: SystemContext): Promise<ImageSource> {
    const client = new EngineClient(engineOptionsFrom(ctx));
    let info: { Id?: string };
    try {
      info = await client.json<{ Id?: string }>('GET', imagePath(this.apiName, 'json'), `inspect ${this.apiName}`);
    } catch (e) {
      if (e instanceof DsvError && e.code === 'NotFound') throw new DsvError('NotFound', `image ${this.apiName} not found in the Docker daemon at ${client.display}`, { image: this.apiName, host: client.display });
      throw e;
    }
    if (!info.Id || !isDigest(info.Id)) throw new DsvError('RemoteError', `Docker daemon at ${client.display}: inspect ${this.apiName} returned no image id`, { image: this.apiName });
    return new DaemonSource(this, client, info.Id as Digest, ctx);
  }

  async newDestination(ctx?: SystemContext): Promise<ImageDestination> {
    if (this.image.kind !== 'name' || this.image.digest || !this.image.tag) {
      throw new DsvError('Usage', `docker-daemon:${this.within}: a destination needs NAME:TAG (images are loaded, then tagged)`, { reference: this.within });
    }
    // tar-stream and source-archive are imported by what uses them: reading the store on disk needs neither. In the
    // app bundles a lazily imported CommonJS module has a default export only, so `pack` is looked for on both.
    const tar = (await import('tar-stream')) as typeof import('tar-stream') & { default?: typeof import('tar-stream') };
    const pack = tar.pack ?? tar.default!.pack;
    return new DaemonDestination(this, new EngineClient(engineOptionsFrom(ctx)), this.image.repository, this.image.tag, pack, ctx);
  }
}

interface LayerEntry {
  entry: TarEntry;
  digest: Digest;
  size: number;
  mediaType: string;
}

interface Scanned {
  manifest: Uint8Array;
  config: Buffer;
  layers: LayerEntry[];
  spool: ExportSpool;
}

class DaemonSource implements ImageSource {
  readonly reference: ImageReference;
  /** Blobs come from the spooled export: any order, several at once. */
  readonly blobOrder = 'any';
  private readonly client: EngineClient;
  private readonly id: Digest;
  private readonly ctx?: SystemContext;
  private readonly open = new Set<IncomingMessage>();
  private scanning?: Promise<Scanned>;
  private closed = false;

  constructor(reference: ImageReference, client: EngineClient, id: Digest, ctx?: SystemContext) {
    this.reference = reference;
    this.client = client;
    this.id = id;
    this.ctx = ctx;
  }

  private async export(): Promise<IncomingMessage> {
    const res = await this.client.request('GET', imagePath(this.id, 'get'), { what: `export ${this.id}` });
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    return res;
  }

  private scan(): Promise<Scanned> {
    if (this.closed) return Promise.reject(new DsvError('Usage', `${this.reference.toString()}: source already closed`));
    this.scanning ??= this.scanOnce();
    this.scanning.catch(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** The one export: scanned and spooled in the same pass. */
  private async scanOnce(): Promise<Scanned> {
    const { scanDockerArchiveStream } = await import('@dsv/source-archive');
    const res = await this.export();
    let spool: ExportSpool;
    try {
      spool = await ExportSpool.create(this.ctx?.bigFilesTemporaryDir ?? tmpdir());
    } catch (e) {
      res.destroy();
      throw e;
    }
    const where = `the export of ${this.id} from ${this.client.display}`;
    try {
      const tee = spool.tee();
      res.on('error', (e) => tee.destroy(new DsvError('RemoteError', `Docker daemon: ${where} broke off: ${(e as Error)?.message ?? String(e)}`, { image: this.id })));
      res.pipe(tee);
      const scan = await scanDockerArchiveStream(tee, { signal: this.ctx?.signal });
      // Whatever follows the tar's end marker still goes to disk, so the spool's writer can finish.
      tee.resume();
      const index = await spool.seal();
      if (scan.manifests.length !== 1) throw new DsvError('ArchiveInvalid', `${where} holds ${scan.manifests.length} images, expected 1`, { image: this.id });
      const m = scan.manifests[0]!;
      const config = scan.configs.get(m.Config);
      if (!config) throw new DsvError('ArchiveInvalid', `${where} lacks its config ${m.Config}`, { image: this.id });
      const actual = digestOf(config);
      if (actual !== this.id) throw new DsvError('DigestMismatch', `${where}: config hashes to ${actual}, not the image id`, { image: this.id, actual });
      const layers: LayerEntry[] = [];
      for (const l of m.Layers) {
        const name = normaliseEntry(l);
        const e = scan.entries.get(name);
        const at = index.get(name);
        if (!e?.digest || !at) throw new DsvError('ArchiveInvalid', `${where} lacks layer ${l}`, { image: this.id, entry: l });
        // The spool is the bytes the scanner hashed; its index must agree with the scan.
        if (at.type !== 'file' || at.size !== e.size) throw new DsvError('ArchiveInvalid', `${where}: layer ${l} is indexed as ${at.size} bytes, scanned as ${e.size}`, { image: this.id, entry: l });
        // docker save writes plain tars; should a daemon ever export compressed layers, say so.
        const mediaType = e.compression === 'gzip' ? MediaTypes.DockerLayerGzip : e.compression === 'zstd' ? MediaTypes.DockerLayerZstd : MediaTypes.DockerLayerTar;
        layers.push({ entry: at, digest: e.digest, size: e.size, mediaType });
      }
      const manifest = synthesizeManifest({ digest: this.id, size: config.length }, layers);
      if (this.closed) throw new DsvError('Usage', `${this.reference.toString()}: source closed while reading its export`);
      this.ctx?.debug?.(`docker-daemon: spooled ${where} (${index.fileSize} bytes) to ${spool.path}`);
      return { manifest, config, layers, spool };
    } catch (e) {
      res.destroy();
      await spool.remove();
      throw e;
    }
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const { manifest } = await this.scan();
    // By digest: only the image's own manifest exists here.
    if (instanceDigest !== undefined && instanceDigest !== digestOf(manifest)) {
      throw new DsvError('NotFound', `${this.reference.toString()} is a single image, it has no manifest ${instanceDigest}`, { digest: instanceDigest });
    }
    return { bytes: manifest, mediaType: MediaTypes.DockerManifest };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    const s = await this.scan();
    if (descriptor.digest === this.id) return Readable.from([s.config]);
    const layer = s.layers.find((l) => l.digest === descriptor.digest);
    if (!layer) throw new DsvError('NotFound', `blob ${descriptor.digest} is not part of image ${this.id}`, { digest: descriptor.digest });
    return s.spool.openEntry(layer.entry);
  }

  async listTags(): Promise<string[]> {
    const ref = this.reference as DaemonReference;
    if (ref.image.kind !== 'name') return [];
    const repo = ref.image.repository;
    const filters = encodeURIComponent(JSON.stringify({ reference: [repo] }));
    const list = await this.client.json<Array<{ RepoTags?: string[] | null }>>('GET', `/images/json?filters=${filters}`, 'list images');
    const tags = new Set<string>();
    for (const img of list) for (const t of img.RepoTags ?? []) if (t.startsWith(`${repo}:`)) tags.add(t.slice(repo.length + 1));
    return [...tags].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.open) r.destroy();
    this.open.clear();
    const scanned = await this.scanning?.catch(() => undefined);
    this.scanning = undefined;
    await scanned?.spool.remove();
  }
}

function manifestParts(bytes: Uint8Array): { config: Digest; layers: Digest[] } {
  let doc: { mediaType?: string; schemaVersion?: number; config?: { digest?: string }; layers?: Array<{ digest?: string }>; manifests?: unknown };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch {
    throw new DsvError('ManifestInvalid', 'manifest for docker-daemon: is not valid JSON');
  }
  if (doc.manifests !== undefined) throw new DsvError('Unsupported', 'docker-daemon: stores single images, not manifest lists or indexes: choose one platform', {});
  if (doc.schemaVersion !== 2 || !doc.config?.digest || !Array.isArray(doc.layers)) {
    throw new DsvError('ManifestInvalid', 'docker-daemon: needs a schema 2 image manifest with a config and layers');
  }
  const config = doc.config.digest;
  if (!isDigest(config)) throw new DsvError('ManifestInvalid', `manifest config digest "${String(config).slice(0, 100)}" is invalid`);
  const layers = doc.layers.map((l, i) => {
    if (!isDigest(l?.digest)) throw new DsvError('ManifestInvalid', `manifest layer ${i + 1} has an invalid digest`, { layer: i });
    return l.digest as Digest;
  });
  return { config: config as Digest, layers };
}

class DaemonDestination implements ImageDestination {
  readonly reference: ImageReference;
  private readonly client: EngineClient;
  private readonly repo: string;
  private readonly tag: string;
  private readonly ctx?: SystemContext;
  private readonly newPack: () => Pack;
  private pack?: Pack;
  private response?: Promise<IncomingMessage>;
  private readonly stored = new Set<string>();
  private manifest?: { config: Digest; layers: Digest[] };
  private failed?: unknown;
  private committed = false;

  constructor(reference: ImageReference, client: EngineClient, repo: string, tag: string, newPack: () => Pack, ctx?: SystemContext) {
    this.reference = reference;
    this.client = client;
    this.repo = repo;
    this.tag = tag;
    this.newPack = newPack;
    this.ctx = ctx;
  }

  supportedManifestMediaTypes(): string[] {
    return [MediaTypes.DockerManifest, MediaTypes.OciManifest];
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    // Blobs live in the load request being written: only what this destination already sent counts.
    return this.stored.has(descriptor.digest);
  }

  private start(): Pack {
    if (this.pack) return this.pack;
    const pack = this.newPack();
    this.pack = pack;
    this.response = this.client.request('POST', '/images/load?quiet=1', {
      body: pack as unknown as NodeJS.ReadableStream,
      headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' },
      what: 'load',
    });
    this.response.catch((e) => {
      this.failed ??= e;
      pack.destroy();
    });
    pack.entry({ name: 'blobs/', type: 'directory', mode: 0o755, mtime: new Date(0) });
    pack.entry({ name: 'blobs/sha256/', type: 'directory', mode: 0o755, mtime: new Date(0) });
    return pack;
  }

  private check(): void {
    if (this.committed) throw new DsvError('Usage', `${this.reference.toString()}: destination already committed`);
    if (this.failed) throw this.failed instanceof DsvError ? this.failed : new DsvError('RemoteError', `load into ${this.client.display} failed: ${(this.failed as Error)?.message}`);
  }

  /** Tar entries are written one at a time: concurrent putBlob calls queue here. */
  private queue: Promise<void> = Promise.resolve();

  putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    const run = this.queue.then(() => this.putBlobNow(descriptor, stream));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async putBlobNow(descriptor: Descriptor, stream: Readable): Promise<void> {
    let hex: string;
    try {
      this.check();
      hex = parseDigest(descriptor.digest).hex;
      if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
        throw new DsvError('Usage', `blob ${descriptor.digest}: docker-daemon: needs its size up front`, { digest: descriptor.digest });
      }
    } catch (e) {
      stream.destroy();
      throw e;
    }
    if (this.stored.has(descriptor.digest)) {
      stream.destroy();
      return;
    }
    const pack = this.start();
    // A VerifiedBlob for this descriptor checks itself (its last byte comes only once it matched).
    const verify = verifiedFor(stream, descriptor) ? undefined : new DigestingStream({ digest: descriptor.digest, size: descriptor.size });
    try {
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: `blobs/sha256/${hex}`, size: descriptor.size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
        (verify ? pipeline(stream, verify, entry) : pipeline(stream, entry)).catch(reject);
        // The daemon may give up while we stream.
        this.response!.catch(reject);
      });
    } catch (e) {
      this.failed ??= e;
      this.abort();
      if (e instanceof DsvError) throw e;
      throw new DsvError('RemoteError', `blob ${descriptor.digest}: load into ${this.client.display} failed: ${(e as Error)?.message ?? String(e)}`, { digest: descriptor.digest });
    }
    this.stored.add(descriptor.digest);
    this.ctx?.onProgress?.({ id: descriptor.digest, done: descriptor.size, total: descriptor.size, phase: 'write' });
  }

  async putManifest(bytes: Uint8Array, _mediaType: string, instanceDigest?: Digest): Promise<void> {
    this.check();
    if (instanceDigest !== undefined) throw new DsvError('Unsupported', 'docker-daemon: stores single images, not manifest lists or indexes', { digest: instanceDigest });
    const parts = manifestParts(bytes);
    for (const d of [parts.config, ...parts.layers]) {
      if (!this.stored.has(d)) throw new DsvError('NotFound', `blob ${d} named by the manifest was not written to docker-daemon:`, { digest: d });
    }
    this.manifest = parts;
  }

  async commit(): Promise<void> {
    await this.queue;
    this.check();
    if (!this.manifest) throw new DsvError('Usage', `${this.reference.toString()}: commit() before putManifest()`);
    const pack = this.start();
    const entry = (d: Digest) => `blobs/sha256/${parseDigest(d).hex}`;
    const saveManifest = [{ Config: entry(this.manifest.config), RepoTags: null, Layers: this.manifest.layers.map(entry) }];
    pack.entry({ name: 'manifest.json', mode: 0o644, mtime: new Date(0) }, Buffer.from(JSON.stringify(saveManifest)));
    pack.finalize();
    let res: IncomingMessage;
    try {
      res = await this.response!;
    } catch (e) {
      this.failed ??= e;
      throw e;
    }
    const messages = await readJsonMessages(res, 'load', this.client.display);
    const expected = this.manifest.config;
    const loaded = messages
      .map((m) => (typeof m.stream === 'string' ? /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(m.stream)?.[1] : undefined))
      .filter((x): x is string => !!x);
    if (loaded.length && !loaded.includes(expected)) {
      throw new DsvError('RemoteError', `Docker daemon at ${this.client.display} loaded ${loaded.join(', ')}, expected ${expected}`, { expected, loaded });
    }
    // Only now that the load succeeded does the tag move.
    const q = `repo=${encodeURIComponent(this.repo)}&tag=${encodeURIComponent(this.tag)}`;
    const tagRes = await this.client.request('POST', `${imagePath(expected, 'tag')}?${q}`, { what: `tag ${expected} as ${this.repo}:${this.tag}` });
    tagRes.resume();
    this.committed = true;
  }

  private abort(): void {
    if (this.pack && !this.committed) this.pack.destroy(new Error('aborted'));
  }

  async close(): Promise<void> {
    if (!this.committed) this.abort();
    await this.response?.then((r) => r.resume(), () => undefined);
  }
}

export const dockerDaemonTransport: Transport = {
  name: 'docker-daemon',
  parseReference(within: string): ImageReference {
    return new DaemonReference(dockerDaemonTransport, within);
  },
};
