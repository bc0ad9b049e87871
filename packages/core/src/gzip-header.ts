/**
 * The framing of a gzip member (RFC 1952): a streaming parser of the member header (fixed part, FEXTRA, FNAME,
 * FCOMMENT, FHCRC) that keeps no more than its 10 fixed bytes whatever the optional fields hold, and a reader of
 * the 8-byte trailer (CRC-32, ISIZE). The deflate data between them is inflated raw by the decompressor.
 */

const FTEXT = 0x01;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

type Field = 'fixed' | 'xlen' | 'extra' | 'name' | 'comment' | 'hcrc' | 'done';

/** Thrown for a header that is not a gzip member header (the message says what was wrong). */
export class GzipHeaderError extends Error {}

/** Feed bytes with `consume` until `done`; it says how many bytes of each chunk belong to the header. */
export class GzipHeaderParser {
  private field: Field = 'fixed';
  private readonly fixed = Buffer.alloc(10);
  private have = 0;
  /** Bytes still to skip in the current field (xlen: bytes of XLEN read so far). */
  private left = 0;
  private xlen = 0;
  private flags = 0;
  /** Bytes of the header seen so far. */
  length = 0;

  get done(): boolean {
    return this.field === 'done';
  }

  /** Whether any byte of a header was seen (a stream that ends inside a header is truncated). */
  get started(): boolean {
    return this.length > 0;
  }

  /** Takes header bytes from the start of `buf`; returns how many it took (all of them unless the header ended). */
  consume(buf: Uint8Array): number {
    let i = 0;
    while (i < buf.length && this.field !== 'done') {
      switch (this.field) {
        case 'fixed': {
          if (this.have === 0 && buf[i] !== 0x1f) throw new GzipHeaderError('incorrect header check');
          const n = Math.min(10 - this.have, buf.length - i);
          this.fixed.set(buf.subarray(i, i + n), this.have);
          this.have += n;
          i += n;
          if (this.have < 10) break;
          if (this.fixed[1] !== 0x8b) throw new GzipHeaderError('incorrect header check');
          if (this.fixed[2] !== 8) throw new GzipHeaderError('unknown compression method');
          this.flags = this.fixed[3];
          if (this.flags & FRESERVED) throw new GzipHeaderError('unknown header flags set');
          this.next('fixed');
          break;
        }
        case 'xlen':
          this.xlen |= buf[i++] << (8 * this.left);
          if (++this.left === 2) {
            this.left = this.xlen;
            this.field = 'extra';
            if (this.left === 0) this.next('extra');
          }
          break;
        case 'extra': {
          const n = Math.min(this.left, buf.length - i);
          this.left -= n;
          i += n;
          if (this.left === 0) this.next('extra');
          break;
        }
        case 'name':
        case 'comment': {
          const end = buf.indexOf(0, i);
          if (end < 0) {
            i = buf.length;
            break;
          }
          i = end + 1;
          this.next(this.field);
          break;
        }
        case 'hcrc': {
          const n = Math.min(this.left, buf.length - i);
          this.left -= n;
          i += n;
          if (this.left === 0) this.field = 'done';
          break;
        }
      }
    }
    this.length += i;
    return i;
  }

  /** The optional field after `after`, in the order RFC 1952 puts them. */
  private next(after: Field): void {
    const order: [Field, number][] = [['xlen', FEXTRA], ['name', FNAME], ['comment', FCOMMENT], ['hcrc', FHCRC]];
    const from = after === 'fixed' ? 0 : order.findIndex(([f]) => f === (after === 'extra' ? 'xlen' : after)) + 1;
    for (const [f, bit] of order.slice(from)) {
      if (this.flags & bit) {
        this.field = f;
        this.left = f === 'hcrc' ? 2 : 0;
        this.xlen = 0;
        return;
      }
    }
    this.field = 'done';
  }
}

/** Reads the 8-byte member trailer as it arrives; `isize` once `done`. */
export class GzipTrailer {
  private readonly bytes = Buffer.alloc(8);
  private have = 0;

  get done(): boolean {
    return this.have === 8;
  }

  get started(): boolean {
    return this.have > 0;
  }

  /** Takes trailer bytes from the start of `buf`; returns how many. */
  consume(buf: Uint8Array): number {
    const n = Math.min(8 - this.have, buf.length);
    this.bytes.set(buf.subarray(0, n), this.have);
    this.have += n;
    return n;
  }

  /** The uncompressed size modulo 2^32 the member declares. */
  get isize(): number {
    return this.bytes.readUInt32LE(4);
  }
}

/** Flags as named by RFC 1952, for tests that build headers. */
export const GZIP_FLAGS = { FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT } as const;
