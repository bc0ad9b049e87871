// The deterministic sample-image builder every dsv test uses: real tar layers (fixed mtime, uid/gid,
// modes), gzip / zstd / uncompressed, Docker v2 schema 2 or OCI media types, a config whose
// rootfs.diff_ids are the uncompressed layers' digests, and multi-platform lists / indexes. The same
// options always give the same bytes, hence the same digests.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, MediaTypes, type Descriptor, type Digest } from '@dsv/core/formats';
import { memoryTransport } from '@dsv/core/testing';
import type { ImageDestination, ImageReference } from '@dsv/core/transport';
import { compress, type SampleCompression } from './compress.js';
import { buildTar, layerTar, SAMPLE_MTIME, type TarEntry } from './tar.js';

export type { SampleCompression };
export type SampleFormat = 'docker' | 'oci';

/**
 * A layer: `path -> content` (a path ending in "/" is a directory), explicit tar entries, or raw bytes
 * taken as the uncompressed layer as they are (for tests about digests rather than file systems).
 */
export type SampleLayerSpec = Record<string, string | Uint8Array> | TarEntry[] | Uint8Array;

export interface SampleImageOptions {
  layers: SampleLayerSpec[];
  /** Default gzip. */
  compression?: SampleCompression;
  /** `os/arch[/variant]`, default linux/amd64. */
  platform?: string;
  /** Config labels (config.Labels). */
  labels?: Record<string, string>;
  /** 'docker' (default: Docker v2 schema 2 media types) or 'oci'. */
  format?: SampleFormat;
  /** Extra top-level config members; they replace the defaults (e.g. a different `created`). */
  config?: Record<string, unknown>;
  /** Manifest annotations (OCI). */
  annotations?: Record<string, string>;
  /** rootfs.diff_ids to write instead of the true ones (to build an inconsistent image on purpose). */
  diffIds?: Digest[];
  /** Config bytes to use exactly as given (labels, config, diffIds are then ignored). */
  rawConfig?: Uint8Array;
  /** JSON.stringify indentation of the config (default none) and the manifest (default 3). */
  configIndent?: number;
  manifestIndent?: number;
}

export interface SampleLayer {
  /** The blob as stored (compressed as asked). */
  bytes: Buffer;
  /** The uncompressed tar. */
  tar: Buffer;
  diffId: Digest;
  descriptor: Descriptor;
}

export interface SamplePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface SampleImage {
  format: SampleFormat;
  compression: SampleCompression;
  platform: SamplePlatform;
  configBytes: Buffer;
  config: Descriptor;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  manifestMediaType: string;
  layers: SampleLayer[];
  /** This manifest's descriptor (with platform) as an index lists it. */
  descriptor: Descriptor;
  /** Every blob (config first, then layers) with its bytes. */
  blobs(): Array<{ descriptor: Descriptor; bytes: Buffer }>;
  /** Writes blobs (skipping those hasBlob() reports), then the manifest (as a child when `asChild`), then commits unless `asChild`. */
  pushTo(dest: ImageDestination, opts?: { asChild?: boolean }): Promise<void>;
}

export interface SampleIndex {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
  images: SampleImage[];
  descriptor: Descriptor;
  /** Pushes every image as a child, then the index, then commits. */
  pushTo(dest: ImageDestination): Promise<void>;
}

const CREATED = new Date(SAMPLE_MTIME * 1000).toISOString();

/** Pseudo-random, incompressible, deterministic bytes (sha256 counter stream of `seed`). */
export function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; i++) off += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

export function layerMediaType(format: SampleFormat, c: SampleCompression): string {
  if (format === 'oci') return c === 'gzip' ? MediaTypes.OciLayerGzip : c === 'zstd' ? MediaTypes.OciLayerZstd : MediaTypes.OciLayerTar;
  return c === 'gzip' ? MediaTypes.DockerLayerGzip : c === 'zstd' ? MediaTypes.DockerLayerZstd : MediaTypes.DockerLayerTar;
}

export function parsePlatform(p: string): SamplePlatform {
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw new Error(`bad platform "${p}": want os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

async function push(dest: ImageDestination, blobs: Array<{ descriptor: Descriptor; bytes: Buffer }>): Promise<void> {
  for (const { descriptor, bytes } of blobs) {
    if (!(await dest.hasBlob(descriptor))) await dest.putBlob(descriptor, Readable.from([bytes]));
  }
}

/** Builds one image (synchronously computed; async for API stability). */
export async function buildSampleImage(opts: SampleImageOptions): Promise<SampleImage> {
  return buildSampleImageSync(opts);
}

export function buildSampleImageSync(opts: SampleImageOptions): SampleImage {
  const format = opts.format ?? 'docker';
  const compression = opts.compression ?? 'gzip';
  const platform = parsePlatform(opts.platform ?? 'linux/amd64');
  const layers: SampleLayer[] = opts.layers.map((spec) => {
    const tar = spec instanceof Uint8Array ? Buffer.from(spec) : Array.isArray(spec) ? buildTar(spec) : layerTar(spec);
    const bytes = compress(tar, compression);
    return { bytes, tar, diffId: digestOf(tar), descriptor: { mediaType: layerMediaType(format, compression), digest: digestOf(bytes), size: bytes.length } };
  });
  const configJson = {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    created: CREATED,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], Labels: { ...(opts.labels ?? {}) } },
    rootfs: { type: 'layers', diff_ids: opts.diffIds ?? layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: CREATED, created_by: `sample layer ${i}` })),
    ...(opts.config ?? {}),
  };
  const configBytes = opts.rawConfig ? Buffer.from(opts.rawConfig) : Buffer.from(JSON.stringify(configJson, null, opts.configIndent));
  const config: Descriptor = { mediaType: format === 'oci' ? MediaTypes.OciConfig : MediaTypes.DockerConfig, digest: digestOf(configBytes), size: configBytes.length };
  const manifestMediaType = format === 'oci' ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: manifestMediaType, config, layers: layers.map((l) => l.descriptor) };
  if (opts.annotations) doc.annotations = opts.annotations;
  const manifestBytes = Buffer.from(JSON.stringify(doc, null, opts.manifestIndent ?? 3));
  const manifestDigest = digestOf(manifestBytes);
  const blobs = () => [{ descriptor: config, bytes: configBytes }, ...layers.map((l) => ({ descriptor: l.descriptor, bytes: l.bytes }))];
  return {
    format,
    compression,
    platform,
    configBytes,
    config,
    manifestBytes,
    manifestDigest,
    manifestMediaType,
    layers,
    descriptor: { mediaType: manifestMediaType, digest: manifestDigest, size: manifestBytes.length, platform },
    blobs,
    async pushTo(dest, o = {}) {
      await push(dest, blobs());
      if (o.asChild) {
        await dest.putManifest(manifestBytes, manifestMediaType, manifestDigest);
      } else {
        await dest.putManifest(manifestBytes, manifestMediaType);
        await dest.commit();
      }
    },
  };
}

/** A Docker manifest list (format 'docker') or an OCI index over sample images. */
export function buildSampleIndex(images: SampleImage[], opts: { format?: SampleFormat; annotations?: Record<string, string>; indent?: number } = {}): SampleIndex {
  const format = opts.format ?? images[0]?.format ?? 'docker';
  const mediaType = format === 'oci' ? MediaTypes.OciIndex : MediaTypes.DockerManifestList;
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests: images.map((i) => i.descriptor) };
  if (opts.annotations) doc.annotations = opts.annotations;
  const bytes = Buffer.from(JSON.stringify(doc, null, opts.indent ?? 3));
  const digest = digestOf(bytes);
  return {
    bytes,
    digest,
    mediaType,
    images,
    descriptor: { mediaType, digest, size: bytes.length },
    async pushTo(dest) {
      for (const i of images) await i.pushTo(dest, { asChild: true });
      await dest.putManifest(bytes, mediaType);
      await dest.commit();
    },
  };
}

/** Writes an image or index into the in-memory store under `name` (`repo:tag`); returns its reference. */
export async function writeMemoryImage(image: SampleImage | SampleIndex, name: string): Promise<ImageReference> {
  const reference = memoryTransport.parseReference(name);
  const dest = await reference.newDestination();
  try {
    await image.pushTo(dest);
  } finally {
    await dest.close();
  }
  return reference;
}
