import { Readable } from 'node:stream';
import { DsvError } from './errors.js';
import { digestOf, parseDigest, Digester, verifiedFor, type Digest } from './digest.js';
import { Limits, MediaTypes, type Descriptor } from './model.js';
import type { ImageDestination, ImageReference, ImageSource, PutBlobOptions, SystemContext, Transport } from './transport.js';

/**
 * `memory:NAME[:TAG]` / `memory:NAME@DIGEST`: a process-wide, registry-like store. Repositories hold
 * blobs and manifests by digest plus tags; a destination stages everything and makes it visible on
 * commit() (blobs, then manifests, then the tag). Used by tests, the conformance suite and the demo.
 */

interface StoredManifest {
  bytes: Uint8Array;
  mediaType: string;
}

interface Repository {
  blobs: Map<string, Uint8Array>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, Digest>;
}

const store = new Map<string, Repository>();

function repo(name: string, create: boolean): Repository | undefined {
  let r = store.get(name);
  if (!r && create) {
    r = { blobs: new Map(), manifests: new Map(), tags: new Map() };
    store.set(name, r);
  }
  return r;
}

/** Forgets every memory: image. */
export function clearMemoryStore(): void {
  store.clear();
}

/**
 * Fault injection for tests: writes bytes WITHOUT verification (a blob under a digest it does not
 * hash to, a manifest under any digest/tag). Never used by dsv itself.
 */
export const memoryStoreFaults = {
  putRawBlob(name: string, digest: string, bytes: Uint8Array): void {
    repo(name, true)!.blobs.set(digest, bytes);
  },
  deleteBlob(name: string, digest: string): void {
    repo(name, false)?.blobs.delete(digest);
  },
  putRawManifest(name: string, digest: string, bytes: Uint8Array, mediaType: string, tag?: string): void {
    const r = repo(name, true)!;
    r.manifests.set(digest, { bytes, mediaType });
    if (tag) r.tags.set(tag, digest as Digest);
  },
};

const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

class MemoryReference implements ImageReference {
  readonly transport: Transport;
  readonly name: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;

  constructor(transport: Transport, name: string, tag: string | undefined, digest: Digest | undefined) {
    this.transport = transport;
    this.name = name;
    this.tag = tag;
    this.digest = digest;
  }

  get within(): string {
    return this.digest ? `${this.name}@${this.digest}` : `${this.name}:${this.tag}`;
  }

  toString(): string {
    return `memory:${this.within}`;
  }

  async newSource(_ctx?: SystemContext): Promise<ImageSource> {
    return new MemorySource(this);
  }

  async newDestination(_ctx?: SystemContext): Promise<ImageDestination> {
    return new MemoryDestination(this);
  }
}

function parseMemoryReference(transport: Transport, within: string): MemoryReference {
  const bad = (why: string) => new DsvError('ReferenceInvalid', `invalid memory reference "${within.slice(0, 200)}": ${why}`, { reference: within.slice(0, 200) });
  let name = within;
  let tag: string | undefined;
  let digest: Digest | undefined;
  const at = within.indexOf('@');
  if (at >= 0) {
    name = within.slice(0, at);
    try {
      digest = parseDigest(within.slice(at + 1)).digest;
    } catch (e) {
      throw bad((e as Error).message);
    }
  } else {
    const colon = within.lastIndexOf(':');
    if (colon >= 0) {
      name = within.slice(0, colon);
      tag = within.slice(colon + 1);
      if (!TAG_RE.test(tag)) throw bad(`invalid tag "${tag}"`);
    } else {
      tag = 'latest';
    }
  }
  if (!NAME_RE.test(name)) throw bad('the name must be lower-case path components ([a-z0-9], separated by . _ - /)');
  return new MemoryReference(transport, name, tag, digest);
}

export const memoryTransport: Transport = {
  name: 'memory',
  parseReference(within: string): ImageReference {
    return parseMemoryReference(memoryTransport, within);
  },
};

/** Splits a blob into chunks so consumers see a real stream. */
function blobStream(bytes: Uint8Array): Readable {
  const chunk = 64 * 1024;
  function* parts() {
    for (let i = 0; i < bytes.length; i += chunk) yield Buffer.from(bytes.buffer, bytes.byteOffset + i, Math.min(chunk, bytes.length - i));
  }
  return Readable.from(parts(), { objectMode: false });
}

function digestFor(bytes: Uint8Array, like: string): Digest {
  return digestOf(bytes, parseDigest(like).algorithm);
}

class MemorySource implements ImageSource {
  readonly reference: MemoryReference;
  readonly blobOrder = 'any';

  constructor(ref: MemoryReference) {
    this.reference = ref;
  }

  private repo(): Repository {
    const r = repo(this.reference.name, false);
    if (!r) throw new DsvError('NotFound', `${this.reference.toString()}: no such image`, { reference: this.reference.toString() });
    return r;
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const r = this.repo();
    let digest = instanceDigest ?? this.reference.digest;
    if (!digest) {
      digest = r.tags.get(this.reference.tag!);
      if (!digest) throw new DsvError('NotFound', `${this.reference.toString()}: no such tag`, { reference: this.reference.toString() });
    }
    const m = r.manifests.get(digest);
    if (!m) throw new DsvError('NotFound', `${this.reference.toString()}: manifest ${digest} not found`, { reference: this.reference.toString(), digest });
    return { bytes: new Uint8Array(m.bytes), mediaType: m.mediaType };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    const b = this.repo().blobs.get(descriptor.digest);
    if (!b) throw new DsvError('NotFound', `${this.reference.toString()}: blob ${descriptor.digest} not found`, { reference: this.reference.toString(), digest: descriptor.digest });
    return blobStream(b);
  }

  async listTags(): Promise<string[]> {
    return [...this.repo().tags.keys()].sort();
  }

  async close(): Promise<void> {}
}

/** Descriptors a manifest document points at (blobs for an image, manifests for an index). */
function references(bytes: Uint8Array): { blobs: Descriptor[]; manifests: Descriptor[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new DsvError('ManifestInvalid', 'memory: manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new DsvError('ManifestInvalid', 'memory: manifest is not a JSON object');
  const d = doc as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (Array.isArray(d.manifests)) return { blobs: [], manifests: d.manifests };
  const blobs = [...(d.config ? [d.config] : []), ...(Array.isArray(d.layers) ? d.layers : [])];
  // Foreign layers (with urls) need not be stored, as in a registry.
  return { blobs: blobs.filter((b) => !(Array.isArray(b.urls) && b.urls.length > 0)), manifests: [] };
}

class MemoryDestination implements ImageDestination {
  readonly reference: MemoryReference;
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly manifests = new Map<string, StoredManifest>();
  private top: Digest | undefined;
  private closed = false;

  constructor(ref: MemoryReference) {
    this.reference = ref;
  }

  private checkOpen(): void {
    if (this.closed) throw new DsvError('Usage', `${this.reference.toString()}: destination already closed`);
  }

  supportedManifestMediaTypes(): string[] {
    return [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];
  }

  private present(digest: string): boolean {
    return this.blobs.has(digest) || (repo(this.reference.name, false)?.blobs.has(digest) ?? false);
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    this.checkOpen();
    return this.present(descriptor.digest);
  }

  async tryReuseBlob(descriptor: Descriptor, options: PutBlobOptions): Promise<boolean> {
    this.checkOpen();
    if (this.present(descriptor.digest)) return true;
    const from = options.mountFrom;
    if (!(from instanceof MemoryReference)) return false;
    const b = repo(from.name, false)?.blobs.get(descriptor.digest);
    if (!b || b.length !== descriptor.size || digestFor(b, descriptor.digest) !== descriptor.digest) return false;
    this.blobs.set(descriptor.digest, b);
    return true;
  }

  async putBlob(descriptor: Descriptor, stream: Readable, _options?: PutBlobOptions): Promise<void> {
    this.checkOpen();
    const algorithm = parseDigest(descriptor.digest).algorithm;
    const d = new Digester(algorithm);
    // A VerifiedBlob for this descriptor fails before its end on a mismatch: only count it.
    const verified = verifiedFor(stream, descriptor);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of stream) {
      const chunk = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
      size += chunk.length;
      if (verified) {
        chunks.push(chunk);
        continue;
      }
      d.update(chunk);
      if (d.size > descriptor.size) {
        stream.destroy();
        throw new DsvError('SizeMismatch', `blob ${descriptor.digest}: more than the expected ${descriptor.size} bytes`, { digest: descriptor.digest, expectedSize: descriptor.size });
      }
      chunks.push(chunk);
    }
    if (verified) {
      if (size !== descriptor.size) throw new DsvError('SizeMismatch', `blob ${descriptor.digest}: expected ${descriptor.size} bytes, got ${size}`, { digest: descriptor.digest });
      this.blobs.set(descriptor.digest, Buffer.concat(chunks));
      return;
    }
    if (d.size !== descriptor.size) {
      throw new DsvError('SizeMismatch', `blob ${descriptor.digest}: expected ${descriptor.size} bytes, got ${d.size}`, { digest: descriptor.digest, expectedSize: descriptor.size, actualSize: d.size });
    }
    const actual = d.digest();
    if (actual !== descriptor.digest) {
      throw new DsvError('DigestMismatch', `blob ${descriptor.digest}: content digest ${actual} does not match`, { digest: descriptor.digest, actual });
    }
    this.blobs.set(descriptor.digest, Buffer.concat(chunks));
  }

  async putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    this.checkOpen();
    if (bytes.length > Limits.manifestBytes) throw new DsvError('LimitExceeded', `manifest of ${bytes.length} bytes is over the ${Limits.manifestBytes}-byte limit`);
    const expected = instanceDigest ?? (this.reference.digest as Digest | undefined);
    const digest = expected ? digestFor(bytes, expected) : digestOf(bytes);
    if (expected && digest !== expected) {
      throw new DsvError('DigestMismatch', `manifest ${expected}: content digest ${digest} does not match`, { digest: expected, actual: digest });
    }
    const r = repo(this.reference.name, false);
    const refs = references(bytes);
    for (const b of refs.blobs) {
      if (!this.present(b.digest)) throw new DsvError('NotFound', `${this.reference.toString()}: manifest refers to blob ${b.digest}, which is not stored`, { digest: b.digest });
    }
    for (const m of refs.manifests) {
      if (!this.manifests.has(m.digest) && !r?.manifests.has(m.digest)) {
        throw new DsvError('NotFound', `${this.reference.toString()}: index refers to manifest ${m.digest}, which is not stored`, { digest: m.digest });
      }
    }
    this.manifests.set(digest, { bytes: new Uint8Array(bytes), mediaType });
    if (!instanceDigest) this.top = digest;
  }

  async commit(): Promise<void> {
    this.checkOpen();
    const r = repo(this.reference.name, true)!;
    for (const [d, b] of this.blobs) r.blobs.set(d, b);
    for (const [d, m] of this.manifests) r.manifests.set(d, m);
    if (this.top && this.reference.tag) r.tags.set(this.reference.tag, this.top);
    this.blobs.clear();
    this.manifests.clear();
    this.top = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.blobs.clear();
    this.manifests.clear();
  }
}
