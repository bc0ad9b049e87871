// A real dsv-copy (the BUILT bin) killed with SIGTERM in the middle of a large copy leaves nothing behind:
// no hidden temp files beside a docker-archive, no .tmp blobs, no half-made new OCI layout; and a later run
// sweeps the temps of processes that are gone (a SIGKILL leaves them), never those of a live one.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';

const dsvCopy = launcher('dsv-copy');
const LAYER_MB = 256;
let src: string;

/** An OCI layout holding one image with one uncompressed layer of LAYER_MB MiB, written as a stream. */
async function bigLayout(dir: string): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const tmp = join(dir, 'layer.tmp');
  const out = createWriteStream(tmp);
  const h = createHash('sha256');
  const write = async (b: Buffer) => {
    h.update(b);
    if (!out.write(b)) await once(out, 'drain');
  };
  const size = LAYER_MB * 1024 * 1024;
  const header = Buffer.alloc(512);
  header.write('big.bin', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  await write(header);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < LAYER_MB; i++) {
    chunk.fill(i & 0xff);
    await write(chunk);
  }
  await write(Buffer.alloc(1024));
  out.end();
  await once(out, 'finish');
  const layerDigest = `sha256:${h.digest('hex')}`;
  const layerSize = 512 + size + 1024;
  const { renameSync } = await import('node:fs');
  renameSync(tmp, join(blobs, layerDigest.slice(7)));
  const put = (b: Buffer) => {
    const d = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    writeFileSync(join(blobs, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layerSize }],
  }));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
}

/** A tiny one-layer OCI layout (tag v1). */
function smallLayout(): string {
  const small = tempDir('dsv-hostile-small-');
  mkdirSync(join(small, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    writeFileSync(join(small, 'blobs', 'sha256', d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const l = put(Buffer.alloc(1024));
  const c = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [l.digest] } })));
  const m = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }] })));
  writeFileSync(join(small, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(small, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
  return small;
}

function copySmall(dest: string): void {
  const r = spawnSync(process.execPath, [dsvCopy, `oci:${smallLayout()}:v1`, dest], { encoding: 'utf8' });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}

/** Bytes under `path` (files only), recursively. */
function bytesUnder(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, f) => n + bytesUnder(join(path, f)), 0);
}

/**
 * Starts dsv-copy, waits until `busy()` reports at least 8 MiB written (the copy is under way), sends
 * SIGTERM, and resolves with how it ended.
 */
async function killMidCopy(args: string[], busy: () => number): Promise<{ code: number | null; signal: NodeJS.Signals | null; written: number; stderr: string }> {
  const child = spawn(process.execPath, [dsvCopy, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let written = 0;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const raced = await Promise.race([exited.then(() => 'exited' as const), new Promise<'tick'>((r) => setTimeout(() => r('tick'), 20))]);
    if (raced === 'exited') throw new Error(`dsv-copy finished before it could be interrupted: ${stderr}`);
    written = busy();
    if (written >= 8 * 1024 * 1024) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('dsv-copy wrote nothing within 90 s');
    }
  }
  child.kill('SIGTERM');
  return { ...(await exited), written, stderr };
}

beforeAll(async () => {
  src = tempDir('dsv-hostile-big-');
  await bigLayout(src);
}, 180_000);

afterAll(() => removeTempDirs());

describe('SIGTERM in the middle of a copy', () => {
  it('to a new docker-archive: no temp files are left beside it', async () => {
    const out = tempDir('dsv-hostile-int-');
    const file = join(out, 'big.tar');
    const r = await killMidCopy([`oci:${src}:v1`, `docker-archive:${file}:big:1`], () => bytesUnder(out));
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(readdirSync(out)).toEqual([]);
  });

  it('to an existing docker-archive: it is unchanged and nothing else is left', async () => {
    const out = tempDir('dsv-hostile-int-');
    const file = join(out, 'small.tar');
    copySmall(`docker-archive:${file}:small:1`);
    const before = readFileSync(file);
    const r = await killMidCopy([`oci:${src}:v1`, `docker-archive:${file}:big:1`], () => bytesUnder(out) - before.length);
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(readdirSync(out)).toEqual(['small.tar']);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('to a new oci: layout: the directory is not left behind', async () => {
    const out = tempDir('dsv-hostile-int-');
    const layout = join(out, 'new-layout');
    const r = await killMidCopy([`oci:${src}:v1`, `oci:${layout}:v1`], () => bytesUnder(out));
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(readdirSync(out)).toEqual([]);
  });

  it('to an existing oci: layout: no .tmp blob is left and index.json is unchanged', async () => {
    const out = tempDir('dsv-hostile-int-');
    const layout = join(out, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    const r = await killMidCopy([`oci:${src}:v1`, `oci:${layout}:v1`], () => bytesUnder(layout));
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(readdirSync(join(layout, 'blobs', 'sha256')).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readFileSync(join(layout, 'index.json'), 'utf8')).toBe('{"schemaVersion":2,"manifests":[]}');
  });

  it('to oci-archive: no staging directory or temp tar is left', async () => {
    const out = tempDir('dsv-hostile-int-');
    const r = await killMidCopy([`oci:${src}:v1`, `oci-archive:${join(out, 'big.tar')}:v1`], () => bytesUnder(out));
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('temps of processes that are gone', () => {
  it('a SIGKILLed copy leaves temps; the next copy to that directory sweeps them, not a live process\'s', async () => {
    const out = tempDir('dsv-hostile-int-');
    const file = join(out, 'big.tar');
    const child = spawn(process.execPath, [dsvCopy, `oci:${src}:v1`, `docker-archive:${file}:big:1`], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    const deadline = Date.now() + 90_000;
    while (bytesUnder(out) < 8 * 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const left = readdirSync(out);
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((f) => f.includes(`.dsv-${child.pid}-`))).toBe(true);
    const live = `.big.tar.dsv-${process.pid}-0123456789ab.tmp`;
    writeFileSync(join(out, live), 'still being written');
    copySmall(`docker-archive:${join(out, 'small.tar')}:small:1`);
    expect(readdirSync(out).sort()).toEqual([live, 'small.tar']);
  });
});
