// Test helpers: tar layers (@dsv/conformance's writer) and their tar-split metadata (our own minimal
// disassembler, following the documented format), and fake Docker stores laid out in temp dirs.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildTar } from '@dsv/conformance';
import { crc64 } from '../crc64.js';

export interface TarFile {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  linkname?: string;
  pax?: Record<string, string>;
}

/** A deterministic tar of `files`, in order, from @dsv/conformance's ustar writer. */
export async function makeTar(files: TarFile[]): Promise<Buffer> {
  return buildTar(files.map((f) => ({ name: f.name, type: f.type, data: f.content, linkname: f.linkname, pax: f.pax })));
}

function octal(b: Buffer, off: number, len: number): number {
  const s = b.subarray(off, off + len).toString('ascii').replace(/\0.*$/, '').trim();
  return s ? parseInt(s, 8) : 0;
}

/** Disassembles a tar into tar-split JSON lines, as the reference packer would. */
export function disassemble(tar: Buffer): string {
  const out: string[] = [];
  let pos = 0;
  let seg: Buffer[] = [];
  const flush = () => {
    out.push(JSON.stringify({ type: 2, payload: Buffer.concat(seg).toString('base64'), position: out.length }));
    seg = [];
  };
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = octal(h, 124, 12);
    const flag = String.fromCharCode(h[156]!);
    const padded = Math.ceil(size / 512) * 512;
    if (flag === 'x' || flag === 'g' || flag === 'L') {
      const data = tar.subarray(off + 512, off + 512 + size);
      if (flag === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
      if (flag === 'x') {
        const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
        if (m) paxPath = m[1];
      }
      seg.push(tar.subarray(off, off + 512 + padded));
      off += 512 + padded;
      continue;
    }
    let name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    if (h.subarray(257, 262).toString() === 'ustar' && prefix) name = `${prefix}/${name}`;
    name = paxPath ?? longName ?? name;
    paxPath = longName = undefined;
    seg.push(h);
    flush();
    const isFile = flag === '0' || flag === '\0' || flag === '7';
    const fsize = isFile ? size : 0;
    const content = tar.subarray(off + 512, off + 512 + fsize);
    out.push(JSON.stringify({ type: 1, name, ...(fsize ? { size: fsize } : {}), payload: fsize ? crc64(content).toString('base64') : null, position: out.length }));
    if (padded > fsize) seg.push(tar.subarray(off + 512 + fsize, off + 512 + padded));
    off += 512 + padded;
    void pos;
  }
  seg.push(tar.subarray(off));
  flush();
  out.push(JSON.stringify({ type: 2, payload: '', position: out.length }));
  return out.join('\n') + '\n';
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function tempDir(prefix = 'dsv-repo-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes the files of a layer onto disk (the driver's layer directory). */
export function extract(dir: string, files: TarFile[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    const p = join(dir, f.name);
    const type = f.type ?? 'file';
    if (type === 'directory') mkdirSync(p, { recursive: true });
    else if (type === 'symlink') { mkdirSync(dirname(p), { recursive: true }); symlinkSync(f.linkname!, p); }
    else if (type === 'file') { mkdirSync(dirname(p), { recursive: true }); writeFileSync(p, f.content ?? ''); }
  }
}

export interface FakeLayer { files: TarFile[] }
export interface FakeImage { id: string; config: Buffer; diffIds: string[]; chainIds: string[]; cacheIds: string[]; tars: Buffer[] }

/**
 * Builds a Docker store layout under `root` for `driver` (overlay2, aufs or vfs) holding one image
 * tagged `name` (e.g. `demo:1`), in the documented on-disk format.
 */
export async function buildStore(root: string, driver: 'overlay2' | 'aufs' | 'vfs' | 'btrfs' | 'devicemapper', name: string, layers: FakeLayer[], extraConfig: Record<string, unknown> = {}): Promise<FakeImage> {
  const base = join(root, 'image', driver);
  mkdirSync(join(base, 'imagedb', 'content', 'sha256'), { recursive: true });
  mkdirSync(join(base, 'layerdb', 'sha256'), { recursive: true });
  const diffIds: string[] = [];
  const chainIds: string[] = [];
  const cacheIds: string[] = [];
  const tars: Buffer[] = [];
  let chain = '';
  for (const [i, layer] of layers.entries()) {
    const tar = await makeTar(layer.files);
    tars.push(tar);
    const diffId = sha256(tar);
    diffIds.push(diffId);
    chain = i === 0 ? diffId : sha256(`${chain} ${diffId}`);
    chainIds.push(chain);
    const cacheId = createHash('sha256').update(`cache-${i}-${diffId}`).digest('hex');
    cacheIds.push(cacheId);
    const ldir = join(base, 'layerdb', 'sha256', chain.slice(7));
    mkdirSync(ldir, { recursive: true });
    writeFileSync(join(ldir, 'diff'), diffId);
    writeFileSync(join(ldir, 'cache-id'), cacheId);
    writeFileSync(join(ldir, 'size'), String(tar.length));
    if (i > 0) writeFileSync(join(ldir, 'parent'), chainIds[i - 1]!);
    writeFileSync(join(ldir, 'tar-split.json.gz'), gzipSync(disassemble(tar)));
    const layerDir = driver === 'overlay2' ? join(root, 'overlay2', cacheId, 'diff')
      : driver === 'aufs' ? join(root, 'aufs', 'diff', cacheId)
        : driver === 'vfs' ? join(root, 'vfs', 'dir', cacheId)
          : driver === 'btrfs' ? join(root, 'btrfs', 'subvolumes', cacheId)
            : undefined;
    if (layerDir) extract(layerDir, layer.files);
    if (driver === 'devicemapper') {
      mkdirSync(join(root, 'devicemapper', 'metadata'), { recursive: true });
      writeFileSync(join(root, 'devicemapper', 'metadata', cacheId), JSON.stringify({ device_id: 10 + i, size: 10737418240, transaction_id: 5 + i, initialized: false, deleted: false }));
    }
  }
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Labels: null },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z' })),
    ...extraConfig,
  }));
  const id = sha256(config);
  writeFileSync(join(base, 'imagedb', 'content', 'sha256', id.slice(7)), config);
  const [repo] = name.split(':');
  writeFileSync(join(base, 'repositories.json'), JSON.stringify({ Repositories: { [repo!]: { [name]: id } } }));
  return { id, config, diffIds, chainIds, cacheIds, tars };
}
