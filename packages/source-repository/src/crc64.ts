/**
 * CRC-64 with the ISO 3309 polynomial, reflected (the variant Go's hash/crc64 computes with
 * crc64.MakeTable(crc64.ISO), which tar-split stores per file). Computed on two 32-bit halves so no
 * BigInt is needed per byte; slicing-by-4 tables keep it fast enough for whole layers.
 */
const POLY_HI = 0xd8000000;
const POLY_LO = 0x00000000;

const T_HI: Uint32Array[] = [];
const T_LO: Uint32Array[] = [];

function buildTables(): void {
  const hi0 = new Uint32Array(256);
  const lo0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let hi = 0;
    let lo = i;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (bit) {
        hi = (hi ^ POLY_HI) >>> 0;
        lo = (lo ^ POLY_LO) >>> 0;
      }
    }
    hi0[i] = hi;
    lo0[i] = lo;
  }
  T_HI.push(hi0);
  T_LO.push(lo0);
  // Slicing tables: table[k][i] = crc of byte i followed by k zero bytes.
  for (let k = 1; k < 4; k++) {
    const ph = T_HI[k - 1]!;
    const pl = T_LO[k - 1]!;
    const h = new Uint32Array(256);
    const l = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      const chi = ph[i]!;
      const clo = pl[i]!;
      const idx = clo & 0xff;
      l[i] = (((clo >>> 8) | (chi << 24)) ^ lo0[idx]!) >>> 0;
      h[i] = ((chi >>> 8) ^ hi0[idx]!) >>> 0;
    }
    T_HI.push(h);
    T_LO.push(l);
  }
}
buildTables();

const [H0, H1, H2, H3] = T_HI as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
const [L0, L1, L2, L3] = T_LO as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/** Incremental CRC-64/GO-ISO. */
export class Crc64 {
  private hi = 0xffffffff;
  private lo = 0xffffffff;

  update(data: Uint8Array): this {
    let hi = this.hi;
    let lo = this.lo;
    let i = 0;
    const n = data.length;
    const n4 = n - (n % 4);
    for (; i < n4; i += 4) {
      // Process 4 bytes at once: XOR them into the low word, then combine 4 table lookups.
      const x = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      const nlo = hi ^ L3[x & 0xff]! ^ L2[(x >>> 8) & 0xff]! ^ L1[(x >>> 16) & 0xff]! ^ L0[x >>> 24]!;
      const nhi = H3[x & 0xff]! ^ H2[(x >>> 8) & 0xff]! ^ H1[(x >>> 16) & 0xff]! ^ H0[x >>> 24]!;
      lo = nlo >>> 0;
      hi = nhi >>> 0;
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ L0[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ H0[idx]!) >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The checksum as 8 big-endian bytes (what Go's hash.Sum appends, and tar-split base64-encodes). */
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((~this.hi) >>> 0, 0);
    out.writeUInt32BE((~this.lo) >>> 0, 4);
    return out;
  }

  /** The checksum as 16 lower-case hex digits. */
  hex(): string {
    return this.digest().toString('hex');
  }
}

export function crc64(data: Uint8Array): Buffer {
  return new Crc64().update(data).digest();
}
