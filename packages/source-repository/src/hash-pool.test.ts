// Tests of the layer hashing pool (the main thread and worker threads): digests equal the rebuilt stream's, every failure of the streamed reader.
import { afterAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isDsvError } from '@dsv/core/formats';
import { TarSplitHashPool } from './hash-pool.js';
import { disassemble, extract, makeTar, sha256, tempDir, type TarFile } from './__tests__/fixtures.js';

const pool = new TarSplitHashPool();
afterAll(() => pool.close());

const files: TarFile[] = [
  { name: './', type: 'directory' },
  { name: './hello.txt', content: 'hello\n' },
  { name: './etc/', type: 'directory' },
  // Over one 1 MiB chunk, not a multiple of it: chunk boundaries inside a file.
  { name: './etc/big.bin', content: Buffer.alloc(2_500_000, 7) },
  { name: './etc/empty', content: '' },
  { name: './etc/link', type: 'symlink', linkname: '../hello.txt' },
  { name: './pax.txt', content: 'with pax', pax: { 'SCHILY.xattr.user.x': 'y' } },
];

async function layout(list = files) {
  const tar = await makeTar(list);
  const dir = tempDir();
  extract(join(dir, 'diff'), list);
  return { tar, dir: join(dir, 'diff'), meta: gzipSync(disassemble(tar)) };
}

const digest = (meta: Buffer | string, dir: string, extra: { signal?: AbortSignal; algorithm?: 'sha256' | 'sha512' } = {}) =>
  pool.digest({ metadata: Readable.from([meta]), dir, layer: 'layer 1 (sha256:abc)', algorithm: extra.algorithm ?? 'sha256', ...(extra.signal ? { signal: extra.signal } : {}) });

describe('layer hashing pool', () => {
  test('the digest, length and first bytes of the rebuilt tar stream, in the algorithm asked for', async () => {
    const { tar, dir, meta } = await layout();
    const r = await digest(meta, dir);
    expect(r.digest).toBe(sha256(tar));
    expect(r.size).toBe(tar.length);
    expect(Buffer.from(r.head).equals(tar.subarray(0, 512))).toBe(true);
    const r512 = await digest(meta, dir, { algorithm: 'sha512' });
    expect(r512.digest).toBe(`sha512:${createHash('sha512').update(tar).digest('hex')}`);
  });

  test('layers hashed at once share the workers and each gets its own digest', async () => {
    const layouts = await Promise.all([0, 1, 2, 3, 4].map((i) => layout([...files, { name: `./n${i}.txt`, content: `layer ${i}` }])));
    const results = await Promise.all(layouts.map((l) => digest(l.meta, l.dir)));
    results.forEach((r, i) => expect(r.digest).toBe(sha256(layouts[i]!.tar)));
  });

  test('many small files: more than the open-file and queue bounds, in order', async () => {
    const list: TarFile[] = [{ name: './d/', type: 'directory' }];
    for (let i = 0; i < 300; i++) list.push({ name: `./d/f${i}`, content: `file ${i} `.repeat(i % 7) || '' });
    const { tar, dir, meta } = await layout(list);
    const r = await digest(meta, dir);
    expect(r.digest).toBe(sha256(tar));
    expect(r.size).toBe(tar.length);
  });

  test('a truncated or grown file fails with SizeMismatch naming the layer and the file', async () => {
    const { dir, meta } = await layout();
    writeFileSync(join(dir, 'hello.txt'), 'hell');
    let err = await digest(meta, dir).catch((e) => e);
    expect(isDsvError(err, 'SizeMismatch')).toBe(true);
    expect(err.message).toContain('layer 1 (sha256:abc)');
    expect(err.details.file).toBe('hello.txt');
    writeFileSync(join(dir, 'hello.txt'), 'hello\nmore');
    err = await digest(meta, dir).catch((e) => e);
    expect(isDsvError(err, 'SizeMismatch')).toBe(true);
    expect(err.message).toContain('longer');
  });

  test('a changed byte gives another digest (the engine reports the mismatch)', async () => {
    const { tar, dir, meta } = await layout();
    const b = Buffer.alloc(2_500_000, 7);
    b[1_500_000] = 8;
    writeFileSync(join(dir, 'etc', 'big.bin'), b);
    const r = await digest(meta, dir);
    expect(r.size).toBe(tar.length);
    expect(r.digest).not.toBe(sha256(tar));
  });

  test('a missing file is NotFound; a symlink out of the directory is refused; bad metadata is ArchiveInvalid', async () => {
    const { dir, meta } = await layout();
    rmSync(join(dir, 'pax.txt'));
    const err = await digest(meta, dir).catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('pax.txt');

    const tar = await makeTar([{ name: 'sub/secret', content: 'x' }]);
    const root = tempDir();
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(root, 'outside', 'secret'), 'x');
    mkdirSync(join(root, 'diff'));
    symlinkSync(join(root, 'outside'), join(root, 'diff', 'sub'));
    const err2 = await digest(disassemble(tar), join(root, 'diff')).catch((e) => e);
    expect(isDsvError(err2, 'ArchiveInvalid')).toBe(true);

    const err3 = await digest('{"type":2,"payload":"","position":1}\n', dir).catch((e) => e);
    expect(isDsvError(err3, 'ArchiveInvalid')).toBe(true);
    // The pool still serves after failures.
    const ok = await layout();
    expect((await digest(ok.meta, ok.dir)).digest).toBe(sha256(ok.tar));
  });

  test('an aborted signal stops hashing with its reason', async () => {
    const { dir, meta } = await layout();
    const ac = new AbortController();
    const p = digest(meta, dir, { signal: ac.signal });
    ac.abort(new Error('stop here'));
    await expect(p).rejects.toThrow('stop here');
  });

  test('a closed pool refuses new layers', async () => {
    const own = new TarSplitHashPool(1);
    const { tar, dir, meta } = await layout();
    expect((await own.digest({ metadata: Readable.from([meta]), dir, layer: 'l', algorithm: 'sha256' })).digest).toBe(sha256(tar));
    await own.close();
    await expect(own.digest({ metadata: Readable.from([meta]), dir, layer: 'l', algorithm: 'sha256' })).rejects.toThrow('closed');
  });

  test('the main thread hashes the first layer; workers alone (mainThread: false) give the same digests', async () => {
    const layouts = await Promise.all([0, 1, 2].map((i) => layout([...files, { name: `./m${i}.txt`, content: `layer ${i}` }])));
    for (const own of [new TarSplitHashPool(1), new TarSplitHashPool(2, { mainThread: false })]) {
      const results = await Promise.all(layouts.map((l) => own.digest({ metadata: Readable.from([l.meta]), dir: l.dir, layer: 'l', algorithm: 'sha256' })));
      results.forEach((r, i) => expect(r.digest).toBe(sha256(layouts[i]!.tar)));
      await own.close();
    }
  });

  test('closing the pool fails a layer the main thread is hashing', async () => {
    const own = new TarSplitHashPool(1);
    const { dir, meta } = await layout();
    const p = own.digest({ metadata: Readable.from([meta]), dir, layer: 'l', algorithm: 'sha256' });
    await own.close();
    await expect(p).rejects.toThrow();
  });

  test('layers wait for a free hasher; closing the pool fails those still waiting', async () => {
    const own = new TarSplitHashPool(1);
    const { dir, meta } = await layout();
    const ps = [0, 1, 2].map(() => own.digest({ metadata: Readable.from([meta]), dir, layer: 'l', algorithm: 'sha256' }));
    await own.close();
    for (const p of ps) await expect(p).rejects.toThrow();
  });
});
