/**
 * Strict OpenPGP ASCII armour (RFC 4880 / RFC 9580 section 6) and packet framing.
 *
 * openpgp.js is deliberately lenient here (it ignores text around the armour, does not check the
 * CRC-24 and accepts sloppy base64), so the verifier frames signatures itself before handing the
 * packet to openpgp.js.
 */

export class ArmorError extends Error {}
export class PacketError extends Error {}

export interface Armored {
  /** The word(s) after "BEGIN PGP ": "SIGNATURE", "PUBLIC KEY BLOCK", "SIGNED MESSAGE", ... */
  type: string;
  headers: string[];
  data: Uint8Array;
}

const BEGIN = /^-----BEGIN PGP ([A-Z ,/0-9]+)-----$/;
const END = /^-----END PGP ([A-Z ,/0-9]+)-----$/;
const HEADER = /^[^\s:][^:]*: .*$/;
const B64_LINE = /^[A-Za-z0-9+/]+={0,2}$/;
const CRC_LINE = /^=([A-Za-z0-9+/]{4})$/;

/** CRC-24 as used by the armour checksum (RFC 4880 section 6.1). */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

function splitLines(text: string): string[] {
  // Trailing whitespace on armour lines is not significant (RFC 9580 section 6.2).
  return text.split(/\r?\n/).map((l) => l.replace(/[ \t\r]+$/, ''));
}

/** True when `text` (ignoring leading whitespace) starts with an armour header line of `type`. */
export function startsWithArmor(text: string, type?: string): boolean {
  const first = text.trimStart().split(/\r?\n/, 1)[0]?.replace(/[ \t\r]+$/, '') ?? '';
  const m = BEGIN.exec(first);
  return m !== null && (type === undefined || m[1] === type);
}

/**
 * Parses every armoured block in `text`. Only whitespace may surround and separate the blocks.
 * Cleartext-signed messages ("SIGNED MESSAGE") are reported with their type and no data.
 */
export function dearmorAll(text: string, opts: { lenient?: boolean } = {}): Armored[] {
  const lines = splitLines(text);
  const out: Armored[] = [];
  let i = 0;
  // Lenient (key files): text around the blocks is ignored, as `gpg --import` does.
  const skipBlank = () => {
    while (i < lines.length && (lines[i] === '' || (opts.lenient && !BEGIN.test(lines[i])))) i++;
  };
  skipBlank();
  if (i >= lines.length) throw new ArmorError('no armoured data');
  while (i < lines.length) {
    const begin = BEGIN.exec(lines[i]);
    if (!begin) throw new ArmorError(i === 0 ? 'text does not start with an armour header line' : `unexpected text outside armour at line ${i + 1}`);
    const type = begin[1];
    i++;
    if (type === 'SIGNED MESSAGE') {
      out.push({ type, headers: [], data: new Uint8Array(0) });
      return out; // cleartext signature framework: callers reject it, no need to parse further
    }
    const headers: string[] = [];
    while (i < lines.length && HEADER.test(lines[i])) headers.push(lines[i++]);
    if (i < lines.length && lines[i] === '') i++;
    else if (headers.length > 0) throw new ArmorError('missing blank line after armour headers');
    let body = '';
    let checksum: string | undefined;
    for (;;) {
      if (i >= lines.length || lines.slice(i).every((l) => l === '')) {
        throw new ArmorError(`missing armour tail line (-----END PGP ${type}-----)`);
      }
      const line = lines[i];
      if (END.test(line)) break;
      const crc = CRC_LINE.exec(line);
      if (crc && checksum === undefined) {
        checksum = crc[1];
        i++;
        continue;
      }
      if (checksum !== undefined) throw new ArmorError('data after the armour checksum');
      if (!B64_LINE.test(line)) throw new ArmorError(`invalid character in armoured data at line ${i + 1}`);
      body += line;
      i++;
    }
    const end = END.exec(lines[i]);
    if (!end || end[1] !== type) throw new ArmorError(`armour tail "${lines[i]}" does not match header "BEGIN PGP ${type}"`);
    i++;
    if (body.length === 0) throw new ArmorError('empty armoured data');
    if (body.length % 4 !== 0 || /=[^=]/.test(body)) throw new ArmorError('armoured data is not valid base64');
    const data = new Uint8Array(Buffer.from(body, 'base64'));
    if (Buffer.from(data).toString('base64') !== body) throw new ArmorError('armoured data is not canonical base64');
    if (checksum !== undefined) {
      const want = Buffer.from(checksum, 'base64');
      const got = crc24(data);
      if (want.length !== 3 || ((want[0] << 16) | (want[1] << 8) | want[2]) !== got) throw new ArmorError('armour checksum (CRC-24) mismatch');
    }
    out.push({ type, headers, data });
    skipBlank();
  }
  return out;
}

/** Parses exactly one armoured block. */
export function dearmor(text: string): Armored {
  const all = dearmorAll(text);
  if (all.length !== 1) throw new ArmorError(`expected one armoured block, found ${all.length}`);
  return all[0];
}

export interface RawPacket {
  tag: number;
  /** Offset of the packet header and end of the packet body in the input. */
  start: number;
  end: number;
  body: Uint8Array;
}

export const PACKET_NAMES: Record<number, string> = {
  1: 'public-key encrypted session key', 2: 'signature', 3: 'symmetric-key encrypted session key',
  4: 'one-pass signature', 5: 'secret key', 6: 'public key', 7: 'secret subkey', 8: 'compressed data',
  9: 'symmetrically encrypted data', 10: 'marker', 11: 'literal data', 12: 'trust', 13: 'user id',
  14: 'public subkey', 17: 'user attribute', 18: 'encrypted and integrity protected data', 20: 'AEAD encrypted data',
  21: 'padding',
};

/**
 * Splits binary OpenPGP data into packets by their headers. Rejects truncation, indeterminate
 * lengths and partial body lengths (none of which a key or a detached signature may use).
 */
export function splitPackets(bytes: Uint8Array): RawPacket[] {
  const out: RawPacket[] = [];
  let pos = 0;
  const need = (n: number, what: string) => {
    if (pos + n > bytes.length) throw new PacketError(`truncated packet ${what} at offset ${pos}`);
  };
  while (pos < bytes.length) {
    const start = pos;
    const first = bytes[pos++];
    if ((first & 0x80) === 0) throw new PacketError(`invalid packet header byte 0x${first.toString(16)} at offset ${start}`);
    let tag: number;
    let len: number;
    if (first & 0x40) {
      tag = first & 0x3f;
      need(1, 'length');
      const o1 = bytes[pos++];
      if (o1 < 192) len = o1;
      else if (o1 < 224) {
        need(1, 'length');
        len = ((o1 - 192) << 8) + bytes[pos++] + 192;
      } else if (o1 === 255) {
        need(4, 'length');
        len = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
        pos += 4;
      } else throw new PacketError(`partial body length in a ${PACKET_NAMES[tag] ?? `type ${tag}`} packet is not allowed`);
    } else {
      tag = (first >> 2) & 0x0f;
      const lt = first & 0x03;
      if (lt === 3) throw new PacketError('indeterminate packet length is not allowed');
      const n = 1 << lt;
      need(n, 'length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + bytes[pos++];
    }
    if (pos + len > bytes.length) throw new PacketError(`truncated ${PACKET_NAMES[tag] ?? `type ${tag}`} packet: ${len} bytes announced, ${bytes.length - pos} present`);
    out.push({ tag, start, end: pos + len, body: bytes.subarray(pos, pos + len) });
    pos += len;
  }
  return out;
}

/** Groups a packet stream into transferable keys (each starting at a primary key packet). */
export function splitKeyBlocks(bytes: Uint8Array): Uint8Array[] {
  const packets = splitPackets(bytes);
  const blocks: Uint8Array[] = [];
  let startIdx = -1;
  for (let k = 0; k < packets.length; k++) {
    const t = packets[k].tag;
    if (t === 5 || t === 6) {
      if (startIdx >= 0) blocks.push(bytes.subarray(packets[startIdx].start, packets[k].start));
      startIdx = k;
    } else if (startIdx < 0 && t !== 10 && t !== 12 && t !== 21) {
      throw new PacketError(`expected a key, found a ${PACKET_NAMES[t] ?? `type ${t}`} packet`);
    }
  }
  if (startIdx >= 0) blocks.push(bytes.subarray(packets[startIdx].start, packets[packets.length - 1].end));
  return blocks;
}
