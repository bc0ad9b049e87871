#!/usr/bin/env node
// Integrity engine memory bench (issue 2): verifyIntegrity over a synthetic ImageSource whose 4 layers of
// 64 MiB (half incompressible, half text; deterministic) are generated on the fly as gzip streams. One
// first pass computes the blobs' digests/sizes and diff_ids; the second is the measured verifyIntegrity.
// Prints wall time, throughput and peak RSS, and whether the peak stays under 150 MiB.
//   node bench/integrity-rss.mjs            (after `npm run build`; imports the built @dsv/core)
//   BENCH_LAYERS=4 BENCH_LAYER_MIB=64 BENCH_CONCURRENCY=4 change the shape (defaults shown)
import { createCipheriv, createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const { verifyIntegrity, digestOf, MediaTypes, integrityErrors } = await import('@dsv/core');

const MiB = 1 << 20;
const LAYERS = Number(process.env.BENCH_LAYERS ?? 4);
const LAYER_BYTES = Number(process.env.BENCH_LAYER_MIB ?? 64) * MiB;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const LIMIT_MIB = 150;
const CHUNK = 256 * 1024;

/**
 * Layer `seed`'s uncompressed content, chunk by chunk: alternating 1 MiB runs of AES-CTR keystream
 * (incompressible) and of varied text (compressible), so half the bytes are random.
 */
function content(seed) {
  const key = createHash('sha256').update(`integrity-rss-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(CHUNK);
  let offset = 0;
  let line = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= LAYER_BYTES) return this.push(null);
      const n = Math.min(CHUNK, LAYER_BYTES - offset);
      const random = Math.floor(offset / MiB) % 2 === 0;
      let buf;
      if (random) {
        buf = cipher.update(zero.subarray(0, n));
      } else {
        let text = '';
        while (text.length < n) text += `${seed}:${line++} lorem ipsum dolor sit amet ${(line * 7919) % 10007}\n`;
        buf = Buffer.from(text.slice(0, n));
      }
      offset += n;
      this.push(buf);
    },
  });
}

/** The gzip blob of layer `seed`, as a stream (deterministic: same input chunks, same zlib settings). */
function blob(seed) {
  const gz = createGzip({ level: 1 });
  const src = content(seed);
  src.on('error', (e) => gz.destroy(e));
  return src.pipe(gz);
}

function hasher() {
  const h = createHash('sha256');
  let size = 0;
  const w = new Writable({
    write(c, _e, cb) {
      h.update(c);
      size += c.length;
      cb();
    },
  });
  return { w, result: () => ({ digest: `sha256:${h.digest('hex')}`, size }) };
}

async function describeLayer(seed) {
  const raw = hasher();
  const packed = hasher();
  await Promise.all([pipeline(content(seed), raw.w), pipeline(blob(seed), packed.w)]);
  return { diffId: raw.result().digest, descriptor: { mediaType: MediaTypes.OciLayerGzip, ...packed.result() } };
}

const t0 = performance.now();
const layers = [];
for (let i = 0; i < LAYERS; i++) layers.push(await describeLayer(i));
const prepSeconds = (performance.now() - t0) / 1000;

const configBytes = Buffer.from(
  JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }),
);
const config = { mediaType: MediaTypes.OciConfig, digest: digestOf(configBytes), size: configBytes.length };
const manifestBytes = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config, layers: layers.map((l) => l.descriptor) }),
);
const reference = {
  transport: { name: 'synthetic', parseReference: () => reference },
  within: 'integrity-rss',
  toString: () => 'synthetic:integrity-rss',
  newSource: async () => source,
  newDestination: async () => {
    throw new Error('read-only');
  },
};
const source = {
  reference,
  async getManifest() {
    return { bytes: manifestBytes, mediaType: MediaTypes.OciManifest };
  },
  async getBlob(d) {
    if (d.digest === config.digest) return Readable.from([configBytes]);
    const i = layers.findIndex((l) => l.descriptor.digest === d.digest);
    if (i < 0) throw new Error(`no blob ${d.digest}`);
    return blob(i);
  },
  async close() {},
};

const compressed = layers.reduce((n, l) => n + l.descriptor.size, 0);
const uncompressed = LAYERS * LAYER_BYTES;
const t1 = performance.now();
const report = await verifyIntegrity(source, { expectedDigest: digestOf(manifestBytes), concurrency: CONCURRENCY });
const seconds = (performance.now() - t1) / 1000;
const peakMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

const lines = [
  `integrity-rss: ${LAYERS} gzip layers x ${LAYER_BYTES / MiB} MiB (half incompressible), concurrency ${CONCURRENCY}, node ${process.version}`,
  `  blobs: ${(compressed / MiB).toFixed(1)} MiB compressed, ${(uncompressed / MiB).toFixed(0)} MiB uncompressed (digests precomputed in ${prepSeconds.toFixed(1)} s)`,
  `  verifyIntegrity: ${report.ok ? 'ok' : 'FAILED'} in ${seconds.toFixed(2)} s wall, ${(uncompressed / MiB / seconds).toFixed(0)} MiB/s uncompressed (${(compressed / MiB / seconds).toFixed(0)} MiB/s compressed; includes generating and gzipping the synthetic layers)`,
  `  peak RSS (whole process): ${peakMiB.toFixed(1)} MiB -> ${peakMiB < LIMIT_MIB ? 'under' : 'OVER'} the ${LIMIT_MIB} MiB limit`,
];
console.log(lines.join('\n'));
if (!report.ok) {
  for (const e of integrityErrors(report)) console.error(`  ${e.message}`);
  process.exit(1);
}
process.exit(peakMiB < LIMIT_MIB ? 0 : 2);
