// The containerd: transport: references, the ImageSource (image record → manifest/index → blobs, all
// from the content store) and the ImageDestination (content written under a lease, gc.ref labels on
// manifests and indexes, the image record created or moved only at commit).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DsvError,
  ErrorCodes,
  Limits,
  MediaTypes,
  digestOf,
  parseManifest,
  type Descriptor,
  type Digest,
  type ImageDestination,
  type ImageReference,
  type ImageSource,
  type SystemContext,
  type Transport,
} from '@dsv/core';
import { ContainerdClient, DEFAULT_ADDRESS, DEFAULT_NAMESPACE, GrpcStatus, grpcCode, type Msg } from './client.js';
import { contentInfo, readAll, readContent, setContentLabels, writeContent } from './content.js';
import { formatContainerdReference, parseContainerdReference, type ParsedContainerdReference } from './reference.js';

export interface ContainerdOptions {
  /** Namespace when the reference has no brackets (`--namespace` / CONTAINERD_NAMESPACE); default `default`. */
  namespace?: string;
  /** Socket path when the reference names none (`--address` / CONTAINERD_ADDRESS); default /run/containerd/containerd.sock. */
  address?: string;
  /** How long a write lease outlives a crashed copy, in seconds (label containerd.io/gc.expire); default 3600. */
  leaseExpirySeconds?: number;
}

/** The containerd: transport with the given defaults. */
export function createContainerdTransport(options: ContainerdOptions = {}): Transport {
  const transport: Transport = {
    name: 'containerd',
    parseReference: (within) => new ContainerdReference(transport, parseContainerdReference(within), options),
  };
  return transport;
}

/** The transport with containerd's defaults (namespace `default`, the system socket). */
export const containerdTransport: Transport = createContainerdTransport();

export class ContainerdReference implements ImageReference {
  readonly within: string;
  readonly namespace: string;
  readonly address: string;
  constructor(readonly transport: Transport, readonly parsed: ParsedContainerdReference, readonly options: ContainerdOptions) {
    this.within = formatContainerdReference(parsed);
    this.namespace = parsed.namespace ?? options.namespace ?? DEFAULT_NAMESPACE;
    this.address = parsed.address ?? options.address ?? DEFAULT_ADDRESS;
  }
  /** The digest the reference names (`NAME@sha256:…`), when it names one. */
  get digest() {
    return this.parsed.digest;
  }
  toString(): string {
    return `containerd:${this.within}`;
  }
  /** A client for the reference's namespace and socket: the brackets, else the context's, else the transport's. */
  client(ctx?: SystemContext): ContainerdClient {
    const namespace = this.parsed.namespace ?? ctx?.containerdNamespace ?? this.namespace;
    const address = this.parsed.address ?? ctx?.containerdAddress ?? this.address;
    return new ContainerdClient(address, namespace, ctx?.requestTimeoutMs);
  }
  async newSource(ctx?: SystemContext): Promise<ImageSource> {
    const client = this.client(ctx);
    try {
      const target = await resolveTarget(client, this.parsed);
      ctx?.debug?.(`containerd: ${this.parsed.name} in ${client.namespace} → ${target.digest}`);
      return new ContainerdSource(this, client, target);
    } catch (e) {
      client.close();
      throw e;
    }
  }
  async newDestination(ctx?: SystemContext): Promise<ImageDestination> {
    const client = this.client(ctx);
    // Fail early (and name the socket) when containerd is not there.
    try {
      await client.unary('namespaces', 'List', ['ListNamespacesRequest', 'ListNamespacesResponse'], {});
    } catch (e) {
      client.close();
      throw e;
    }
    return new ContainerdDestination(this, client, ctx);
  }
}

/** The descriptor the reference names: the image record's target, or content by digest. */
async function resolveTarget(client: ContainerdClient, ref: ParsedContainerdReference): Promise<Descriptor> {
  try {
    const get = (name: string) => client.unary('images', 'Get', ['GetImageRequest', 'GetImageResponse'], { name });
    // A record stored without a tag is found by the name as written when NAME:latest is not there.
    const res = await get(ref.name).catch((e: unknown) => {
      if (ref.untagged === undefined || grpcCode(e) !== GrpcStatus.NOT_FOUND) throw e;
      return get(ref.untagged);
    });
    const t = (res.image as Msg).target as Msg;
    if (ref.digest !== undefined && t.digest !== ref.digest) {
      throw new DsvError(ErrorCodes.DigestMismatch, `containerd image ${ref.name} points at ${t.digest}, not ${ref.digest}`, { expected: ref.digest, actual: t.digest });
    }
    return { mediaType: t.media_type, digest: t.digest as Digest, size: Number(t.size) };
  } catch (e) {
    if (grpcCode(e) !== GrpcStatus.NOT_FOUND) throw e;
    if (ref.digest !== undefined) {
      const info = await contentInfo(client, ref.digest);
      if (info) return { mediaType: '', digest: ref.digest, size: info.size };
    }
    throw new DsvError(ErrorCodes.NotFound, `containerd has no image ${ref.name} in namespace ${client.namespace}`, { name: ref.name, namespace: client.namespace });
  }
}

/** The media type a manifest document declares; without a mediaType field, OCI by shape. */
function sniffMediaType(bytes: Uint8Array, declared: string): string {
  if (declared) return declared;
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaTypes.OciIndex : MediaTypes.OciManifest;
  } catch {
    return MediaTypes.OciManifest;
  }
}

export class ContainerdSource implements ImageSource {
  /** Blobs are content-store items addressed by digest: any order, concurrently. */
  readonly blobsInAnyOrder = true;
  constructor(readonly reference: ContainerdReference, private readonly client: ContainerdClient, readonly target: Descriptor) {}

  async getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }> {
    const digest = instanceDigest ?? this.target.digest;
    const info = await contentInfo(this.client, digest);
    if (!info) throw new DsvError(ErrorCodes.NotFound, `containerd content store has no manifest ${digest} (namespace ${this.client.namespace})`, { digest });
    if (info.size > Limits.manifestBytes) throw new DsvError(ErrorCodes.LimitExceeded, `manifest ${digest} is ${info.size} bytes`, { digest });
    const bytes = await readAll(this.client, digest, Limits.manifestBytes);
    return { bytes, mediaType: sniffMediaType(bytes, instanceDigest === undefined ? this.target.mediaType : '') };
  }

  async getBlob(descriptor: Descriptor): Promise<Readable> {
    const info = await contentInfo(this.client, descriptor.digest);
    if (!info) throw new DsvError(ErrorCodes.NotFound, `containerd content store has no blob ${descriptor.digest} (namespace ${this.client.namespace})`, { digest: descriptor.digest });
    return readContent(this.client, descriptor.digest);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** The labels containerd's garbage collector follows from a manifest or index to its children. */
export function gcRefLabels(bytes: Uint8Array, mediaType: string): Record<string, string> {
  const m = parseManifest(bytes, mediaType);
  const labels: Record<string, string> = {};
  if ('manifests' in m) {
    m.manifests.forEach((d, i) => (labels[`containerd.io/gc.ref.content.m.${i}`] = d.digest));
  } else {
    labels['containerd.io/gc.ref.content.config'] = m.config.digest;
    m.layers.forEach((d, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = d.digest));
  }
  return labels;
}

export class ContainerdDestination implements ImageDestination {
  private leasePromise: Promise<string> | undefined;
  private top: Descriptor | undefined;
  private committed = false;
  constructor(readonly reference: ContainerdReference, private readonly client: ContainerdClient, private readonly ctx?: SystemContext) {}

  supportedManifestMediaTypes(): string[] {
    return [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];
  }

  /** The write lease, created once on first use: nothing written is collected before the record exists. */
  private ensureLease(): Promise<string> {
    this.leasePromise ??= this.createLease();
    return this.leasePromise;
  }

  private async createLease(): Promise<string> {
    const id = `dsv-${Date.now()}-${randomBytes(6).toString('hex')}`;
    const expiry = new Date(Date.now() + (this.reference.options.leaseExpirySeconds ?? 3600) * 1000);
    try {
      await this.client.unary('leases', 'Create', ['CreateRequest', 'CreateResponse'], {
        id,
        labels: { 'containerd.io/gc.expire': expiry.toISOString().replace(/\.\d{3}Z$/, 'Z') },
      });
    } catch (e) {
      this.leasePromise = undefined;
      throw e;
    }
    return id;
  }

  private async holdContent(digest: string): Promise<void> {
    const lease = await this.ensureLease();
    await this.client.unary('leases', 'AddResource', ['AddResourceRequest', 'google.protobuf.Empty'], { id: lease, resource: { id: digest, type: 'content' } });
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    const info = await contentInfo(this.client, descriptor.digest);
    if (!info || info.size !== descriptor.size) return false;
    await this.holdContent(descriptor.digest);
    return true;
  }

  async putBlob(descriptor: Descriptor, stream: Readable): Promise<void> {
    await this.write(descriptor.digest, descriptor.size, stream);
  }

  private async write(digest: string, size: number, stream: Readable, labels?: Record<string, string>): Promise<void> {
    const lease = await this.ensureLease();
    const ref = `${lease}-${digest}`;
    this.ctx?.debug?.(`containerd: writing ${digest} (${size} bytes) under lease ${lease}`);
    const created = await writeContent(this.client, stream, { ref, digest, size, labels, lease });
    if (!created) {
      await this.holdContent(digest);
      if (labels) await setContentLabels(this.client, digest, labels);
    }
  }

  async putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void> {
    const digest = digestOf(bytes);
    if (instanceDigest !== undefined && instanceDigest !== digest) {
      throw new DsvError(ErrorCodes.DigestMismatch, `manifest bytes hash to ${digest}, not ${instanceDigest}`, { expected: instanceDigest, actual: digest });
    }
    const labels = gcRefLabels(bytes, mediaType);
    await this.write(digest, bytes.length, Readable.from([Buffer.from(bytes)]), labels);
    if (instanceDigest === undefined) this.top = { mediaType, digest, size: bytes.length };
  }

  async commit(): Promise<void> {
    const top = this.top;
    if (!top) throw new DsvError(ErrorCodes.Usage, `commit to ${this.reference} before its manifest was written`, {});
    const want = this.reference.parsed.digest;
    if (want !== undefined && want !== top.digest) {
      throw new DsvError(ErrorCodes.DigestMismatch, `the manifest written is ${top.digest}, but ${this.reference} names ${want}`, { expected: want, actual: top.digest });
    }
    const image = {
      name: this.reference.parsed.name,
      target: { media_type: top.mediaType, digest: top.digest, size: top.size },
    };
    try {
      await this.client.unary('images', 'Create', ['CreateImageRequest', 'CreateImageResponse'], { image });
    } catch (e) {
      if (grpcCode(e) !== GrpcStatus.ALREADY_EXISTS) throw e;
      await this.client.unary('images', 'Update', ['UpdateImageRequest', 'UpdateImageResponse'], { image, update_mask: { paths: ['target'] } });
    }
    this.committed = true;
    // The record now holds everything; the lease has done its job.
    await this.dropLease();
  }

  private async dropLease(): Promise<void> {
    const id = this.leasePromise ? await this.leasePromise.catch(() => undefined) : undefined;
    if (!id) return;
    this.leasePromise = undefined;
    await this.client.unary('leases', 'Delete', ['DeleteRequest', 'google.protobuf.Empty'], { id, sync: false });
  }

  async close(): Promise<void> {
    try {
      if (!this.committed) await this.dropLease();
    } catch (e) {
      this.ctx?.debug?.(`containerd: could not delete lease: ${(e as Error).message} (it expires by itself)`);
    } finally {
      this.client.close();
    }
  }
}

