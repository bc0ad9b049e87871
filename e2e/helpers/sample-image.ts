// Deterministic sample images for tests: real tar layers (tar-stream, fixed mtime/uid/gid/mode),
// compressed with node:zlib gzip (or the zstd tool), a Docker or OCI manifest and a config whose
// rootfs.diff_ids are the uncompressed layers' digests. pushTo() writes it through any ImageDestination.
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { digestOf, MediaTypes, type Descriptor, type Digest, type ImageDestination } from '@dsv/core';

export type SampleCompression = 'gzip' | 'none' | 'zstd';

export interface SampleImageOptions {
  /** One record per layer: path -> content (a path ending in "/" is a directory; its value is ignored). */
  layers: Array<Record<string, string | Buffer>>;
  compression?: SampleCompression;
  /** `os/arch[/variant]`, default linux/amd64. */
  platform?: string;
  labels?: Record<string, string>;
  /** 'docker' (default: Docker v2 schema 2 media types) or 'oci'. */
  format?: 'docker' | 'oci';
  /** Extra top-level config members (e.g. a fixed `created`). */
  config?: Record<string, unknown>;
}

export interface SampleLayer {
  /** The blob as stored (compressed as asked). */
  bytes: Buffer;
  /** The uncompressed tar. */
  tar: Buffer;
  diffId: Digest;
  descriptor: Descriptor;
}

export interface SampleImage {
  format: 'docker' | 'oci';
  platform: { os: string; architecture: string; variant?: string };
  configBytes: Buffer;
  config: Descriptor;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  manifestMediaType: string;
  layers: SampleLayer[];
  /** A descriptor for this manifest (with platform) as an index would list it. */
  descriptor: Descriptor;
  /** Writes blobs, then the manifest (as a child when `asChild`), then commits unless `asChild`. */
  pushTo(dest: ImageDestination, opts?: { asChild?: boolean }): Promise<void>;
}

const MTIME = new Date('2020-01-01T00:00:00Z');

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: Buffer) => chunks.push(c));
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const name of Object.keys(files).sort()) {
    const value = files[name]!;
    if (name.endsWith('/')) {
      p.entry({ name, type: 'directory', mode: 0o755, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME });
    } else {
      const body = typeof value === 'string' ? Buffer.from(value) : value;
      await new Promise<void>((resolve, reject) =>
        p.entry({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME, size: body.length }, body, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function compress(tar: Buffer, c: SampleCompression): Buffer {
  if (c === 'none') return tar;
  if (c === 'gzip') return gzipSync(tar, { level: 6 });
  return execFileSync('zstd', ['-q', '-c', '-3', '--no-check'], { input: tar, maxBuffer: 1 << 30 });
}

function layerMediaType(format: 'docker' | 'oci', c: SampleCompression): string {
  if (format === 'oci') return c === 'gzip' ? MediaTypes.OciLayerGzip : c === 'zstd' ? MediaTypes.OciLayerZstd : MediaTypes.OciLayerTar;
  return c === 'gzip' ? MediaTypes.DockerLayerGzip : c === 'zstd' ? MediaTypes.DockerLayerZstd : MediaTypes.DockerLayerTar;
}

function parsePlatform(p: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw new Error(`bad platform ${p}`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export async function buildSampleImage(opts: SampleImageOptions): Promise<SampleImage> {
  const format = opts.format ?? 'docker';
  const compression = opts.compression ?? 'gzip';
  const platform = parsePlatform(opts.platform ?? 'linux/amd64');
  const layers: SampleLayer[] = [];
  for (const files of opts.layers) {
    const tar = await tarOf(files);
    const bytes = compress(tar, compression);
    layers.push({
      bytes,
      tar,
      diffId: digestOf(tar),
      descriptor: { mediaType: layerMediaType(format, compression), digest: digestOf(bytes), size: bytes.length },
    });
  }
  const configJson = {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    created: MTIME.toISOString(),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], Labels: { ...(opts.labels ?? {}) } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: MTIME.toISOString(), created_by: `sample layer ${i}` })),
    ...(opts.config ?? {}),
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const config: Descriptor = {
    mediaType: format === 'oci' ? MediaTypes.OciConfig : MediaTypes.DockerConfig,
    digest: digestOf(configBytes),
    size: configBytes.length,
  };
  const manifestMediaType = format === 'oci' ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
  const manifestBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: manifestMediaType, config, layers: layers.map((l) => l.descriptor) }, null, 3),
  );
  const manifestDigest = digestOf(manifestBytes);
  const image: SampleImage = {
    format,
    platform,
    configBytes,
    config,
    manifestBytes,
    manifestDigest,
    manifestMediaType,
    layers,
    descriptor: { mediaType: manifestMediaType, digest: manifestDigest, size: manifestBytes.length, platform },
    async pushTo(dest, o = {}) {
      for (const [d, b] of [[config, configBytes] as const, ...layers.map((l) => [l.descriptor, l.bytes] as const)]) {
        if (!(await dest.hasBlob(d))) await dest.putBlob(d, Readable.from([b]));
      }
      if (o.asChild) {
        await dest.putManifest(manifestBytes, manifestMediaType, manifestDigest);
      } else {
        await dest.putManifest(manifestBytes, manifestMediaType);
        await dest.commit();
      }
    },
  };
  return image;
}

export interface SampleIndex {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
  images: SampleImage[];
  /** Pushes every image as a child, then the index, then commits. */
  pushTo(dest: ImageDestination): Promise<void>;
}

/** A Docker manifest list (format 'docker') or OCI index over sample images. */
export function buildSampleIndex(images: SampleImage[], opts: { format?: 'docker' | 'oci'; annotations?: Record<string, string> } = {}): SampleIndex {
  const format = opts.format ?? images[0]?.format ?? 'docker';
  const mediaType = format === 'oci' ? MediaTypes.OciIndex : MediaTypes.DockerManifestList;
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests: images.map((i) => i.descriptor) };
  if (opts.annotations) doc.annotations = opts.annotations;
  const bytes = Buffer.from(JSON.stringify(doc, null, 3));
  const digest = digestOf(bytes);
  return {
    bytes,
    digest,
    mediaType,
    images,
    async pushTo(dest) {
      for (const i of images) await i.pushTo(dest, { asChild: true });
      await dest.putManifest(bytes, mediaType);
      await dest.commit();
    },
  };
}
