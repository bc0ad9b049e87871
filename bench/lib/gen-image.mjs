// Deterministic sample images for the benchmarks, written as OCI image layouts (oci:DIR:TAG) so that
// skopeo can push them into a registry. Layers are single-file tars, streamed to disk, hashed while written:
// memory stays flat whatever the layer size.
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip, constants as zc } from 'node:zlib';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 1 << 20;

/** Deterministic bytes: AES-CTR keystream (incompressible) or a varied text pattern (compressible ~5-10x). */
function contentStream(seed, size, compressible) {
  let left = size;
  const key = createHash('sha256').update(`dsv-bench-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(CHUNK);
  let line = 0;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(CHUNK, left);
      let buf;
      if (compressible) {
        const parts = [];
        let len = 0;
        while (len < n) {
          const s = `${seed}:${line++} the quick brown fox jumps over the lazy dog ${line % 977}\n`;
          parts.push(s);
          len += s.length;
        }
        buf = Buffer.from(parts.join('')).subarray(0, n);
      } else {
        buf = cipher.update(zero.subarray(0, n));
      }
      left -= n;
      this.push(buf);
    },
  });
}

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  // sizes >= 8 GiB would need base-256; bench layers stay far below.
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\u000000', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** A tar with one file: header, content, padding, two zero blocks. */
function tarStream(seed, size, compressible) {
  const body = contentStream(seed, size, compressible);
  const pad = (512 - (size % 512)) % 512;
  return Readable.from((async function* () {
    yield tarHeader(`data/${seed}.bin`, size);
    for await (const c of body) yield c;
    yield Buffer.alloc(pad + 1024);
  })());
}

function hashing(hash, counter) {
  return new Transform({
    transform(chunk, _e, cb) {
      hash.update(chunk);
      counter.n += chunk.length;
      cb(null, chunk);
    },
  });
}

async function writeBlob(dir, producer) {
  const tmp = join(dir, 'blobs', 'sha256', `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const h = createHash('sha256');
  const count = { n: 0 };
  await pipeline(producer(), hashing(h, count), createWriteStream(tmp));
  const hex = h.digest('hex');
  renameSync(tmp, join(dir, 'blobs', 'sha256', hex));
  return { digest: `sha256:${hex}`, size: count.n };
}

function writeJsonBlob(dir, value) {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * Generates (once; cached by name) an OCI layout at `dir` with tag `tag`: `layers` is a list of
 * { size, compressible } in bytes. Returns { dir, tag, totalUncompressed, totalCompressed }.
 */
export async function generateImage(dir, name, layers, { tag = 'latest' } = {}) {
  const done = join(dir, '.complete');
  // The layout may have been generated elsewhere and moved (or reached through a link): it is where we were told.
  if (existsSync(done)) return { ...JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(done, 'utf8'))), dir };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const descs = [];
  const diffIds = [];
  let totalUncompressed = 0;
  for (const [i, l] of layers.entries()) {
    const seed = `${name}-${i}`;
    const diff = createHash('sha256');
    const raw = { n: 0 };
    const d = await writeBlob(dir, () =>
      tarStream(seed, l.size, l.compressible).pipe(hashing(diff, raw)).pipe(createGzip({ level: zc.Z_BEST_SPEED })),
    );
    diffIds.push(`sha256:${diff.digest('hex')}`);
    totalUncompressed += raw.n;
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...d });
  }
  const config = writeJsonBlob(dir, {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: { 'org.dsv.bench': name } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'dsv bench generator' })),
  });
  const manifest = writeJsonBlob(dir, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: descs,
  });
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  const info = { dir, tag, manifestDigest: manifest.digest, totalUncompressed, totalCompressed: descs.reduce((a, d) => a + d.size, 0) };
  writeFileSync(done, JSON.stringify(info));
  return info;
}
