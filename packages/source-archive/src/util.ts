// Shared helpers of the archive transports: temp files and atomic writes, strict JSON, descriptors.
import { createWriteStream, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, DsvError, digestOf, parseDigest, parseJsonStrict, verifiedFor, type Descriptor, type Digest } from '@dsv/core/formats';
import { pidTempName, registerCleanup, sweepStaleTemps } from '@dsv/core/transport';

export const GZIP_MAGIC = [0x1f, 0x8b];
export const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * A temp name beside `path`, hidden, unique, naming this process: `.name.dsv-<pid>-<rand><suffix>`.
 * The first time a directory gets one, temps there of processes that are gone are swept (see sweepBeside).
 */
export function siblingTemp(path: string, suffix: '.tmp' | '.d'): string {
  return pidTempName(path, suffix);
}

const swept = new Set<string>();

/** Once per directory per process: removes temps that killed dsv processes left there. */
export async function sweepBeside(dir: string): Promise<void> {
  const d = resolve(dir);
  if (swept.has(d)) return;
  swept.add(d);
  await sweepStaleTemps(d);
}

/** rm -rf now, for cleanup actions (which must be synchronous). */
export function removeNow(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function ioError(what: string, e: unknown, details: Record<string, unknown> = {}): DsvError {
  if (e instanceof DsvError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new DsvError('NotFound', `${what}: no such file or directory`, details, { cause: e });
  return new DsvError('IoError', `${what}: ${code ?? (e as Error)?.message ?? String(e)}`, details, { cause: e });
}

/**
 * Writes `stream` to `target` through a temp file in the same directory, checking digest and size
 * against `descriptor` before the rename: nothing is ever stored under a digest it does not have.
 */
export async function storeVerified(descriptor: Pick<Descriptor, 'digest' | 'size'>, stream: Readable, target: string): Promise<void> {
  parseDigest(descriptor.digest);
  await ensureDirectory(dirname(target));
  await sweepBeside(dirname(target));
  const tmp = siblingTemp(target, '.tmp');
  const unregister = registerCleanup(() => removeNow(tmp));
  try {
    // A VerifiedBlob for this descriptor checks itself, failing before its last byte: not hashed twice.
    if (verifiedFor(stream, descriptor)) await pipeline(stream, createWriteStream(tmp));
    else await pipeline(stream, new DigestingStream({ digest: descriptor.digest, size: descriptor.size, name: descriptor.digest }), createWriteStream(tmp));
    await fsyncFile(tmp);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw ioError(`cannot store blob ${descriptor.digest}`, e, { digest: descriptor.digest });
  } finally {
    unregister();
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes small bytes atomically (temp + fsync + rename). */
export async function writeAtomic(target: string, bytes: Uint8Array): Promise<void> {
  const tmp = siblingTemp(target, '.tmp');
  const unregister = registerCleanup(() => removeNow(tmp));
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw ioError(`cannot write ${target}`, e, { path: target });
  } finally {
    unregister();
  }
}

export function parseJson(bytes: Uint8Array, what: string, code: 'ArchiveInvalid' | 'ManifestInvalid' | 'ConfigInvalid' = 'ArchiveInvalid'): unknown {
  // Strict: a key named twice is refused (readers disagree on which one counts).
  return parseJsonStrict(Buffer.from(bytes).toString('utf8'), what, code);
}

/**
 * Bytes read for a descriptor must be what it names: hashed with its algorithm, and (when the size is
 * known) exactly that long. A layout's index.json is believed about nothing.
 */
export function checkDescribed(bytes: Uint8Array, expected: { digest: string; size?: number }, what: string, details: Record<string, unknown> = {}): void {
  const { algorithm } = parseDigest(expected.digest);
  if (expected.size !== undefined && bytes.length !== expected.size) {
    throw new DsvError('SizeMismatch', `${what}: ${bytes.length} bytes, but its descriptor says ${expected.size}`, { ...details, digest: expected.digest, expectedSize: expected.size, actualSize: bytes.length });
  }
  const actual = digestOf(bytes, algorithm);
  if (actual !== expected.digest) {
    throw new DsvError('DigestMismatch', `${what}: the bytes hash to ${actual}, not the ${expected.digest} its descriptor names`, { ...details, digest: expected.digest, actual });
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `blobs/sha256/<hex>` for a validated digest. */
export function blobPath(digest: string): string {
  const p = parseDigest(digest);
  return `blobs/${p.algorithm}/${p.hex}`;
}

/** The digest a `blobs/<alg>/<hex>` entry name stands for, if it is one. */
export function digestFromBlobPath(name: string): Digest | undefined {
  const m = /^blobs\/([a-z0-9]+)\/([0-9a-f]+)$/.exec(name);
  if (!m) return undefined;
  try {
    return parseDigest(`${m[1]}:${m[2]}`).digest;
  } catch {
    return undefined;
  }
}

export function descriptorOf(v: unknown, what: string, code: 'ManifestInvalid' | 'ArchiveInvalid' = 'ManifestInvalid'): Descriptor {
  if (!isObject(v) || typeof v.digest !== 'string' || typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new DsvError(code, `${what}: invalid descriptor`, {});
  }
  parseDigest(v.digest);
  return v as unknown as Descriptor;
}

/**
 * mkdir -p, one component at a time. Node's recursive mkdir never settles for some paths (e.g. under
 * /proc), which hung a copy to such a destination; plain mkdir/stat fail fast there.
 */
export async function ensureDirectory(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(path); ; ) {
    try {
      if (!(await stat(p)).isDirectory()) throw new DsvError('IoError', `cannot create directory ${path}: ${p} is not a directory`, { path });
      break;
    } catch (e) {
      if (e instanceof DsvError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot create directory ${path}`, e, { path });
      missing.push(p);
      const parent = dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot create directory ${dir}`, e, { path: dir });
    }
  }
}
