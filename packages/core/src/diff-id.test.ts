// The diff_id hasher shared by the copy and the integrity engine: gzip and plain content, a corrupt stream
// and the size limit reported as results (never thrown), and an abandoned stream giving no digest.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { digestOf, type Digest } from './digest.js';
import { DiffIdHasher } from './diff-id.js';

async function feed(bytes: Buffer, opts: { maxBytes?: number; stopAt?: number; sizes?: number[] } = {}) {
  const h = new DiffIdHasher({ algorithm: 'sha256', sameAsBlob: true, maxBytes: opts.maxBytes, name: 'layer x' });
  const end = opts.stopAt ?? bytes.length;
  const sizes = opts.sizes ?? [7000];
  for (let o = 0, i = 0; o < end; i++) {
    const n = Math.min(end - o, sizes[i % sizes.length]!);
    // Each chunk is overwritten once the hasher says it consumed it: a batch must not keep a view of it.
    const chunk = Buffer.from(bytes.subarray(o, o + n));
    await new Promise<void>((ready) => h.write(chunk, ready, () => chunk.fill(0xee)));
    o += n;
  }
  if (opts.stopAt === undefined) h.end();
  return h.result(() => digestOf(bytes));
}

describe('DiffIdHasher', () => {
  it('hashes inflated gzip content, and reuses the blob digest for uncompressed content', async () => {
    const content = Buffer.concat([randomBytes(100_000), Buffer.alloc(300_000, 'a')]);
    expect(await feed(gzipSync(content))).toEqual({ compression: 'gzip', diffId: digestOf(content) });
    expect(await feed(content)).toEqual({ compression: 'none', diffId: digestOf(content) });
  });

  it('reports corrupt data and the size limit as errors naming the layer', async () => {
    const gz = gzipSync(randomBytes(50_000));
    const corrupt = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(gz.length - 20, 9)]);
    const bad = await feed(corrupt);
    expect(bad.diffId).toBeUndefined();
    expect(bad.error?.message).toMatch(/^layer x: gzip data is corrupt/);
    const big = await feed(gzipSync(Buffer.alloc(200_000)), { maxBytes: 100_000 });
    expect(big.error?.code).toBe('LimitExceeded');
  });

  it('batches gzip input of any chunk sizes, across members, chunks larger than a batch and a last partial batch', async () => {
    const a = Buffer.concat([randomBytes(700_000), Buffer.alloc(900_000, 'b')]);
    const b = randomBytes(1_300_000);
    const gz = Buffer.concat([gzipSync(a), gzipSync(b), Buffer.alloc(10)]);
    const want = digestOf(Buffer.concat([a, b]));
    for (const sizes of [[65_536], [3, 524_287, 1, 2_000_000], [524_288], [1_000_001, 17], [gz.length]]) {
      expect(await feed(gz, { sizes })).toEqual({ compression: 'gzip', diffId: want });
    }
    const corrupt = Buffer.from(gz);
    corrupt.fill(7, 900_000, 1_100_000);
    expect((await feed(corrupt, { sizes: [65_536] })).error?.message).toMatch(/^layer x: gzip data is corrupt/);
  });

  it('says a chunk may be refilled only for gzip content, never for plain content the digest may still read', async () => {
    const content = randomBytes(300_000);
    for (const [bytes, sameAsBlob, want] of [[gzipSync(content), true, 5], [content, false, 0]] as const) {
      const h = new DiffIdHasher({ algorithm: 'sha256', sameAsBlob, maxBytes: undefined, name: 'layer x' });
      let consumed = 0;
      for (let o = 0; o < bytes.length; o += 65_536) await new Promise<void>((ready) => h.write(bytes.subarray(o, o + 65_536), ready, () => consumed++));
      h.end();
      expect(await h.result(() => digestOf(bytes))).toEqual({ compression: sameAsBlob ? 'gzip' : 'none', diffId: digestOf(content) });
      expect(consumed).toBe(want);
    }
  });

  it('gives no digest for a stream not read to its end', async () => {
    const r = await feed(gzipSync(randomBytes(50_000)), { stopAt: 20_000 });
    expect(r).toEqual({ compression: 'gzip' });
    expect(r.diffId as Digest | undefined).toBeUndefined();
  });
});
