// `docker-archive:PATH[:NAME:TAG]` / `docker-archive:PATH:@N` — docker save archives as image sources,
// and as destinations: a new archive `docker load` accepts, or an existing archive updated in place
// (new config entry, tag moved, every other entry copied verbatim) through a temp file renamed on commit().
import { rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  DsvError,
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
import { DockerSaveArchive, type ArchiveImage, type SaveManifestEntry } from './docker-save.js';
import { familiarName, familiarRepository, fullName, parseTaggedName, sameName, type TaggedName } from './names.js';
import { tarChunks, writeTarFile, type TarAddition } from './tar.js';
import { blobPath, descriptorOf, digestFromBlobPath, ensureDirectory, exists, ioError, isObject, parseJson, removeNow, siblingTemp, storeVerified, sweepBeside } from './util.js';
import { createReadStream } from 'node:fs';

export interface DockerArchiveReference extends ImageReference {
  readonly path: string;
  readonly name?: TaggedName;
  readonly index?: number;
}

class DockerArchiveRef implements DockerArchiveReference {
  readonly transport: Transport;
  readonly within: string;
  readonly path: string;
  readonly name?: TaggedName;
  readonly index?: number;

  constructor(transport: Transport, within: string) {
    this.transport = transport;
    this.within = within;
    const colon = within.indexOf(':');
    const path = colon < 0 ? within : within.slice(0, colon);
    const rest = colon < 0 ? undefined : within.slice(colon + 1);
    if (!path) throw new DsvError('ReferenceInvalid', `docker-archive:${within}: missing archive path`, { reference: within });
    this.path = path;
    if (rest !== undefined) {
      if (rest.startsWith('@')) {
        if (!/^@(0|[1-9][0-9]{0,8})$/.test(rest)) throw new DsvError('ReferenceInvalid', `docker-archive:${within}: invalid image index "${rest}" (expected @N)`, { reference: within });
        this.index = Number(rest.slice(1));
      } else {
        this.name = parseTaggedName(rest);
      }
    }
  }

  /** An archive names its images by NAME:TAG or @index, never by digest. */
  get digest(): Digest | undefined {
    return undefined;
  }

  toString(): string {
    return `docker-archive:${this.within}`;
  }

  async newSource(ctx?: SystemContext): Promise<ImageSource> {
    const archive = await DockerSaveArchive.open(this.path);
    const img = archive.select({ ...(this.name ? { name: this.name } : {}), ...(this.index !== undefined ? { index: this.index } : {}) });
    ctx?.debug?.(`docker-archive: ${this.path}: image ${img.index} (${archive.layout} layout), config ${img.configDigest}`);
    return DockerArchiveSource.create(this, archive, img);
  }

  async newDestination(ctx?: SystemContext): Promise<ImageDestination> {
    if (this.index !== undefined) throw new DsvError('Usage', `${this.toString()}: a destination names its image as NAME:TAG, not @N`, { reference: this.within });
    await sweepBeside(dirname(this.path));
    let existing: DockerSaveArchive | undefined;
    if (await exists(this.path)) {
      existing = await DockerSaveArchive.open(this.path);
      ctx?.debug?.(`docker-archive: updating ${this.path} in place (${existing.layout} layout)`);
    }
    return new DockerArchiveDestination(this, existing, ctx);
  }
}

export class DockerArchiveSource implements ImageSource {
  readonly reference: ImageReference;
  /** Entries are read by offset from an indexed archive file. */
  readonly blobOrder = 'any';
  readonly archive: DockerSaveArchive;
  readonly image: ArchiveImage;
  private manifest!: { bytes: Buffer; mediaType: string; digest: Digest };

  private constructor(reference: ImageReference, archive: DockerSaveArchive, image: ArchiveImage) {
    this.reference = reference;
    this.archive = archive;
    this.image = image;
  }

  static async create(reference: ImageReference, archive: DockerSaveArchive, image: ArchiveImage): Promise<DockerArchiveSource> {
    const s = new DockerArchiveSource(reference, archive, image);
    const real = await archive.realManifest(image);
    if (real) {
      s.manifest = real;
    } else {
      const bytes = await archive.synthesiseManifest(image);
      s.manifest = { bytes, mediaType: MediaTypes.DockerManifest, digest: digestOf(bytes) };
    }
    return s;
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    if (instanceDigest !== undefined && instanceDigest !== this.manifest.digest) {
      throw new DsvError('NotFound', `${this.reference.toString()}: no manifest ${instanceDigest} in the archive`, { digest: instanceDigest });
    }
    return { bytes: this.manifest.bytes, mediaType: this.manifest.mediaType };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    const e = this.archive.entryFor(this.image, descriptor.digest);
    if (!e) throw new DsvError('NotFound', `${this.reference.toString()}: blob ${descriptor.digest} is not in the archive`, { digest: descriptor.digest });
    if (e.size !== descriptor.size) {
      throw new DsvError('SizeMismatch', `${this.reference.toString()}: entry "${e.name}" is ${e.size} bytes, but the descriptor of ${descriptor.digest} says ${descriptor.size}`, { digest: descriptor.digest, entry: e.name, expectedSize: descriptor.size, actualSize: e.size });
    }
    return this.archive.tar.openEntry(e);
  }

  async listTags(): Promise<string[]> {
    return [...new Set(this.archive.images.flatMap((i) => i.repoTags))];
  }

  async close(): Promise<void> {}
}

interface ParsedManifest {
  bytes: Uint8Array;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export class DockerArchiveDestination implements ImageDestination {
  readonly reference: DockerArchiveReference;
  private readonly existing?: DockerSaveArchive;
  private readonly spool: string;
  private readonly spooled = new Map<Digest, { file: string; size: number }>();
  private manifest?: ParsedManifest;
  private committed = false;
  private tempTar?: string;

  private readonly ctx: SystemContext;

  constructor(reference: DockerArchiveReference, existing?: DockerSaveArchive, ctx: SystemContext = {}) {
    this.reference = reference;
    this.ctx = ctx;
    if (existing) this.existing = existing;
    this.spool = siblingTemp(reference.path, '.d');
    // Interrupted (SIGINT/SIGTERM) before close(): the spool and a half-written archive go.
    this.unregisterCleanup = registerCleanup(() => {
      if (this.tempTar) removeNow(this.tempTar);
      removeNow(this.spool);
    });
  }

  private readonly unregisterCleanup: () => void;

  supportedManifestMediaTypes(): string[] {
    return [MediaTypes.DockerManifest, MediaTypes.OciManifest];
  }

  private async existingEntry(digest: string): Promise<{ name: string; size: number } | undefined> {
    if (!this.existing) return undefined;
    let known = this.existing.knownBlobs();
    let e = known.get(digest as Digest);
    if (!e && this.existing.images.some((i) => i.layers.some((l) => !l.digest))) {
      for (const img of this.existing.images) await this.existing.resolveDigests(img);
      known = this.existing.knownBlobs();
      e = known.get(digest as Digest);
    }
    return e ? { name: e.name, size: e.size } : undefined;
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    const s = this.spooled.get(descriptor.digest);
    if (s) return s.size === descriptor.size;
    const e = await this.existingEntry(descriptor.digest);
    return !!e && e.size === descriptor.size;
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    const { hex } = parseDigest(descriptor.digest);
    await ensureDirectory(this.spool);
    const file = join(this.spool, hex);
    await storeVerified(descriptor, stream, file);
    this.spooled.set(descriptor.digest, { file, size: descriptor.size });
  }

  async putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    const doc = parseJson(bytes, 'manifest', 'ManifestInvalid');
    if (instanceDigest !== undefined || !isObject(doc) || Array.isArray(doc.manifests)) {
      throw new DsvError('Unsupported', `${this.reference.toString()}: a docker archive holds single-platform images, not manifest lists or indexes (choose a platform)`, { mediaType });
    }
    const mt = typeof doc.mediaType === 'string' ? doc.mediaType : mediaType;
    if (!this.supportedManifestMediaTypes().includes(mt)) {
      throw new DsvError('Unsupported', `${this.reference.toString()}: cannot store a ${mt} manifest`, { mediaType: mt });
    }
    const config = descriptorOf(doc.config, 'manifest config');
    if (!Array.isArray(doc.layers)) throw new DsvError('ManifestInvalid', 'manifest has no layers list');
    const layers = doc.layers.map((l, i) => descriptorOf(l, `manifest layer ${i}`));
    this.manifest = { bytes, mediaType: mt, config, layers };
  }

  /** Where a blob is (existing entry, or spooled file) — or a clear error. */
  private async locate(d: Descriptor, what: string): Promise<{ entry?: string; file?: string; size: number }> {
    // An entry already in the archive wins over a spooled copy: the archive never holds a blob twice.
    const e = await this.existingEntry(d.digest);
    if (e && e.size === d.size) return { entry: e.name, size: e.size };
    const s = this.spooled.get(d.digest);
    if (s) return { file: s.file, size: s.size };
    throw new DsvError('NotFound', `${this.reference.toString()}: ${what} ${d.digest} was never stored`, { digest: d.digest });
  }

  async commit(): Promise<void> {
    if (this.committed) return;
    const m = this.manifest;
    if (!m) throw new DsvError('Usage', `${this.reference.toString()}: commit() before putManifest()`);
    const path = this.reference.path;
    const name = this.reference.name;
    const ex = this.existing;
    const layout = ex?.layout ?? 'legacy';
    const add: TarAddition[] = [];
    const added = new Set<string>();
    const existingNames = new Set(ex?.tar.entries.map((e) => e.name) ?? []);
    const addBlob = async (d: Descriptor, what: string, legacyName: string): Promise<string> => {
      const loc = await this.locate(d, what);
      if (loc.entry) return loc.entry;
      const entryName = layout === 'oci' ? blobPath(d.digest) : legacyName;
      if (existingNames.has(entryName)) {
        throw new DsvError('ArchiveInvalid', `${path}: entry "${entryName}" exists but does not hold ${d.digest}`, { path, entry: entryName });
      }
      if (!added.has(entryName)) {
        added.add(entryName);
        const file = loc.file!;
        add.push({ name: entryName, size: loc.size, open: () => createReadStream(file), digest: d.digest });
      }
      return entryName;
    };

    const configHex = parseDigest(m.config.digest).hex;
    const configPath = await addBlob(m.config, 'config', `${configHex}.json`);
    const layerPaths: string[] = [];
    for (const l of m.layers) layerPaths.push(await addBlob(l, 'layer', `${parseDigest(l.digest).hex}.tar`));

    // manifest.json: the tag moves to this image (an entry with the same config and layers, or a new one).
    const tag = name ? familiarName(name) : undefined;
    const entries: SaveManifestEntry[] = (ex?.manifest ?? []).map((e) => ({ ...e, RepoTags: e.RepoTags ? [...e.RepoTags] : e.RepoTags }));
    if (name) {
      for (const e of entries) if (e.RepoTags) e.RepoTags = e.RepoTags.filter((t) => !sameName(t, name));
    }
    const sameLayers = (e: SaveManifestEntry) => e.Layers.length === layerPaths.length && e.Layers.every((l, i) => l === layerPaths[i]);
    let target = entries.find((e) => e.Config === configPath && sameLayers(e));
    // No NAME:TAG (e.g. `dsv sign docker-archive:FILE`): the new image replaces the one it was made from
    // (same layers, another config), taking its tags, so the archive still holds one image per name
    // instead of an untagged copy beside the unsigned original.
    let replaced: { entry: SaveManifestEntry; manifestDigest?: Digest } | undefined;
    if (!name && !target && ex) {
      // same layers = same layer digests (legacy archives may store one layer under several paths)
      const want = m.layers.map((l) => l.digest);
      const from: ArchiveImage[] = [];
      for (const img of ex.images) {
        if (img.configDigest === m.config.digest || img.layers.length !== want.length) continue;
        await ex.resolveDigests(img);
        if (img.layers.every((l, k) => l.digest === want[k])) from.push(img);
      }
      if (from.length > 1) {
        throw new DsvError('Usage', `${path} holds ${from.length} images with these layers: name the one to replace as docker-archive:${path}:NAME:TAG`, { path });
      }
      if (from.length === 1) {
        const old = entries[from[0]!.index]!;
        const real = await ex.realManifest(from[0]!);
        replaced = { entry: old, ...(real ? { manifestDigest: real.digest } : {}) };
        entries.splice(from[0]!.index, 1);
      }
    }
    if (!target) {
      target = { Config: configPath, RepoTags: replaced?.entry.RepoTags ? [...replaced.entry.RepoTags] : [], Layers: layerPaths };
      entries.push(target);
    }
    if (tag) target.RepoTags = [...(target.RepoTags ?? []), tag];
    if (!target.RepoTags?.length) target.RepoTags = null;
    const replace = new Map<string, Uint8Array>();
    replace.set('manifest.json', Buffer.from(JSON.stringify(entries)));

    // repositories: legacy v1 view {repo: {tag: top-layer id}}.
    if (name && (ex?.repositories || !ex)) {
      const repos: Record<string, Record<string, string>> = JSON.parse(JSON.stringify(ex?.repositories ?? {}));
      for (const [repo, tags] of Object.entries(repos)) {
        for (const t of Object.keys(tags)) if (sameName(`${repo}:${t}`, name)) delete tags[t];
        if (Object.keys(tags).length === 0) delete repos[repo];
      }
      const top = layerPaths[layerPaths.length - 1];
      if (top) {
        const id = /^([0-9a-f]{64})\/layer\.tar$/.exec(top)?.[1] ?? parseDigest(m.layers[m.layers.length - 1]!.digest).hex;
        (repos[familiarRepository(name)] ??= {})[name.tag] = id;
        replace.set('repositories', Buffer.from(JSON.stringify(repos)));
      } else if (ex?.repositories) {
        replace.set('repositories', Buffer.from(JSON.stringify(repos)));
      }
    }

    // index.json (Docker 25+ layout): the manifest blob, and a descriptor carrying the name.
    if (layout === 'oci' && ex?.ociIndex) {
      const md = digestOf(m.bytes);
      const mPath = blobPath(md);
      if (!existingNames.has(mPath) && !added.has(mPath)) {
        added.add(mPath);
        add.push({ name: mPath, bytes: m.bytes });
      }
      const index = JSON.parse(JSON.stringify(ex.ociIndex)) as Record<string, unknown> & { manifests: Array<Record<string, unknown>> };
      if (name) {
        index.manifests = index.manifests.filter((d) => {
          const ann = isObject(d.annotations) ? (d.annotations as Record<string, string>) : {};
          const n = ann['io.containerd.image.name'];
          return !(typeof n === 'string' && sameName(n, name));
        });
      }
      if (replaced?.manifestDigest) {
        // the replaced image's descriptors (and their names) now point at the new manifest
        for (const d of index.manifests) {
          if (d.digest === replaced.manifestDigest) Object.assign(d, { mediaType: m.mediaType, digest: md, size: m.bytes.length });
        }
      }
      const already = index.manifests.some((d) => d.digest === md && !name);
      if (!already) {
        const desc: Record<string, unknown> = { mediaType: m.mediaType, digest: md, size: m.bytes.length };
        if (name) desc.annotations = { 'io.containerd.image.name': fullName(name), 'org.opencontainers.image.ref.name': name.tag };
        index.manifests.push(desc);
      }
      replace.set('index.json', Buffer.from(JSON.stringify(index)));
    }

    for (const [n, bytes] of replace) add.push({ name: n, bytes });
    const tmp = siblingTemp(path, '.tmp');
    this.tempTar = tmp;
    try {
      const onProgress = this.ctx.onProgress;
      await writeTarFile(tmp, tarChunks({ ...(ex ? { copyFrom: ex.tar } : {}), skip: new Set(replace.keys()), add }), {
        ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
        ...(onProgress ? { onProgress: (done: number) => onProgress({ id: path, done, phase: 'write' }) } : {}),
      });
      if (ex) {
        // The archive must still be the one we indexed: refuse to overwrite a concurrent change.
        const st = await stat(path);
        if (st.size !== ex.tar.fileSize) throw new DsvError('IoError', `${path} changed while it was being updated; nothing was written`, { path });
      }
      await rename(tmp, path);
      this.tempTar = undefined;
    } catch (e) {
      await rm(tmp, { force: true });
      this.tempTar = undefined;
      throw ioError(`cannot write ${path}`, e, { path });
    }
    this.committed = true;
    await rm(this.spool, { recursive: true, force: true });
    this.unregisterCleanup();
  }

  async close(): Promise<void> {
    if (this.tempTar) await rm(this.tempTar, { force: true });
    await rm(this.spool, { recursive: true, force: true });
    this.unregisterCleanup();
  }
}

export const dockerArchiveTransport: Transport = {
  name: 'docker-archive',
  parseReference(within: string): DockerArchiveReference {
    return new DockerArchiveRef(dockerArchiveTransport, within);
  },
};

/** For callers that need the archive model without the transport (e.g. listing what an archive holds). */
export { DockerSaveArchive, digestFromBlobPath };
