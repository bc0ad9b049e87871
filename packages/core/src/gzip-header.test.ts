// Unit tests of the gzip member header parser and trailer reader (RFC 1952 framing).
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { GZIP_FLAGS, GzipHeaderError, GzipHeaderParser, GzipTrailer } from './gzip-header.js';

function header(flags: number, fields: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flags, 1, 2, 3, 4, 0, 3]), ...fields]);
}

describe('GzipHeaderParser', () => {
  it('takes exactly the header of a gzipSync member, and no more', () => {
    const gz = gzipSync(Buffer.from('hello'));
    const p = new GzipHeaderParser();
    expect(p.consume(gz)).toBe(10);
    expect(p.done).toBe(true);
  });

  it('skips every optional field, fed one byte at a time or whole', () => {
    const { FEXTRA, FNAME, FCOMMENT, FHCRC, FTEXT } = GZIP_FLAGS;
    const h = header(FTEXT | FEXTRA | FNAME | FCOMMENT | FHCRC, [Buffer.from([3, 1]), Buffer.alloc(259, 0), Buffer.from('name\0comment\0', 'latin1'), Buffer.from([9, 9])]);
    const body = Buffer.from([0xaa, 0xbb]);
    const whole = new GzipHeaderParser();
    expect(whole.consume(Buffer.concat([h, body]))).toBe(h.length);
    expect(whole.done).toBe(true);
    const bytewise = new GzipHeaderParser();
    let taken = 0;
    for (const b of h) {
      expect(bytewise.done).toBe(false);
      taken += bytewise.consume(Buffer.from([b]));
    }
    expect(taken).toBe(h.length);
    expect(bytewise.done).toBe(true);
    expect(bytewise.length).toBe(h.length);
  });

  it('holds an empty FEXTRA, FNAME and FCOMMENT', () => {
    const { FEXTRA, FNAME, FCOMMENT } = GZIP_FLAGS;
    const h = header(FEXTRA | FNAME | FCOMMENT, [Buffer.from([0, 0]), Buffer.from([0]), Buffer.from([0])]);
    const p = new GzipHeaderParser();
    expect(p.consume(Buffer.concat([h, Buffer.from([1])]))).toBe(h.length);
    expect(p.done).toBe(true);
  });

  it('says started once a byte was seen, done only at the end', () => {
    const p = new GzipHeaderParser();
    expect(p.started).toBe(false);
    p.consume(Buffer.from([0x1f, 0x8b, 8]));
    expect(p.started).toBe(true);
    expect(p.done).toBe(false);
  });

  it('rejects a wrong magic, method or reserved flag', () => {
    expect(() => new GzipHeaderParser().consume(Buffer.from([0x50, 0x4b]))).toThrow(GzipHeaderError);
    expect(() => new GzipHeaderParser().consume(header(0, []).fill(0x8c, 1, 2))).toThrow('incorrect header check');
    expect(() => new GzipHeaderParser().consume(header(0, []).fill(9, 2, 3))).toThrow('unknown compression method');
    expect(() => new GzipHeaderParser().consume(header(0x80, []))).toThrow('unknown header flags set');
  });
});

describe('GzipTrailer', () => {
  it('reads ISIZE however the 8 bytes arrive', () => {
    const gz = gzipSync(Buffer.alloc(70_000, 1));
    const t = new GzipTrailer();
    expect(t.consume(gz.subarray(gz.length - 8, gz.length - 5))).toBe(3);
    expect(t.started).toBe(true);
    expect(t.done).toBe(false);
    expect(t.consume(Buffer.concat([gz.subarray(gz.length - 5), Buffer.from([1, 2])]))).toBe(5);
    expect(t.done).toBe(true);
    expect(t.isize).toBe(70_000);
  });
});
