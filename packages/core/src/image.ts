/**
 * Derived helpers over an ImageSource (in the spirit of go-containerregistry's `partial`): read and
 * verify manifests, configurations and blobs, and walk an index down to its images.
 */
import type { Readable } from 'node:stream';
import { ImageConfig } from './config.js';
import { digestOf, DigestingStream, parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { isIndexMediaType, parseManifest, platformString, matchesPlatform, type ImageIndex, type ImageManifest, type Manifest } from './manifest.js';
import { Limits, type Descriptor } from './model.js';
import type { ImageReference, ImageSource, SystemContext } from './transport.js';

/** Digest of `bytes` with the algorithm of `like` (sha256 unless `like` says otherwise). */
export function digestLike(bytes: Uint8Array, like: Digest): Digest {
  return digestOf(bytes, parseDigest(like).algorithm);
}

/**
 * Reads and parses a manifest (the top one, or the child `instanceDigest`). The digest is that of the
 * exact bytes received; with `instanceDigest` it must match (DigestMismatch otherwise).
 */
export async function readManifest(source: ImageSource, instanceDigest?: Digest): Promise<Manifest> {
  if (instanceDigest !== undefined) parseDigest(instanceDigest);
  const { bytes, mediaType } = await source.getManifest(instanceDigest);
  if (bytes.length > Limits.manifestBytes) {
    throw new DsvError('LimitExceeded', `manifest ${instanceDigest ?? `of ${source.reference.toString()}`} is ${bytes.length} bytes, over the ${Limits.manifestBytes}-byte limit`, {
      size: bytes.length,
      limit: Limits.manifestBytes,
    });
  }
  if (instanceDigest !== undefined) {
    const actual = digestLike(bytes, instanceDigest);
    if (actual !== instanceDigest) {
      throw new DsvError('DigestMismatch', `manifest ${instanceDigest}: content digest ${actual} does not match`, { digest: instanceDigest, actual });
    }
  }
  return parseManifest(bytes, mediaType);
}

/** The top manifest of the image `reference` names: a source opened for that one read and closed again. */
export async function readTopManifest(reference: ImageReference, ctx: SystemContext): Promise<Manifest> {
  const source = await reference.newSource(ctx);
  try {
    return await readManifest(source);
  } finally {
    await source.close();
  }
}

/** A blob stream checked against its descriptor (size and digest); errors surface on the stream. */
export async function readBlobVerified(source: ImageSource, descriptor: Descriptor): Promise<Readable> {
  const raw = await source.getBlob(descriptor);
  const checker = new DigestingStream({ digest: descriptor.digest, size: descriptor.size, name: `blob ${descriptor.digest}` });
  raw.on('error', (e) => checker.destroy(e));
  checker.on('close', () => {
    if (!raw.destroyed) raw.destroy();
  });
  return raw.pipe(checker);
}

/** Reads a whole verified blob into memory, refusing descriptors over `limit` before reading. */
export async function readSmallBlob(source: ImageSource, descriptor: Descriptor, limit: number, what: string): Promise<Uint8Array> {
  if (descriptor.size > limit) {
    throw new DsvError('LimitExceeded', `${what} ${descriptor.digest} is ${descriptor.size} bytes, over the ${limit}-byte limit`, {
      digest: descriptor.digest,
      size: descriptor.size,
      limit,
    });
  }
  const stream = await readBlobVerified(source, descriptor);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The image configuration a manifest names: size capped at Limits.configBytes, digest and size checked. */
export async function readConfig(source: ImageSource, manifest: ImageManifest): Promise<ImageConfig> {
  const bytes = await readSmallBlob(source, manifest.config, Limits.configBytes, 'image configuration');
  try {
    return ImageConfig.parse(bytes);
  } catch (e) {
    if (e instanceof DsvError && e.code === 'ConfigInvalid') {
      throw new DsvError('ConfigInvalid', `image configuration ${manifest.config.digest}: ${e.message}`, { ...e.details, digest: manifest.config.digest }, { cause: e });
    }
    throw e;
  }
}

export interface ResolvedManifest {
  manifest: ImageManifest;
  /** `os/arch[/variant]` from the index entry, when the image came from an index. */
  platform?: string;
  /** The index (list) that named this image. */
  parent?: ImageIndex;
  /** The index entry that named this image. */
  descriptor?: Descriptor;
}

export interface ResolvedImage {
  manifest: ImageManifest;
  config: ImageConfig;
  platform?: string;
  parent?: ImageIndex;
}

export interface ResolveOptions {
  /** Only images for this platform (`os/arch[/variant]`); NotFound when an index has none. */
  platform?: string;
  /** The top-level manifest must have this digest (a by-digest reference). */
  expectedDigest?: Digest;
  /** The top manifest, already read (it is not read again). */
  top?: Manifest;
}

/** Checks the top manifest's digest against an expected one (in its algorithm). */
export function checkTopDigest(top: Manifest, expected: Digest | undefined): void {
  if (expected === undefined) return;
  const actual = digestLike(top.bytes, expected);
  if (actual !== expected) {
    throw new DsvError('DigestMismatch', `manifest ${expected}: the content received hashes to ${actual}`, { digest: expected, actual });
  }
}

/**
 * Reads the top manifest and, for an index, every child image manifest (nested indexes followed up to
 * Limits.indexDepth). Configurations are not read. With `platform`, only matching children.
 */
export async function resolveManifests(source: ImageSource, opts: ResolveOptions = {}): Promise<{ top: Manifest; manifests: ResolvedManifest[] }> {
  const top = opts.top ?? (await readManifest(source));
  checkTopDigest(top, opts.expectedDigest);
  if (opts.platform !== undefined) matchesPlatform({ mediaType: '', digest: '' as Digest, size: 0 }, opts.platform); // validates the syntax
  if (top.kind === 'manifest') return { top, manifests: [{ manifest: top }] };
  const manifests: ResolvedManifest[] = [];
  const seen = new Set<string>();
  const walk = async (index: ImageIndex, depth: number): Promise<void> => {
    if (depth > Limits.indexDepth) {
      throw new DsvError('LimitExceeded', `index ${index.digest} is nested more than ${Limits.indexDepth} levels deep`, { digest: index.digest, limit: Limits.indexDepth });
    }
    for (const child of index.manifests) {
      const nested = isIndexMediaType(child.mediaType);
      if (!nested && opts.platform !== undefined && !matchesPlatform(child, opts.platform)) continue;
      // The same child listed twice is read (and later checked or copied) once.
      if (seen.has(child.digest)) continue;
      seen.add(child.digest);
      const m = await readManifest(source, child.digest);
      if (m.bytes.length !== child.size) {
        throw new DsvError('SizeMismatch', `manifest ${child.digest}: index ${index.digest} says ${child.size} bytes, got ${m.bytes.length}`, {
          digest: child.digest,
          expectedSize: child.size,
          actualSize: m.bytes.length,
        });
      }
      if (m.kind === 'index') {
        await walk(m, depth + 1);
      } else {
        const r: ResolvedManifest = { manifest: m, parent: index, descriptor: child };
        if (child.platform) r.platform = platformString(child.platform);
        manifests.push(r);
      }
    }
  };
  await walk(top, 1);
  if (manifests.length === 0) {
    throw new DsvError(
      'NotFound',
      opts.platform !== undefined
        ? `${source.reference.toString()}: index ${top.digest} has no image for platform ${opts.platform}`
        : `${source.reference.toString()}: index ${top.digest} lists no images`,
      { digest: top.digest, platform: opts.platform },
    );
  }
  return { top, manifests };
}

/** Platform string of a single image from its configuration, when it says. */
export function configPlatform(config: ImageConfig): string | undefined {
  const p = config.platform;
  if (!p.os || !p.architecture) return undefined;
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The top manifest and every image it leads to, with configurations read and verified. */
export async function resolveImages(source: ImageSource, opts: ResolveOptions = {}): Promise<{ top: Manifest; images: ResolvedImage[] }> {
  const { top, manifests } = await resolveManifests(source, opts);
  const images: ResolvedImage[] = [];
  for (const r of manifests) {
    const config = await readConfig(source, r.manifest);
    const img: ResolvedImage = { manifest: r.manifest, config };
    const platform = r.platform ?? configPlatform(config);
    if (platform !== undefined) img.platform = platform;
    if (r.parent) img.parent = r.parent;
    images.push(img);
  }
  return { top, images };
}
