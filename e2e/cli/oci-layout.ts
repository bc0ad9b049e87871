// Writes small OCI image layouts (single image or multi-platform index) for skopeo to push.
// Deterministic tars (fixed mtime/uid) built with tar-stream, gzip-compressed with node:zlib.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

const MTIME = new Date('2024-01-01T00:00:00Z');
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mtime: MTIME, uid: 0, gid: 0, mode: 0o644 }, Buffer.from(content));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

function putBlob(dir: string, bytes: Buffer): string {
  const digest = sha256(bytes);
  const hexDir = join(dir, 'blobs', 'sha256');
  mkdirSync(hexDir, { recursive: true });
  writeFileSync(join(hexDir, digest.slice(7)), bytes);
  return digest;
}

export interface SampleImageSpec {
  layers: Array<Record<string, string | Buffer>>;
  os?: string;
  architecture?: string;
  variant?: string;
  labels?: Record<string, string>;
}

/** Writes one image's blobs into an OCI layout dir; returns its manifest descriptor. */
async function writeImage(dir: string, spec: SampleImageSpec): Promise<Desc & { configDigest: string; layerDigests: string[] }> {
  const layerDescs: Desc[] = [];
  const diffIds: string[] = [];
  for (const files of spec.layers) {
    const raw = await tarOf(files);
    diffIds.push(sha256(raw));
    const gz = gzipSync(raw, { level: 6 });
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: putBlob(dir, gz), size: gz.length });
  }
  const platform = { os: spec.os ?? 'linux', architecture: spec.architecture ?? 'amd64', ...(spec.variant ? { variant: spec.variant } : {}) };
  const config = Buffer.from(
    JSON.stringify({
      created: MTIME.toISOString(),
      ...platform,
      config: { Cmd: ['/bin/sh'], Labels: spec.labels ?? { 'org.example.sample': 'yes' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: putBlob(dir, config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: layerDescs }));
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: putBlob(dir, manifest),
    size: manifest.length,
    platform,
    configDigest: configDesc.digest,
    layerDigests: layerDescs.map((l) => l.digest),
  };
}

function writeIndex(dir: string, manifests: Desc[]): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

/** An OCI layout holding one image tagged `tag`. */
export async function writeOciImage(dir: string, tag: string, spec: SampleImageSpec) {
  mkdirSync(dir, { recursive: true });
  const img = await writeImage(dir, spec);
  const { platform: _p, configDigest: _c, layerDigests: _l, ...desc } = img;
  writeIndex(dir, [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return img;
}

/** An OCI layout whose tag `tag` names an image index with one image per spec (platforms). */
export async function writeOciIndex(dir: string, tag: string, specs: SampleImageSpec[]) {
  mkdirSync(dir, { recursive: true });
  const images = [];
  for (const s of specs) images.push(await writeImage(dir, s));
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ mediaType, digest, size, platform }) => ({ mediaType, digest, size, platform })),
    }),
  );
  const digest = putBlob(dir, index);
  writeIndex(dir, [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return { digest, images };
}
