// A deterministic ustar writer for sample layers and archives: fixed mtime, uid/gid 0, modes 0644/0755,
// entries in the order given; a name longer than ustar allows gets a PAX `path` record.
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Uint8Array | string;
  /** Target of a symlink or hard link. */
  linkname?: string;
  mode?: number;
  /** Extra PAX records (e.g. `SCHILY.xattr.user.x`), written in a PAX header before the entry. */
  pax?: Record<string, string>;
}

/** 2020-01-01T00:00:00Z, the mtime of every entry (seconds). */
export const SAMPLE_MTIME = 1_577_836_800;

function field(h: Buffer, off: number, len: number, value: string): void {
  h.write(value, off, len, 'utf8');
}

function octal(h: Buffer, off: number, len: number, n: number): void {
  field(h, off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
}

function splitName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest) return { prefix, name: rest };
  }
  return undefined;
}

function header(name: string, prefix: string, flag: string, size: number, mode: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, name);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, SAMPLE_MTIME);
  field(h, 148, 8, '        ');
  field(h, 156, 1, flag);
  field(h, 157, 100, linkname);
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  field(h, 265, 32, 'root');
  field(h, 297, 32, 'root');
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The tar archive of `entries` (two zero blocks at the end). */
export function buildTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const flag = type === 'file' ? '0' : type === 'directory' ? '5' : type === 'symlink' ? '2' : '1';
    const mode = e.mode ?? (type === 'file' ? 0o644 : 0o755);
    let names = splitName(e.name);
    const longLink = Buffer.byteLength(e.linkname ?? '') > 100;
    if (!names || longLink || e.pax) {
      let records = Object.entries(e.pax ?? {}).map(([k, v]) => paxRecord(k, v)).join('');
      if (!names) records = paxRecord('path', e.name) + records;
      if (longLink) records += paxRecord('linkpath', e.linkname!);
      const pax = Buffer.from(records);
      parts.push(header('PaxHeaders/entry', '', 'x', pax.length, 0o644), pax, pad(pax.length));
      names ??= { prefix: '', name: e.name.slice(-100).replace(/^\/+/, '') || 'entry' };
    }
    parts.push(header(names.name, names.prefix, flag, data.length, mode, (e.linkname ?? '').slice(0, 100)), data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A layer tar from `path -> content` (a path ending in "/" is a directory), entries sorted by name. */
export function layerTar(files: Record<string, string | Uint8Array>): Buffer {
  return buildTar(Object.keys(files).sort().map((name) => ({ name, data: files[name] })));
}
