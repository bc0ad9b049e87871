// OCI image layouts: `oci:DIR[:TAG]` (a directory) and `oci-archive:FILE[:TAG]` (the same in a tar).
// The tag is the org.opencontainers.image.ref.name annotation of an index.json descriptor, which may
// point at a manifest or at an index (several platforms).
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DsvError,
  Limits,
  MediaTypes,
  digestOf,
  parseDigest,
  type Descriptor,
  type Digest,
} from '@dsv/core/formats';
import {
  registerCleanup,
  type ImageDestination,
  type ImageReference,
  type ImageSource,
  type SystemContext,
  type Transport,
} from '@dsv/core/transport';
import { TarIndex, tarChunks, writeTarFile, type TarAddition } from './tar.js';
import { blobPath, checkDescribed, descriptorOf, ensureDirectory, exists, ioError, isObject, parseJson, removeNow, siblingTemp, storeVerified, sweepBeside, writeAtomic } from './util.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
const LAYOUT_BYTES = Buffer.from('{"imageLayoutVersion":"1.0.0"}');

/** Read access to a layout's files, wherever they are. */
export interface LayoutStore {
  readonly where: string;
  /** Size of a regular file, or undefined when absent. */
  sizeOf(rel: string): Promise<number | undefined>;
  read(rel: string, limit: number, what: string): Promise<Buffer>;
  open(rel: string): Promise<Readable>;
}

export class DirStore implements LayoutStore {
  readonly where: string;
  constructor(readonly dir: string) {
    this.where = dir;
  }
  async sizeOf(rel: string): Promise<number | undefined> {
    try {
      const st = await stat(join(this.dir, rel));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }
  async read(rel: string, limit: number, what: string): Promise<Buffer> {
    const p = join(this.dir, rel);
    let fh;
    try {
      fh = await open(p, 'r');
    } catch (e) {
      throw ioError(`${this.dir}: cannot read ${what} ${rel}`, e, { path: p });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new DsvError('ArchiveInvalid', `${this.dir}: ${what} ${rel} is not a regular file`, { path: p });
      if (st.size > limit) throw new DsvError('LimitExceeded', `${this.dir}: ${what} ${rel} is ${st.size} bytes, over the ${limit}-byte limit`, { path: p, limit });
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }
  async open(rel: string): Promise<Readable> {
    const p = join(this.dir, rel);
    const st = await stat(p).catch((e) => { throw ioError(`${this.dir}: blob ${rel}`, e, { path: p }); });
    if (!st.isFile()) throw new DsvError('ArchiveInvalid', `${this.dir}: ${rel} is not a regular file`, { path: p });
    return createReadStream(p);
  }
}

export class TarStore implements LayoutStore {
  readonly where: string;
  constructor(readonly tar: TarIndex) {
    this.where = tar.path;
  }
  async sizeOf(rel: string): Promise<number | undefined> {
    const e = this.tar.get(rel);
    if (!e) return undefined;
    return this.tar.regular(rel, 'blob').size;
  }
  async read(rel: string, limit: number, what: string): Promise<Buffer> {
    if (!this.tar.has(rel)) throw new DsvError('NotFound', `${this.tar.path}: ${what} "${rel}" is not in the archive`, { path: this.tar.path, entry: rel });
    const e = this.tar.regular(rel, what);
    if (e.size > limit) throw new DsvError('LimitExceeded', `${this.tar.path}: ${what} "${rel}" is ${e.size} bytes, over the ${limit}-byte limit`, { path: this.tar.path, entry: rel, limit });
    return this.tar.readEntry(rel, limit, what);
  }
  async open(rel: string): Promise<Readable> {
    if (!this.tar.has(rel)) throw new DsvError('NotFound', `${this.tar.path}: "${rel}" is not in the archive`, { path: this.tar.path, entry: rel });
    return this.tar.openEntry(this.tar.regular(rel, 'blob'));
  }
}

export interface OciIndexDoc {
  schemaVersion?: number;
  mediaType?: string;
  manifests: Array<Descriptor & Record<string, unknown>>;
  [k: string]: unknown;
}

export async function readIndex(store: LayoutStore): Promise<OciIndexDoc> {
  const layout = await store.sizeOf('oci-layout');
  if (layout === undefined) throw new DsvError('ArchiveInvalid', `${store.where}: not an OCI image layout (no oci-layout file)`, { path: store.where });
  const bytes = await store.read('index.json', Limits.manifestBytes, 'index');
  const doc = parseJson(bytes, `${store.where}: index.json`);
  if (!isObject(doc) || !Array.isArray(doc.manifests)) throw new DsvError('ArchiveInvalid', `${store.where}: index.json has no manifests list`, { path: store.where });
  doc.manifests.forEach((d, i) => descriptorOf(d, `${store.where}: index.json manifests[${i}]`, 'ArchiveInvalid'));
  return doc as OciIndexDoc;
}

function refName(d: Record<string, unknown>): string | undefined {
  const a = d.annotations;
  return isObject(a) && typeof a[REF_NAME] === 'string' ? (a[REF_NAME] as string) : undefined;
}

export function splitLayoutReference(transportName: string, within: string): { path: string; tag?: string } {
  const colon = within.indexOf(':');
  const path = colon < 0 ? within : within.slice(0, colon);
  const tag = colon < 0 ? undefined : within.slice(colon + 1);
  if (!path) throw new DsvError('ReferenceInvalid', `${transportName}:${within}: missing path`, { reference: within });
  if (tag !== undefined && !/^[A-Za-z0-9._\-:/@+]+$/.test(tag)) {
    throw new DsvError('ReferenceInvalid', `${transportName}:${within}: invalid reference name "${tag}"`, { reference: within });
  }
  return tag === undefined || tag === '' ? { path } : { path, tag };
}

export class OciLayoutSource implements ImageSource {
  readonly reference: ImageReference;
  /** Blobs are files (or entries read by offset from an indexed archive). */
  readonly blobOrder = 'any';
  readonly store: LayoutStore;
  readonly index: OciIndexDoc;
  readonly descriptor: Descriptor;

  constructor(reference: ImageReference, store: LayoutStore, index: OciIndexDoc, tag: string | undefined) {
    this.reference = reference;
    this.store = store;
    this.index = index;
    let found = index.manifests;
    if (tag !== undefined) {
      found = found.filter((d) => refName(d) === tag);
      if (found.length === 0) throw new DsvError('NotFound', `${store.where}: no image named "${tag}" in index.json`, { path: store.where, tag });
      if (found.length > 1 && new Set(found.map((d) => d.digest)).size > 1) {
        throw new DsvError('ManifestInvalid', `${store.where}: several index.json entries are named "${tag}"`, { path: store.where, tag });
      }
    } else if (found.length !== 1) {
      throw new DsvError(found.length ? 'Usage' : 'NotFound', `${store.where} holds ${found.length} images: name one as ${reference.transport.name}:${store.where}:NAME`, { path: store.where });
    }
    this.descriptor = found[0]!;
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const d = instanceDigest ?? this.descriptor.digest;
    const rel = blobPath(d);
    const bytes = await this.store.read(rel, Limits.manifestBytes, 'manifest');
    // The top-level descriptor comes from index.json: its digest and size must describe these bytes.
    const expected = instanceDigest === undefined ? { digest: d, size: this.descriptor.size } : { digest: d };
    checkDescribed(bytes, expected, `${this.store.where}: manifest ${rel}`, { path: this.store.where, entry: rel });
    let mediaType = instanceDigest === undefined ? this.descriptor.mediaType : MediaTypes.OciManifest;
    try {
      const doc = JSON.parse(bytes.toString('utf8'));
      if (isObject(doc) && typeof doc.mediaType === 'string') mediaType = doc.mediaType;
      else if (isObject(doc) && Array.isArray(doc.manifests)) mediaType = MediaTypes.OciIndex;
    } catch {
      /* callers parse (strictly) and report */
    }
    return { bytes, mediaType };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    const rel = blobPath(descriptor.digest);
    const size = await this.store.sizeOf(rel);
    if (size === undefined) {
      throw new DsvError('NotFound', `${this.store.where}: blob ${descriptor.digest} is not in the layout`, { digest: descriptor.digest });
    }
    // Cheap and early; the digest is checked by every reader as the bytes stream (see ImageSource.getBlob).
    if (size !== descriptor.size) {
      throw new DsvError('SizeMismatch', `${this.store.where}: blob ${rel} is ${size} bytes, but its descriptor says ${descriptor.size}`, { path: this.store.where, digest: descriptor.digest, expectedSize: descriptor.size, actualSize: size });
    }
    return this.store.open(rel);
  }

  async listTags(): Promise<string[]> {
    return [...new Set(this.index.manifests.map(refName).filter((t): t is string => !!t))];
  }

  async close(): Promise<void> {}
}

/**
 * Writes into a layout directory `dir`: blobs via temp file + rename after the digest check,
 * index.json rewritten (atomically) by finish(). `base` is an existing layout to build on.
 */
export class OciLayoutWriter {
  private readonly index: OciIndexDoc;
  private top?: Descriptor;
  constructor(readonly dir: string, readonly base: LayoutStore | undefined, index: OciIndexDoc | undefined, readonly tag: string | undefined) {
    this.index = index ? (JSON.parse(JSON.stringify(index)) as OciIndexDoc) : { schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [] };
  }

  async hasBlob(d: Descriptor): Promise<boolean> {
    const rel = blobPath(d.digest);
    const mine = await new DirStore(this.dir).sizeOf(rel);
    if (mine !== undefined) return mine === d.size;
    if (this.base && this.base.where !== this.dir) {
      const s = await this.base.sizeOf(rel);
      return s === d.size;
    }
    return false;
  }

  async putBlob(d: Descriptor, stream: Readable): Promise<void> {
    await storeVerified(d, stream, join(this.dir, blobPath(d.digest)));
  }

  async putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    const algorithm = instanceDigest ? parseDigest(instanceDigest).algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (instanceDigest && digest !== instanceDigest) {
      throw new DsvError('DigestMismatch', `manifest bytes hash to ${digest}, not ${instanceDigest}`, { digest: instanceDigest, actual: digest });
    }
    const rel = blobPath(digest);
    await storeVerified({ digest, size: bytes.length }, Readable.from([Buffer.from(bytes)]), join(this.dir, rel));
    if (!instanceDigest) this.top = { mediaType, digest, size: bytes.length };
  }

  /** The index.json that finish() writes. */
  nextIndex(): OciIndexDoc {
    if (!this.top) throw new DsvError('Usage', `${this.dir}: commit() before putManifest()`);
    const idx = JSON.parse(JSON.stringify(this.index)) as OciIndexDoc;
    const desc: Descriptor & Record<string, unknown> = { ...this.top };
    if (this.tag !== undefined) {
      idx.manifests = idx.manifests.filter((d) => refName(d) !== this.tag);
      desc.annotations = { [REF_NAME]: this.tag };
    } else {
      idx.manifests = idx.manifests.filter((d) => !(d.digest === desc.digest && refName(d) === undefined));
    }
    idx.manifests.push(desc);
    idx.schemaVersion ??= 2;
    return idx;
  }

  async finish(): Promise<void> {
    const idx = this.nextIndex();
    await ensureDirectory(this.dir);
    if (!(await exists(join(this.dir, 'oci-layout')))) await writeAtomic(join(this.dir, 'oci-layout'), LAYOUT_BYTES);
    await writeAtomic(join(this.dir, 'index.json'), Buffer.from(JSON.stringify(idx)));
  }
}

class OciDestination implements ImageDestination {
  private committed = false;
  constructor(
    readonly reference: ImageReference,
    private readonly writer: OciLayoutWriter,
    private readonly onCommit?: () => Promise<void>,
    private readonly onClose?: (committed: boolean) => Promise<void>,
  ) {}
  supportedManifestMediaTypes(): string[] {
    return [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];
  }
  hasBlob(d: Descriptor): Promise<boolean> {
    return this.writer.hasBlob(d);
  }
  putBlob(d: Descriptor, stream: Readable): Promise<void> {
    return this.writer.putBlob(d, stream);
  }
  putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    return this.writer.putManifest(bytes, mediaType, instanceDigest);
  }
  async commit(): Promise<void> {
    if (this.onCommit) await this.onCommit();
    else await this.writer.finish();
    this.committed = true;
  }
  async close(): Promise<void> {
    await this.onClose?.(this.committed);
  }
}

class OciRef implements ImageReference {
  readonly path: string;
  readonly tag?: string;
  constructor(readonly transport: Transport, readonly within: string) {
    const s = splitLayoutReference(transport.name, within);
    this.path = s.path;
    if (s.tag !== undefined) this.tag = s.tag;
  }
  /** A layout reference names an image by its ref name, never by digest. */
  get digest(): Digest | undefined {
    return undefined;
  }
  toString(): string {
    return `${this.transport.name}:${this.within}`;
  }

  async newSource(): Promise<ImageSource> {
    if (this.transport.name === 'oci') {
      const st = await stat(this.path).catch(() => undefined);
      if (!st) throw new DsvError('NotFound', `${this.path}: no such OCI layout directory`, { path: this.path });
      if (!st.isDirectory()) throw new DsvError('ArchiveInvalid', `${this.path} is not a directory`, { path: this.path });
      const store = new DirStore(this.path);
      return new OciLayoutSource(this, store, await readIndex(store), this.tag);
    }
    const store = new TarStore(await TarIndex.open(this.path));
    return new OciLayoutSource(this, store, await readIndex(store), this.tag);
  }

  async newDestination(ctx?: SystemContext): Promise<ImageDestination> {
    if (this.transport.name === 'oci') {
      // A directory this destination creates is removed again unless something is committed to it.
      const created = !(await exists(this.path));
      await ensureDirectory(this.path);
      const dir = this.path;
      const unregister = created ? registerCleanup(() => removeNow(dir)) : () => undefined;
      try {
        const store = new DirStore(dir);
        const index = (await store.sizeOf('index.json')) !== undefined ? await readIndex(store) : undefined;
        if (!created) for (const alg of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) await sweepBeside(join(dir, 'blobs', alg));
        const close = async (committed: boolean) => {
          if (created && !committed) await rm(dir, { recursive: true, force: true });
          unregister();
        };
        const writer = new OciLayoutWriter(dir, store, index, this.tag);
        const commit = async () => {
          await writer.finish();
          unregister();
        };
        return new OciDestination(this, writer, commit, close);
      } catch (e) {
        if (created) await rm(dir, { recursive: true, force: true });
        unregister();
        throw e;
      }
    }
    // oci-archive: blobs go to a temp directory beside the file; commit() writes a temp tar (the old
    // archive's entries copied verbatim, plus the new blobs and index.json) and renames it over FILE.
    const file = this.path;
    let base: TarIndex | undefined;
    if (await exists(file)) base = await TarIndex.open(file);
    const store = base ? new TarStore(base) : undefined;
    const index = store ? await readIndex(store) : undefined;
    await sweepBeside(dirname(file));
    const tmpDir = siblingTemp(file, '.d');
    let tmpTar: string | undefined;
    const unregister = registerCleanup(() => {
      if (tmpTar) removeNow(tmpTar);
      removeNow(tmpDir);
    });
    await ensureDirectory(tmpDir);
    const writer = new OciLayoutWriter(tmpDir, store, index, this.tag);
    ctx?.debug?.(`oci-archive: staging in ${tmpDir}`);
    const commit = async () => {
      const idx = writer.nextIndex();
      const add: TarAddition[] = [];
      const existing = new Set(base?.entries.map((e) => e.name) ?? []);
      const blobRoot = join(tmpDir, 'blobs');
      for (const alg of await readdir(blobRoot).catch(() => [] as string[])) {
        for (const hex of await readdir(join(blobRoot, alg))) {
          if (hex.startsWith('.')) continue;
          const rel = `blobs/${alg}/${hex}`;
          if (existing.has(rel)) continue;
          const p = join(tmpDir, rel);
          add.push({ name: rel, size: (await stat(p)).size, open: () => createReadStream(p), digest: `${alg}:${hex}` });
        }
      }
      if (!existing.has('oci-layout')) add.unshift({ name: 'oci-layout', bytes: LAYOUT_BYTES });
      add.push({ name: 'index.json', bytes: Buffer.from(JSON.stringify(idx)) });
      const t = siblingTemp(file, '.tmp');
      tmpTar = t;
      try {
        const onProgress = ctx?.onProgress;
        await writeTarFile(t, tarChunks({ ...(base ? { copyFrom: base } : {}), skip: new Set(['index.json']), add }), {
          ...(ctx?.signal ? { signal: ctx.signal } : {}),
          ...(onProgress ? { onProgress: (done: number) => onProgress({ id: file, done, phase: 'write' }) } : {}),
        });
        await rename(t, file);
        tmpTar = undefined;
      } catch (e) {
        await rm(t, { force: true });
        tmpTar = undefined;
        throw ioError(`cannot write ${file}`, e, { path: file });
      }
      await rm(tmpDir, { recursive: true, force: true });
      unregister();
    };
    const close = async () => {
      if (tmpTar) await rm(tmpTar, { force: true });
      await rm(tmpDir, { recursive: true, force: true });
      unregister();
    };
    return new OciDestination(this, writer, commit, close);
  }
}

export const ociTransport: Transport = {
  name: 'oci',
  parseReference(within: string): ImageReference {
    return new OciRef(ociTransport, within);
  },
};

export const ociArchiveTransport: Transport = {
  name: 'oci-archive',
  parseReference(within: string): ImageReference {
    return new OciRef(ociArchiveTransport, within);
  },
};
