/**
 * CRC-64 with the ISO 3309 polynomial, reflected (the variant Go's hash/crc64 computes with
 * crc64.MakeTable(crc64.ISO), which tar-split stores per file). Computed on two 32-bit halves so no
 * BigInt is needed per byte; slicing-by-8 tables keep it fast enough for whole layers.
 */
const POLY_HI = 0xd8000000;
const POLY_LO = 0x00000000;

const T_HI: Int32Array[] = [];
const T_LO: Int32Array[] = [];
const SLICES = 8;

function buildTables(): void {
  const hi0 = new Int32Array(256);
  const lo0 = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let hi = 0;
    let lo = i;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = (lo >>> 1) | ((hi & 1) << 31);
      hi = hi >>> 1;
      if (bit) {
        hi ^= POLY_HI;
        lo ^= POLY_LO;
      }
    }
    hi0[i] = hi;
    lo0[i] = lo;
  }
  T_HI.push(hi0);
  T_LO.push(lo0);
  // Slicing tables: table[k][i] = the CRC register after byte i followed by k zero bytes.
  for (let k = 1; k < SLICES; k++) {
    const ph = T_HI[k - 1]!;
    const pl = T_LO[k - 1]!;
    const h = new Int32Array(256);
    const l = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      const chi = ph[i]!;
      const clo = pl[i]!;
      const idx = clo & 0xff;
      l[i] = ((clo >>> 8) | (chi << 24)) ^ lo0[idx]!;
      h[i] = (chi >>> 8) ^ hi0[idx]!;
    }
    T_HI.push(h);
    T_LO.push(l);
  }
}
buildTables();

const [H0, H1, H2, H3, H4, H5, H6, H7] = T_HI as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
const [L0, L1, L2, L3, L4, L5, L6, L7] = T_LO as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** Incremental CRC-64/GO-ISO (slicing-by-8 on signed 32-bit halves, which V8 keeps unboxed). */
export class Crc64 {
  private hi = -1;
  private lo = -1;

  update(data: Uint8Array): this {
    let hi = this.hi | 0;
    let lo = this.lo | 0;
    let i = 0;
    const n = data.length;
    const n8 = n - (n & 7);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; i < n8; i += 8) {
      // XOR 8 input bytes (little-endian words) into the 64-bit register, then one lookup per byte.
      const a = lo ^ view.getInt32(i, true);
      const b = hi ^ view.getInt32(i + 4, true);
      lo = L7[a & 0xff]! ^ L6[(a >>> 8) & 0xff]! ^ L5[(a >>> 16) & 0xff]! ^ L4[a >>> 24]! ^
        L3[b & 0xff]! ^ L2[(b >>> 8) & 0xff]! ^ L1[(b >>> 16) & 0xff]! ^ L0[b >>> 24]!;
      hi = H7[a & 0xff]! ^ H6[(a >>> 8) & 0xff]! ^ H5[(a >>> 16) & 0xff]! ^ H4[a >>> 24]! ^
        H3[b & 0xff]! ^ H2[(b >>> 8) & 0xff]! ^ H1[(b >>> 16) & 0xff]! ^ H0[b >>> 24]!;
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ L0[idx]!;
      hi = (hi >>> 8) ^ H0[idx]!;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The checksum as 8 big-endian bytes (what Go's hash.Sum appends, and tar-split base64-encodes). */
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
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
