import { describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { decompressor, detectCompression } from './decompress.js';
import { isDsvError } from './errors.js';

function chunks(buf: Buffer, size = 1000): Readable {
  function* gen() {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }
  return Readable.from(gen());
}

async function inflate(input: Readable, kind: Parameters<typeof decompressor>[0], maxBytes?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(input, decompressor(kind, { maxBytes, name: 'sha256:test' }), new Writable({
    write(c, _e, cb) { out.push(c); cb(); },
  }));
  return Buffer.concat(out);
}

/** zstd via the real zstd tool (installed by setup-system), else skip-free fallback: a known frame. */
function zstdCompress(data: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: data });
}

describe('detectCompression', () => {
  it('recognises magic numbers', () => {
    expect(detectCompression(gzipSync(Buffer.from('x')))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
  });
});

describe('decompressor', () => {
  const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000, 7)]);

  it('inflates gzip, including multi-member streams', async () => {
    expect((await inflate(chunks(gzipSync(data)), 'gzip')).equals(data)).toBe(true);
    const two = Buffer.concat([gzipSync(data.subarray(0, 1000)), gzipSync(data.subarray(1000))]);
    expect((await inflate(chunks(two, 777), 'gzip')).equals(data)).toBe(true);
  });

  it('inflates zstd (multi-frame) in a stream', async () => {
    const z = Buffer.concat([zstdCompress(data.subarray(0, 5000)), zstdCompress(data.subarray(5000))]);
    expect((await inflate(chunks(z, 333), 'zstd')).equals(data)).toBe(true);
  });

  it('passes none through and sniffs with auto', async () => {
    expect((await inflate(chunks(data), 'none')).equals(data)).toBe(true);
    expect((await inflate(chunks(gzipSync(data.subarray(0, 3000)), 1), 'auto')).equals(data.subarray(0, 3000))).toBe(true);
    expect((await inflate(chunks(gzipSync(data)), 'auto')).equals(data)).toBe(true);
    expect((await inflate(chunks(zstdCompress(data)), 'auto')).equals(data)).toBe(true);
    expect((await inflate(chunks(Buffer.from('ab')), 'auto')).toString()).toBe('ab');
    expect((await inflate(Readable.from([]), 'auto')).length).toBe(0);
  });

  it('stops a gzip bomb at maxBytes with LimitExceeded', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const err = await inflate(chunks(bomb), 'gzip', 1024 * 1024).catch((e) => e);
    expect(isDsvError(err, 'LimitExceeded')).toBe(true);
    expect(err.message).toContain('sha256:test');
    const zerr = await inflate(chunks(zstdCompress(Buffer.alloc(8 * 1024 * 1024))), 'zstd', 1024 * 1024).catch((e) => e);
    expect(isDsvError(zerr, 'LimitExceeded')).toBe(true);
    const nerr = await inflate(chunks(Buffer.alloc(2000)), 'none', 1000).catch((e) => e);
    expect(isDsvError(nerr, 'LimitExceeded')).toBe(true);
  });

  it('reports corrupt and truncated data as ArchiveInvalid', async () => {
    const gz = gzipSync(data);
    const e1 = await inflate(chunks(gz.subarray(0, gz.length - 100)), 'gzip').catch((e) => e);
    expect(isDsvError(e1, 'ArchiveInvalid')).toBe(true);
    const bad = Buffer.from(gz);
    bad.fill(0xff, 20, 200);
    const e2 = await inflate(chunks(bad), 'gzip').catch((e) => e);
    expect(isDsvError(e2, 'ArchiveInvalid')).toBe(true);
    const z = zstdCompress(data);
    const e3 = await inflate(chunks(z.subarray(0, z.length - 50)), 'zstd').catch((e) => e);
    expect(isDsvError(e3, 'ArchiveInvalid')).toBe(true);
  });

  it('applies backpressure: a slow consumer does not make the whole output buffer', async () => {
    const big = gzipSync(Buffer.alloc(32 * 1024 * 1024, 1));
    const d = decompressor('gzip');
    let seen = 0;
    let maxBuffered = 0;
    const hash = createHash('sha256');
    await pipeline(chunks(big, 64 * 1024), d, new Writable({
      highWaterMark: 16 * 1024,
      write(c, _e, cb) {
        seen += c.length;
        hash.update(c);
        maxBuffered = Math.max(maxBuffered, d.readableLength);
        setImmediate(cb);
      },
    }));
    expect(seen).toBe(32 * 1024 * 1024);
    expect(maxBuffered).toBeLessThan(1024 * 1024);
  });
});
