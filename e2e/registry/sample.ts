// A small, deterministic single-platform OCI image written as an OCI layout (for `skopeo copy oci:…`).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface SampleBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface SampleImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: SampleBlob;
  layers: SampleBlob[];
}

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A ustar archive with one regular file (enough for a real layer). */
function tarOneFile(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(0).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

/** Pseudo-random, incompressible, deterministic bytes. */
export function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let off = 0;
  let i = 0;
  while (off < size) {
    const block = createHash('sha256').update(`${seed}:${i++}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

export function buildImage(seed: string, layerSizes: number[] = [200_000, 3_000]): SampleImage {
  const layers: SampleBlob[] = layerSizes.map((n, i) => {
    const bytes = gzipSync(tarOneFile(`file-${i}.bin`, noise(n, `${seed}-${i}`)), { level: 1 });
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(bytes), size: bytes.length, bytes };
  });
  const configDoc = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin'], Labels: { seed } },
    rootfs: { type: 'layers', diff_ids: layerSizes.map((n, i) => sha(tarOneFile(`file-${i}.bin`, noise(n, `${seed}-${i}`)))) },
    history: layerSizes.map(() => ({ created_by: 'dsv e2e' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const config: SampleBlob = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(configBytes), size: configBytes.length, bytes: configBytes };
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestDoc, null, 2));
  return { manifest, manifestDigest: sha(manifest), mediaType: manifestDoc.mediaType, config, layers };
}

/** Writes the image as an OCI layout tagged `tag`; returns the layout directory. */
export function writeOciLayout(dir: string, image: SampleImage, tag: string): string {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  for (const b of [image.config, ...image.layers]) writeFileSync(join(blobs, b.digest.slice(7)), b.bytes);
  writeFileSync(join(blobs, image.manifestDigest.slice(7)), image.manifest);
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}
