// A small tar reader/writer of our own: the reader indexes an archive once (entry name -> header and
// data offsets) so entries can be streamed from the file by offset without extracting anything; the
// writer produces ustar headers (PAX records for long names / large sizes) and copies existing entries
// byte for byte.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, pipeline as pipelineCb } from 'node:stream';
import { pipeline as pipelineP } from 'node:stream/promises';
import { DigestingStream, DsvError } from '@dsv/core/formats';

const BLOCK = 512;
/** PAX / GNU long-name records larger than this are refused (real ones are a few hundred bytes). */
const MAX_EXTENDED_HEADER = 1024 * 1024;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Normalised name: no leading `./`, no trailing `/`. */
  name: string;
  type: TarEntryType;
  /** Link target for symlinks and hard links, as written. */
  linkname?: string;
  mode: number;
  mtime: number;
  /** Offset of the first header record of this entry (incl. PAX/GNU extension records). */
  headerOffset: number;
  /** Offset of the entry's data. */
  dataOffset: number;
  size: number;
  /** End of the entry's padded data: [headerOffset, end) is the entry's exact raw bytes. */
  end: number;
}

function archiveInvalid(message: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('ArchiveInvalid', message, details);
}

/** Rejects names that could escape a directory or be read differently on another system. */
export function checkEntryName(name: string, archive?: string): void {
  const where = archive ? ` in ${archive}` : '';
  if (name.includes('\\')) throw archiveInvalid(`tar entry "${name}"${where} contains a backslash`, { entry: name });
  if (name.includes('\0')) throw archiveInvalid(`tar entry "${name}"${where} contains a NUL byte`, { entry: name });
  if (name.startsWith('/')) throw archiveInvalid(`tar entry "${name}"${where} is an absolute path`, { entry: name });
  if (/^[A-Za-z]:/.test(name)) throw archiveInvalid(`tar entry "${name}"${where} is an absolute path`, { entry: name });
  if (name.split('/').includes('..')) throw archiveInvalid(`tar entry "${name}"${where} contains ".."`, { entry: name });
}

/** `./a/b/` -> `a/b`; `./` -> `` */
export function normaliseEntryName(raw: string): string {
  let n = raw;
  while (n.startsWith('./')) n = n.slice(2);
  if (n === '.') n = '';
  while (n.endsWith('/')) n = n.slice(0, -1);
  return n.replace(/\/\.\//g, '/').replace(/\/{2,}/g, '/');
}

function cstr(buf: Buffer, start: number, len: number): string {
  let end = start;
  const max = start + len;
  while (end < max && buf[end] !== 0) end++;
  return buf.toString('utf8', start, end);
}

function parseNumeric(buf: Buffer, start: number, len: number, field: string, where: string): number {
  if (buf[start]! & 0x80) {
    // GNU base-256: big-endian two's complement; negative values are refused.
    if (buf[start]! & 0x40) throw archiveInvalid(`negative ${field} in tar header at offset ${where}`);
    let v = BigInt(buf[start]! & 0x7f);
    for (let i = start + 1; i < start + len; i++) v = (v << 8n) | BigInt(buf[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw archiveInvalid(`${field} too large in tar header at offset ${where}`);
    return Number(v);
  }
  const s = cstr(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw archiveInvalid(`invalid ${field} "${s.slice(0, 20)}" in tar header at offset ${where}`);
  return parseInt(s, 8);
}

/** mtime is informational: a pre-1970 (negative) or odd value reads as 0 rather than refusing the archive. */
function safeMtime(buf: Buffer, where: string): number {
  try {
    return parseNumeric(buf, 136, 12, 'mtime', where);
  } catch {
    return 0;
  }
}

function checksumOk(buf: Buffer): boolean {
  const stored = cstr(buf, 148, 8).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : buf[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const want = parseInt(stored, 8);
  return want === unsigned || want === signed;
}

function isZeroBlock(buf: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

export function parsePax(buf: Buffer, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break;
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) throw archiveInvalid(`malformed PAX record in tar header at offset ${where}`);
    const lenStr = buf.toString('ascii', pos, sp);
    if (!/^[0-9]+$/.test(lenStr)) throw archiveInvalid(`malformed PAX record length in tar header at offset ${where}`);
    const len = parseInt(lenStr, 10);
    if (len <= sp - pos + 1 || pos + len > buf.length) throw archiveInvalid(`malformed PAX record in tar header at offset ${where}`);
    const rec = buf.toString('utf8', sp + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq < 0) throw archiveInvalid(`malformed PAX record in tar header at offset ${where}`);
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** More entries than this is refused (the index is held in memory; docker save writes a few per layer). */
export const MAX_TAR_ENTRIES = 200_000;

/** Random access to a tar file: indexed once, entries streamed by offset. */
export class TarIndex {
  readonly path: string;
  /** Every entry, in archive order. */
  readonly entries: TarEntry[];
  /** Raw segments to copy verbatim (entries and global PAX headers), in order. */
  readonly segments: Array<{ start: number; end: number; name?: string }>;
  readonly fileSize: number;
  private readonly byName: Map<string, TarEntry>;

  private constructor(path: string, entries: TarEntry[], segments: Array<{ start: number; end: number; name?: string }>, fileSize: number) {
    this.path = path;
    this.entries = entries;
    this.segments = segments;
    this.fileSize = fileSize;
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  static async open(path: string): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new DsvError('NotFound', `archive ${path} does not exist`, { path });
      throw new DsvError('IoError', `cannot open archive ${path}: ${code ?? String(e)}`, { path }, { cause: e });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new DsvError('ArchiveInvalid', `${path} is not a regular file`, { path });
      return await TarIndex.scan(path, fh, st.size);
    } finally {
      await fh.close();
    }
  }

  private static async scan(path: string, fh: FileHandle, fileSize: number): Promise<TarIndex> {
    const entries: TarEntry[] = [];
    const segments: Array<{ start: number; end: number; name?: string }> = [];
    const seen = new Set<string>();
    const header = Buffer.alloc(BLOCK);
    let pos = 0;
    let pending: { start: number; longName?: string; longLink?: string; pax?: Record<string, string> } | undefined;
    let global: Record<string, string> = {};
    let ended = false;

    const readExact = async (buf: Buffer, at: number, what: string) => {
      if (at + buf.length > fileSize) throw archiveInvalid(`${path} is truncated (${what} at offset ${at} runs past the end of the file)`, { path, offset: at });
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, at + got);
        if (bytesRead === 0) throw archiveInvalid(`${path} is truncated at offset ${at + got}`, { path });
        got += bytesRead;
      }
    };

    while (pos < fileSize) {
      if (pos + BLOCK > fileSize) throw archiveInvalid(`${path} is truncated (partial tar header at offset ${pos})`, { path, offset: pos });
      await readExact(header, pos, 'tar header');
      if (isZeroBlock(header)) {
        if (pending) throw archiveInvalid(`${path}: tar extension header at offset ${pending.start} has no entry`, { path });
        ended = true;
        break;
      }
      const where = String(pos);
      if (!checksumOk(header)) throw archiveInvalid(`${path}: bad tar header checksum at offset ${pos} (not a tar file, or corrupt)`, { path, offset: pos });
      const typeflag = header[156] === 0 ? '0' : String.fromCharCode(header[156]!);
      let size = parseNumeric(header, 124, 12, 'size', where);
      const start = pending?.start ?? pos;
      const dataOffset = pos + BLOCK;

      if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
        if (size > MAX_EXTENDED_HEADER) throw archiveInvalid(`${path}: tar extension header at offset ${pos} is too large (${size} bytes)`, { path, offset: pos });
        const data = Buffer.alloc(size);
        await readExact(data, dataOffset, 'tar extension header');
        const next = dataOffset + size + pad(size);
        if (typeflag === 'g') {
          if (pending) throw archiveInvalid(`${path}: misplaced global PAX header at offset ${pos}`, { path });
          global = { ...global, ...parsePax(data, where) };
          segments.push({ start: pos, end: next });
        } else {
          pending ??= { start: pos };
          if (typeflag === 'x') pending.pax = { ...(pending.pax ?? {}), ...parsePax(data, where) };
          else if (typeflag === 'L') pending.longName = cstr(data, 0, data.length);
          else pending.longLink = cstr(data, 0, data.length);
        }
        pos = next;
        continue;
      }

      const pax = { ...global, ...(pending?.pax ?? {}) };
      let name = cstr(header, 0, 100);
      const magic = header.toString('ascii', 257, 263);
      if (magic === 'ustar\0') {
        const prefix = cstr(header, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (pending?.longName !== undefined) name = pending.longName;
      if (pax.path !== undefined) name = pax.path;
      let linkname: string | undefined = cstr(header, 157, 100);
      if (pending?.longLink !== undefined) linkname = pending.longLink;
      if (pax.linkpath !== undefined) linkname = pax.linkpath;
      if (pax.size !== undefined) {
        if (!/^[0-9]+$/.test(pax.size) || Number(pax.size) > Number.MAX_SAFE_INTEGER) throw archiveInvalid(`${path}: invalid PAX size for tar entry "${name}"`, { path, entry: name });
        size = Number(pax.size);
      }
      pending = undefined;

      let type: TarEntryType;
      switch (typeflag) {
        case '0': case '7': type = 'file'; break;
        case '1': type = 'hardlink'; break;
        case '2': type = 'symlink'; break;
        case '5': type = 'directory'; break;
        default: type = 'other';
      }
      // Links, directories and devices have no data in the archive (hard links may carry size, ignored).
      const dataSize = type === 'file' || type === 'other' ? size : 0;
      if (dataOffset + dataSize > fileSize) {
        throw archiveInvalid(`${path} is truncated: tar entry "${name}" declares ${size} bytes but the file ends ${fileSize - dataOffset} bytes after its header`, { path, entry: name, size });
      }
      const norm = normaliseEntryName(name);
      checkEntryName(name.startsWith('./') ? name.slice(2) : name, path);
      const end = dataOffset + dataSize + pad(dataSize);
      if (norm === '') {
        segments.push({ start, end });
        pos = end;
        continue;
      }
      if (seen.has(norm)) throw archiveInvalid(`${path}: duplicate tar entry "${norm}"`, { path, entry: norm });
      if (seen.size >= MAX_TAR_ENTRIES) throw new DsvError('LimitExceeded', `${path} holds more than ${MAX_TAR_ENTRIES} entries`, { path, limit: MAX_TAR_ENTRIES });
      seen.add(norm);
      const entry: TarEntry = {
        name: norm,
        type,
        mode: parseNumeric(header, 100, 8, 'mode', where),
        mtime: safeMtime(header, where),
        headerOffset: start,
        dataOffset,
        size: dataSize,
        end,
        ...(type === 'symlink' || type === 'hardlink' ? { linkname } : {}),
      };
      entries.push(entry);
      segments.push({ start, end, name: norm });
      pos = end;
    }
    if (pending) throw archiveInvalid(`${path} is truncated: tar extension header at offset ${pending.start} has no entry`, { path });
    if (!ended && entries.length === 0) throw archiveInvalid(`${path} is empty or not a tar file`, { path });
    // Every tar writer (docker, skopeo, GNU tar, Go's archive/tar) ends with zero blocks: without them the
    // file was cut at an entry boundary and entries may be missing.
    if (!ended) throw archiveInvalid(`${path} is truncated: no end-of-archive marker after the last entry`, { path });
    return new TarIndex(path, entries, segments, fileSize);
  }

  has(name: string): boolean {
    return this.byName.has(normaliseEntryName(name));
  }

  get(name: string): TarEntry | undefined {
    return this.byName.get(normaliseEntryName(name));
  }

  /** The entry, which must be a regular file (links are never followed). */
  regular(name: string, what = 'file'): TarEntry {
    const e = this.get(name);
    if (!e) throw archiveInvalid(`${this.path}: ${what} "${name}" is missing from the archive`, { path: this.path, entry: name });
    if (e.type === 'symlink' || e.type === 'hardlink') {
      throw archiveInvalid(`${this.path}: ${what} "${e.name}" is a ${e.type === 'symlink' ? 'symbolic' : 'hard'} link (to "${e.linkname}"); links are not followed`, { path: this.path, entry: e.name });
    }
    if (e.type !== 'file') throw archiveInvalid(`${this.path}: ${what} "${e.name}" is not a regular file`, { path: this.path, entry: e.name });
    return e;
  }

  /** Streams an entry's data straight from the file. */
  openEntry(name: string | TarEntry): Readable {
    const e = typeof name === 'string' ? this.regular(name) : name;
    if (e.size === 0) return Readable.from([]);
    return createReadStream(this.path, { start: e.dataOffset, end: e.dataOffset + e.size - 1 });
  }

  /** Reads a small entry into memory, refusing it when over `limit`. */
  async readEntry(name: string, limit: number, what = 'file'): Promise<Buffer> {
    const e = this.regular(name, what);
    if (e.size > limit) throw archiveInvalid(`${this.path}: ${what} "${e.name}" is ${e.size} bytes, over the ${limit}-byte limit`, { path: this.path, entry: e.name, size: e.size, limit });
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(e.size);
      let got = 0;
      while (got < e.size) {
        const { bytesRead } = await fh.read(buf, got, e.size - got, e.dataOffset + got);
        if (bytesRead === 0) throw archiveInvalid(`${this.path}: entry "${e.name}" is truncated`, { path: this.path, entry: e.name });
        got += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** Reads the first bytes of an entry (for magic detection). */
  async peek(e: TarEntry, n: number): Promise<Buffer> {
    const len = Math.min(n, e.size);
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(len);
      if (len > 0) await fh.read(buf, 0, len, e.dataOffset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** Streams the raw bytes [start, end) of the archive (used to copy entries verbatim). */
  openRange(start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    return createReadStream(this.path, { start, end: end - 1 });
  }
}

// ---------------------------------------------------------------- writing

function octal(buf: Buffer, value: number, start: number, len: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  buf.write(s, start, len - 1, 'ascii');
  buf[start + len - 1] = 0;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  for (;;) {
    const n = String(len).length + Buffer.byteLength(body);
    if (n === len) break;
    len = n;
  }
  return `${len}${body}`;
}

function rawHeader(name: string, size: number, typeflag: string, opts: { mode?: number; mtime?: number; linkname?: string }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, opts.mode ?? (typeflag === '5' ? 0o755 : 0o644), 100, 8);
  octal(h, 0, 108, 8);
  octal(h, 0, 116, 8);
  octal(h, size, 124, 12);
  octal(h, opts.mtime ?? 0, 136, 12);
  h.fill(0x20, 148, 156);
  h.write(typeflag, 156, 1, 'ascii');
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** Header record(s) for one entry: a PAX record first when the name or size does not fit ustar. */
export function tarHeader(name: string, size: number, opts: { type?: 'file' | 'directory'; mode?: number; mtime?: number } = {}): Buffer {
  const typeflag = opts.type === 'directory' ? '5' : '0';
  const fullName = opts.type === 'directory' && !name.endsWith('/') ? `${name}/` : name;
  const records: string[] = [];
  if (Buffer.byteLength(fullName) > 99 || /[^\x20-\x7e]/.test(fullName)) records.push(paxRecord('path', fullName));
  if (size > 0o77777777777) records.push(paxRecord('size', String(size)));
  const main = rawHeader(records.length ? fullName.slice(0, 99).replace(/[^\x20-\x7e]/g, '_') : fullName, size > 0o77777777777 ? 0 : size, typeflag, opts);
  if (!records.length) return main;
  const body = Buffer.from(records.join(''), 'utf8');
  const paxName = `PaxHeaders/${fullName.slice(0, 80).replace(/[^\x20-\x7e]/g, '_')}`;
  return Buffer.concat([rawHeader(paxName, body.length, 'x', {}), body, Buffer.alloc(pad(body.length)), main]);
}

export const tarPadding = (size: number): Buffer => Buffer.alloc(pad(size));
export const tarEnd = (): Buffer => Buffer.alloc(BLOCK * 2);

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

export type TarAddition =
  | { name: string; bytes: Uint8Array; mtime?: number }
  | { name: string; size: number; open: () => Promise<Readable> | Readable; mtime?: number; digest?: string };

/**
 * The chunks of a tar: the raw segments of `copyFrom` (minus the entries named in `skip`), copied byte
 * for byte, then `add` with fresh headers, then the end-of-archive blocks.
 */
export async function* tarChunks(opts: { copyFrom?: TarIndex; skip?: Set<string>; add: TarAddition[] }): AsyncGenerator<Buffer> {
  if (opts.copyFrom) {
    for (const seg of opts.copyFrom.segments) {
      if (seg.name !== undefined && opts.skip?.has(seg.name)) continue;
      for await (const c of opts.copyFrom.openRange(seg.start, seg.end)) yield c as Buffer;
    }
  }
  for (const a of opts.add) {
    const mtime = a.mtime ?? 0;
    if ('bytes' in a) {
      yield tarHeader(a.name, a.bytes.length, { mtime });
      yield Buffer.from(a.bytes);
      yield tarPadding(a.bytes.length);
      continue;
    }
    yield tarHeader(a.name, a.size, { mtime });
    const src = await a.open();
    let stream: Readable = src;
    if (a.digest) {
      const ds = new DigestingStream({ digest: a.digest, size: a.size, name: a.name });
      pipelineCb(src, ds, () => undefined);
      stream = ds;
    }
    let n = 0;
    for await (const c of stream) {
      const b = c as Buffer;
      n += b.length;
      if (n > a.size) throw new DsvError('SizeMismatch', `${a.name}: more than the expected ${a.size} bytes`, { entry: a.name });
      yield b;
    }
    if (n !== a.size) throw new DsvError('SizeMismatch', `${a.name}: expected ${a.size} bytes, got ${n}`, { entry: a.name });
    yield tarPadding(a.size);
  }
  yield tarEnd();
}

/** Writes a tar to `target` (which should be a temp name), fsynced. */
export async function writeTarFile(
  target: string,
  chunks: AsyncIterable<Buffer>,
  opts: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<void> {
  let done = 0;
  let last = 0;
  const counted = async function* () {
    for await (const c of chunks) {
      done += c.length;
      if (opts.onProgress && done - last >= 8 * 1024 * 1024) {
        last = done;
        opts.onProgress(done);
      }
      yield c;
    }
    opts.onProgress?.(done);
  };
  await pipelineP(Readable.from(counted(), { objectMode: false }), createWriteStream(target, { flags: 'wx' }), ...((opts.signal ? [{ signal: opts.signal }] : []) as []));
  const fh = await open(target, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
