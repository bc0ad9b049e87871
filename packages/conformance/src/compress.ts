// Deterministic compression for sample layers: gzip through node:zlib at a fixed level, and zstd as
// frames of raw blocks (valid zstd every decoder reads, identical on every machine, and no native
// dependency; they are not smaller than the input, which no conformance check needs).
import { gzipSync } from 'node:zlib';

export type SampleCompression = 'gzip' | 'zstd' | 'none';

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_MAX_BLOCK = 128 * 1024;

/** A single-segment zstd frame (8-byte content size, no checksum) of raw blocks. */
export function zstdRawFrame(data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 1 + 8);
  head.writeUInt32LE(ZSTD_MAGIC, 0);
  head[4] = 0xe0; // Frame_Content_Size_flag 3 (8 bytes), Single_Segment_flag 1
  head.writeBigUInt64LE(BigInt(data.length), 5);
  const parts: Buffer[] = [head];
  let off = 0;
  do {
    const n = Math.min(ZSTD_MAX_BLOCK, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    bh.writeUIntLE((n << 3) | last, 0, 3); // Block_Type 0: raw
    parts.push(bh, Buffer.from(data.subarray(off, off + n)));
    off += n;
  } while (off < data.length);
  return Buffer.concat(parts);
}

export function compress(data: Uint8Array, c: SampleCompression): Buffer {
  if (c === 'none') return Buffer.from(data);
  if (c === 'gzip') return gzipSync(data, { level: 6 });
  return zstdRawFrame(data);
}
