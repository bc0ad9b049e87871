import { describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync, gzipSync } from 'node:zlib';
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

async function inflate(input: Readable, kind: Parameters<typeof decompressor>[0], maxBytes?: number, crc?: boolean): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(input, decompressor(kind, { maxBytes, name: 'sha256:test', crc }), new Writable({
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

  it.each([true, false])('applies backpressure: a slow consumer does not make the whole output buffer (crc %s)', async (crc) => {
    const big = gzipSync(Buffer.alloc(32 * 1024 * 1024, 1));
    const d = decompressor('gzip', { crc });
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

/** A gzip member built by hand: header with the optional fields asked for, raw deflate data, trailer. */
function member(content: Buffer, o: { extra?: Buffer; name?: string; comment?: string; hcrc?: boolean; isize?: number; crc?: number } = {}): Buffer {
  const flags = (o.hcrc ? 0x02 : 0) | (o.extra ? 0x04 : 0) | (o.name !== undefined ? 0x08 : 0) | (o.comment !== undefined ? 0x10 : 0);
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
  if (o.extra) parts.push(Buffer.from([o.extra.length & 0xff, o.extra.length >> 8]), o.extra);
  if (o.name !== undefined) parts.push(Buffer.from(`${o.name}\0`, 'latin1'));
  if (o.comment !== undefined) parts.push(Buffer.from(`${o.comment}\0`, 'latin1'));
  if (o.hcrc) parts.push(Buffer.from([0x12, 0x34]));
  const trailer = Buffer.alloc(8);
  // The CRC-32 as gzipSync computed it, unless a test asks for a wrong one.
  trailer.writeUInt32LE(o.crc ?? gzipSync(content).readUInt32LE(gzipSync(content).length - 8), 0);
  trailer.writeUInt32LE(o.isize ?? content.length % 2 ** 32, 4);
  return Buffer.concat([...parts, deflateRawSync(content), trailer]);
}

describe('decompressor without the CRC-32 pass (crc: false)', () => {
  const data = Buffer.concat([randomBytes(200_000), Buffer.alloc(300_000, 9)]);
  const raw = (buf: Buffer, size = 1000, maxBytes?: number) => inflate(chunks(buf, size), 'gzip', maxBytes, false);
  const rawErr = (buf: Buffer, size = 1000) => raw(buf, size).then(() => undefined, (e: unknown) => e);

  it('inflates single and multi-member streams, whatever the chunk boundaries', async () => {
    const small = Buffer.concat([data.subarray(0, 3000), data.subarray(250_000, 253_000)]);
    for (const [content, sizes] of [[small, [1, 7, 10, 18]], [data, [777, 65536, 10_000_000]]] as const) {
      const members = Buffer.concat([gzipSync(content.subarray(0, 1000)), gzipSync(content.subarray(1000, 1001)), gzipSync(content.subarray(1001))]);
      for (const size of sizes) {
        expect((await raw(gzipSync(content), size)).equals(content), `chunks of ${size}`).toBe(true);
        expect((await raw(members, size)).equals(content), `members in chunks of ${size}`).toBe(true);
      }
    }
    const two = Buffer.concat([gzipSync(data.subarray(0, 1000)), gzipSync(data.subarray(1000))]);
    expect((await inflate(chunks(two, 333), 'auto', undefined, false)).equals(data)).toBe(true);
  });

  it('skips FEXTRA, FNAME, FCOMMENT and FHCRC, however they are split', async () => {
    const body = data.subarray(0, 5_000);
    const m = member(body, { extra: Buffer.alloc(300, 0xaa), name: 'layer.tar', comment: 'a comment', hcrc: true });
    for (const size of [1, 3, 11, 400, 1_000_000]) expect((await raw(m, size)).equals(body), `chunks of ${size}`).toBe(true);
    expect((await raw(Buffer.concat([member(body, { name: '' }), member(body, { extra: Buffer.alloc(0) })]), 5)).equals(Buffer.concat([body, body]))).toBe(true);
  });

  it('inflates empty members and ignores trailing zero padding', async () => {
    expect((await raw(gzipSync(Buffer.alloc(0)))).length).toBe(0);
    expect((await raw(Buffer.concat([gzipSync(Buffer.alloc(0)), gzipSync(data.subarray(0, 5000))]), 9)).equals(data.subarray(0, 5000))).toBe(true);
    expect((await raw(Buffer.concat([gzipSync(data), Buffer.alloc(1024)]), 100)).equals(data)).toBe(true);
  });

  it('does not check the CRC-32, where the default does', async () => {
    const wrongCrc = member(data, { crc: 0xdeadbeef });
    expect((await raw(wrongCrc)).equals(data)).toBe(true);
    expect(isDsvError(await inflate(chunks(wrongCrc), 'gzip').catch((e) => e), 'ArchiveInvalid')).toBe(true);
  });

  it('reports a wrong ISIZE, a bad header and trailing garbage as ArchiveInvalid', async () => {
    const e1 = await rawErr(member(data, { isize: data.length + 1 }));
    expect(isDsvError(e1, 'ArchiveInvalid')).toBe(true);
    expect((e1 as Error).message).toMatch(/^sha256:test: gzip data is corrupt: the size in the gzip trailer/);
    const badMethod = gzipSync(data);
    badMethod[2] = 7;
    expect((await rawErr(badMethod) as Error).message).toContain('unknown compression method');
    const reserved = gzipSync(data);
    reserved[3] = 0x20;
    expect((await rawErr(reserved) as Error).message).toContain('unknown header flags set');
    const e4 = await rawErr(Buffer.concat([gzipSync(data), Buffer.from('garbage')]));
    expect(isDsvError(e4, 'ArchiveInvalid')).toBe(true);
    expect((e4 as Error).message).toContain('incorrect header check');
    const e5 = await rawErr(Buffer.concat([gzipSync(data), Buffer.from([0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 0])]));
    expect((e5 as Error).message).toContain('incorrect header check');
  });

  it('reports corrupt deflate data as ArchiveInvalid', async () => {
    const bad = gzipSync(Buffer.alloc(100_000, 3));
    bad.fill(0xff, 12, 40);
    const e = await rawErr(bad);
    expect(isDsvError(e, 'ArchiveInvalid')).toBe(true);
  });

  it('reports every truncation as ArchiveInvalid: in the header, the deflate data, the trailer, or no member at all', async () => {
    const m = member(data.subarray(0, 5_000), { name: 'n', comment: 'c', hcrc: true, extra: Buffer.alloc(4) });
    const cuts = [1, 5, 10, 13, 17, 20, 23, 100, m.length - 8, m.length - 5, m.length - 1];
    for (const cut of cuts) {
      const e = await rawErr(m.subarray(0, cut), 3);
      expect(isDsvError(e, 'ArchiveInvalid'), `cut at ${cut}`).toBe(true);
    }
    const two = Buffer.concat([m, m]);
    expect(isDsvError(await rawErr(two.subarray(0, m.length + 4)), 'ArchiveInvalid')).toBe(true);
    expect(isDsvError(await rawErr(Buffer.alloc(0)), 'ArchiveInvalid')).toBe(true);
  });

  it('stops a gzip bomb at maxBytes with LimitExceeded', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const err = await raw(bomb, 1000, 1024 * 1024).catch((e) => e);
    expect(isDsvError(err, 'LimitExceeded')).toBe(true);
  });
});
