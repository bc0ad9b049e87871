// The docker:// transport: references, and the ImageSource / ImageDestination over a RegistryClient.
import type { Readable } from 'node:stream';
import {
  DsvError,
  MediaTypes,
  digestOf,
  formatDockerReference,
  parseDigest,
  parseDockerReference,
  verifiedFor,
  type Descriptor,
  type Digest,
  type DockerReference,
} from '@dsv/core/formats';
import type {
  ImageDestination,
  ImageReference,
  ImageSource,
  PutBlobOptions,
  SystemContext,
  Transport,
} from '@dsv/core/transport';
import type { RegistryClient, RegistryClientOptions } from './client.js';
import { clientFor } from './shared.js';

/** Extra, docker-transport-only options (tests, tuning); everything else comes from SystemContext. */
export type DockerTransportOptions = Omit<RegistryClientOptions, 'registry' | 'ctx'>;

/** A `docker://host/repo[:tag][@digest]` reference. */
export class DockerImageReference implements ImageReference {
  readonly transport: Transport;
  readonly ref: DockerReference;
  readonly within: string;
  private readonly clientOptions: DockerTransportOptions;

  constructor(transport: Transport, ref: DockerReference, clientOptions: DockerTransportOptions = {}) {
    this.transport = transport;
    this.ref = ref;
    this.within = formatDockerReference(ref);
    this.clientOptions = clientOptions;
  }

  get registry(): string {
    return this.ref.registry;
  }
  get repository(): string {
    return this.ref.repository;
  }
  get tag(): string | undefined {
    return this.ref.tag;
  }
  get digest(): Digest | undefined {
    return this.ref.digest;
  }

  toString(): string {
    return `docker://${this.within}`;
  }

  /**
   * A client for this reference's registry (the caller closes it). With SystemContext.runResources, the run's
   * one client for this registry and configuration (shared.ts): its close() leaves it open for the run's
   * other images, and the run closes it at its end.
   */
  newClient(ctx: SystemContext = {}): RegistryClient {
    return clientFor({ ...this.clientOptions, registry: this.ref.registry, ctx });
  }

  async newSource(ctx: SystemContext = {}): Promise<ImageSource> {
    return new DockerImageSource(this, this.newClient(ctx));
  }

  async newDestination(ctx: SystemContext = {}): Promise<ImageDestination> {
    const client = this.newClient(ctx);
    // A destination is written after its source is read: meet the registry (scheme, /v2/, challenge)
    // while the source's manifests are fetched, not after.
    client.prepare();
    return new DockerImageDestination(this, client, ctx);
  }
}

export class DockerImageSource implements ImageSource {
  readonly reference: DockerImageReference;
  readonly blobOrder = 'any';
  readonly client: RegistryClient;

  constructor(reference: DockerImageReference, client: RegistryClient) {
    this.reference = reference;
    this.client = client;
  }

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const r = this.reference;
    const ref = instanceDigest ?? r.digest ?? r.tag ?? 'latest';
    const { bytes, mediaType } = await this.client.getManifest(r.repository, ref);
    return { bytes, mediaType };
  }

  /** The blob's bytes; the stream fails (never ends cleanly) when they do not match the descriptor. */
  async getBlob(descriptor: Descriptor): Promise<Readable> {
    // ImageSource blobs are checked by their reader (core's integrity engine and copy hash every byte
    // once); the client still bounds the size and resumes broken downloads.
    return this.client.getBlob(this.reference.repository, descriptor.digest, { size: descriptor.size, verify: false });
  }

  async listTags(): Promise<string[]> {
    return this.client.listTags(this.reference.repository);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

const SUPPORTED_MANIFEST_TYPES = [MediaTypes.OciManifest, MediaTypes.DockerManifest, MediaTypes.OciIndex, MediaTypes.DockerManifestList];

/**
 * Writes to a registry repository. Blobs and child manifests (by digest) are stored immediately; the
 * manifest the reference names is PUT only in commit(), so a tag moves only after everything it
 * points at is stored.
 */
export class DockerImageDestination implements ImageDestination {
  readonly reference: DockerImageReference;
  readonly client: RegistryClient;
  private readonly ctx: SystemContext;
  private pending: { bytes: Uint8Array; mediaType: string } | undefined;
  private committed = false;

  constructor(reference: DockerImageReference, client: RegistryClient, ctx: SystemContext = {}) {
    this.reference = reference;
    this.client = client;
    this.ctx = ctx;
  }

  supportedManifestMediaTypes(): string[] {
    return [...SUPPORTED_MANIFEST_TYPES];
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.client.hasBlob(this.reference.repository, descriptor.digest);
  }

  /** The repository to mount from, when `mountFrom` is a docker reference on this registry (and another repository). */
  private mountSource(options?: PutBlobOptions): string | undefined {
    const from = options?.mountFrom;
    if (!from || from.transport.name !== 'docker') return undefined;
    let ref: DockerReference;
    try {
      ref = from instanceof DockerImageReference ? from.ref : parseDockerReference(from.within);
    } catch {
      return undefined;
    }
    if (ref.registry.toLowerCase() !== this.reference.registry.toLowerCase()) return undefined;
    if (ref.repository === this.reference.repository) return undefined;
    return ref.repository;
  }

  /** A cross-repository mount, when `mountFrom` is on this registry (callers asked hasBlob first). */
  async tryReuseBlob(descriptor: Descriptor, options: PutBlobOptions): Promise<boolean> {
    const from = this.mountSource(options);
    if (!from) return false;
    return this.client.mountBlob(this.reference.repository, descriptor.digest, from);
  }

  async putBlob(descriptor: Descriptor, stream: Readable, _options?: PutBlobOptions): Promise<void> {
    parseDigest(descriptor.digest);
    // A VerifiedBlob checks itself (and fails before its last byte): the client need not hash it again.
    await this.client.uploadBlob(this.reference.repository, descriptor.digest, stream, { size: descriptor.size, verify: !verifiedFor(stream, descriptor) });
  }

  async putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    if (this.committed) throw new DsvError('Usage', `${this.reference.toString()}: destination already committed`);
    if (instanceDigest !== undefined) {
      const actual = digestOf(bytes, parseDigest(instanceDigest).algorithm);
      if (actual !== instanceDigest) {
        throw new DsvError('DigestMismatch', `child manifest ${instanceDigest}: content digest ${actual} does not match`, { digest: instanceDigest, actual });
      }
      await this.client.putManifest(this.reference.repository, instanceDigest, bytes, mediaType);
      return;
    }
    const d = this.reference.digest;
    if (d !== undefined) {
      const actual = digestOf(bytes, parseDigest(d).algorithm);
      if (actual !== d) {
        throw new DsvError('DigestMismatch', `${this.reference.toString()}: manifest digest ${actual} does not match the reference`, { digest: d, actual });
      }
    }
    this.pending = { bytes: new Uint8Array(bytes), mediaType };
  }

  async commit(): Promise<void> {
    if (this.committed) return;
    const p = this.pending;
    if (!p) throw new DsvError('Usage', `${this.reference.toString()}: commit() without a manifest`);
    const r = this.reference;
    const digest = await this.client.putManifest(r.repository, r.tag ?? r.digest ?? 'latest', p.bytes, p.mediaType);
    this.ctx.debug?.(`registry ${r.registry}: ${r.repository}${r.tag ? `:${r.tag}` : ''} now points at ${digest}`);
    this.committed = true;
  }

  async close(): Promise<void> {
    this.pending = undefined;
    await this.client.close();
  }
}

/** Creates a `docker` transport; `options` reach every RegistryClient it makes. */
export function createDockerTransport(options: DockerTransportOptions & { defaultRegistry?: string } = {}): Transport {
  const { defaultRegistry, ...clientOptions } = options;
  const transport: Transport = {
    name: 'docker',
    parseReference(within: string): ImageReference {
      const text = within.startsWith('//') ? within.slice(2) : within;
      return new DockerImageReference(transport, parseDockerReference(text, defaultRegistry ? { defaultRegistry } : {}), clientOptions);
    },
  };
  return transport;
}

/** The `docker://` transport: parseReference('host/repo:tag'); toString() is 'docker://host/repo:tag'. */
export const dockerTransport: Transport = createDockerTransport();
