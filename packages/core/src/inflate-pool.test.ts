// The inflate pool against the in-thread hasher: the worker (inflate-worker.ts bundled by esbuild, as the app
// bundles load it; the test runner's .ts module cannot run in a worker) gives the same compression, diff_id and
// errors (code, message, details) for good, corrupt, over-limit, zstd and abandoned streams; small layers and a
// pool whose worker cannot start stay in-thread; an aborted layer leaves no job behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { DiffIdHasher, type DiffIdOptions, type DiffIdResult } from './diff-id.js';
import { digestOf } from './digest.js';
import { InflatePool, OFF_THREAD_MIN_BYTES, type LayerHasher } from './inflate-pool.js';

let dir: string;
let pool: InflatePool;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dsv-inflate-worker-'));
  const outfile = join(dir, 'inflate-worker.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./inflate-worker.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    logLevel: 'silent',
  });
  pool = new InflatePool(async () => ({ url: pathToFileURL(outfile).href, mark: 'dsvInflateWorker' }));
});

afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (o: Partial<DiffIdOptions> = {}): DiffIdOptions => ({ algorithm: 'sha256', sameAsBlob: true, maxBytes: undefined, name: 'layer x', ...o });

async function feed(h: LayerHasher, bytes: Buffer, stopAt?: number): Promise<DiffIdResult> {
  const end = stopAt ?? bytes.length;
  for (let o = 0; o < end; o += 65536) await new Promise<void>((ready) => h.write(bytes.subarray(o, Math.min(end, o + 65536)), ready));
  if (stopAt === undefined) h.end();
  return h.result(() => digestOf(bytes));
}

/** The result as data: an error by its code, message and details. */
function plain(r: DiffIdResult) {
  return { ...r, error: r.error && { code: r.error.code, message: r.error.message, details: r.error.details } };
}

async function both(bytes: Buffer, o: Partial<DiffIdOptions> = {}, stopAt?: number) {
  const off = pool.hasher(options(o), OFF_THREAD_MIN_BYTES, true);
  expect(off).not.toBeInstanceOf(DiffIdHasher);
  const [a, b] = await Promise.all([feed(new DiffIdHasher(options(o)), bytes, stopAt), feed(off, bytes, stopAt)]);
  expect(plain(b)).toEqual(plain(a));
  return b;
}

describe('InflatePool', () => {
  const content = Buffer.concat([randomBytes(3_000_000), Buffer.alloc(5_000_000, 'a')]);

  it('hashes gzip (several members), zstd and plain content as the main thread does', async () => {
    const gz = Buffer.concat([gzipSync(content.subarray(0, 1_000_000)), gzipSync(content.subarray(1_000_000))]);
    expect(await both(gz)).toEqual({ compression: 'gzip', diffId: digestOf(content) });
    const zst = execFileSync('zstd', ['-q', '-c', '-3'], { input: content, maxBuffer: 64 * 1024 * 1024 });
    expect(await both(zst)).toEqual({ compression: 'zstd', diffId: digestOf(content) });
    expect(await both(content)).toEqual({ compression: 'none', diffId: digestOf(content) });
    // A diff_id in another algorithm than the blob's: the plain content is hashed in the worker.
    expect((await both(content, { algorithm: 'sha512', sameAsBlob: false })).diffId).toBe(digestOf(content, 'sha512'));
  });

  it('reports corrupt data, trailing garbage and the size limit with the same errors', async () => {
    const gz = gzipSync(content);
    const corrupt = Buffer.concat([gz.subarray(0, 200_000), Buffer.alloc(gz.length - 200_000, 9)]);
    expect((await both(corrupt)).error?.code).toBe('ArchiveInvalid');
    expect((await both(Buffer.concat([gz, Buffer.from('garbage')]))).error?.code).toBe('ArchiveInvalid');
    const over = await both(gz, { maxBytes: 1_000_000 });
    expect(over.error?.code).toBe('LimitExceeded');
    expect(over.error?.details).toEqual({ name: 'layer x', limit: 1_000_000 });
  });

  it('gives no digest for an abandoned stream and keeps no job for it', async () => {
    expect(await both(gzipSync(content), {}, 3_000_000)).toEqual({ compression: 'gzip' });
    const h = pool.hasher(options(), OFF_THREAD_MIN_BYTES, true);
    await new Promise<void>((ready) => h.write(gzipSync(content), ready));
    h.abort('gone');
    expect(await h.result(() => digestOf(content))).toEqual({ compression: 'gzip' });
    expect(pool.jobs()).toBe(0);
  });

  it('holds the writer back while the worker is behind (bounded bytes in flight)', async () => {
    const h = pool.hasher(options(), OFF_THREAD_MIN_BYTES, true);
    const big = gzipSync(Buffer.concat([content, content, content]));
    let pending = 0;
    for (let o = 0; o < big.length; o += 1 << 20) {
      let called = false;
      h.write(big.subarray(o, o + (1 << 20)), () => (called = true));
      if (!called) pending++;
      while (!called) await new Promise((r) => setImmediate(r));
    }
    h.end();
    expect(pending).toBeGreaterThan(0);
    expect((await h.result(() => digestOf(big))).diffId).toBe(digestOf(Buffer.concat([content, content, content])));
  });

  it('keeps small layers, and every layer when no worker can start, on the main thread', async () => {
    expect(pool.hasher(options(), OFF_THREAD_MIN_BYTES - 1, true)).toBeInstanceOf(DiffIdHasher);
    expect(pool.hasher(options(), OFF_THREAD_MIN_BYTES, false)).toBeInstanceOf(DiffIdHasher);
    expect(pool.plan([{ size: OFF_THREAD_MIN_BYTES - 1 }, { size: OFF_THREAD_MIN_BYTES - 1 }])).toBe(false);
    expect(pool.plan([{ size: 1 }, { size: OFF_THREAD_MIN_BYTES }])).toBe(true);
    const none = new InflatePool(async () => undefined);
    const first = none.hasher(options(), OFF_THREAD_MIN_BYTES, true);
    expect(await feed(first, gzipSync(content))).toEqual({ compression: 'gzip', diffId: digestOf(content) });
    expect(none.hasher(options(), OFF_THREAD_MIN_BYTES, true)).toBeInstanceOf(DiffIdHasher);
    const failing = new InflatePool(async () => ({ url: pathToFileURL(join(dir, 'missing.mjs')).href, mark: 'dsvInflateWorker' }));
    expect(await feed(failing.hasher(options(), OFF_THREAD_MIN_BYTES, true), gzipSync(content))).toEqual({ compression: 'gzip', diffId: digestOf(content) });
    expect(failing.hasher(options(), OFF_THREAD_MIN_BYTES, true)).toBeInstanceOf(DiffIdHasher);
  });
});
