import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isDsvError } from '@dsv/core/formats';
import { createTarSplitReader, tarSplitSize, readTarSplitEntries } from './tarsplit.js';
import { disassemble, extract, makeTar, tempDir, type TarFile } from './__tests__/fixtures.js';

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const files: TarFile[] = [
  { name: './', type: 'directory' },
  { name: './hello.txt', content: 'hello\n' },
  { name: './etc/', type: 'directory' },
  { name: './etc/big.bin', content: Buffer.alloc(200_000, 7) },
  { name: './etc/empty', content: '' },
  { name: './etc/link', type: 'symlink', linkname: '../hello.txt' },
  { name: `./${'d'.repeat(120)}/long-name-file.txt`, content: 'long path via pax or gnu' },
  { name: './pax.txt', content: 'with pax', pax: { 'SCHILY.xattr.user.x': 'y' } },
  { name: './.wh.deleted', content: '' },
];

async function layout() {
  const tar = await makeTar(files);
  const dir = tempDir();
  extract(join(dir, 'diff'), files);
  const meta = gzipSync(disassemble(tar));
  return { tar, dir: join(dir, 'diff'), meta };
}

describe('tar-split reader', () => {
  test('rebuilds the exact tar stream from gzip metadata and the files on disk', async () => {
    const { tar, dir, meta } = await layout();
    const out = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir }));
    expect(out.equals(tar)).toBe(true);
    expect(await tarSplitSize(Readable.from([meta]))).toBe(tar.length);
  });

  test('accepts uncompressed metadata split across odd chunk boundaries', async () => {
    const { tar, dir } = await layout();
    const text = Buffer.from(disassemble(tar));
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.subarray(i, i + 7));
    const out = await collect(createTarSplitReader({ metadata: Readable.from(chunks), files: dir }));
    expect(out.equals(tar)).toBe(true);
  });

  test('a byte changed in one file fails naming the layer and the file', async () => {
    const { dir, meta } = await layout();
    const p = join(dir, 'etc', 'big.bin');
    const b = readFileSync(p);
    b[1234] = 8;
    writeFileSync(p, b);
    const err = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir, layer: 'layer 1 (sha256:abc)' })).catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain('layer 1 (sha256:abc)');
    expect(err.message).toContain('etc/big.bin');
    expect(err.details.file).toBe('etc/big.bin');
  });

  test('a truncated or grown file fails with SizeMismatch naming it', async () => {
    const { dir, meta } = await layout();
    writeFileSync(join(dir, 'hello.txt'), 'hell');
    let err = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir })).catch((e) => e);
    expect(isDsvError(err, 'SizeMismatch')).toBe(true);
    expect(err.message).toContain('hello.txt');
    writeFileSync(join(dir, 'hello.txt'), 'hello\nmore');
    err = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir })).catch((e) => e);
    expect(isDsvError(err, 'SizeMismatch')).toBe(true);
  });

  test('a missing file is NotFound naming it; a missing directory names the directory', async () => {
    const { dir, meta } = await layout();
    rmSync(join(dir, 'pax.txt'));
    let err = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir })).catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('pax.txt');
    rmSync(dir, { recursive: true });
    err = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir })).catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain(dir);
  });

  test('never follows a symlink out of the layer directory', async () => {
    const tar = await makeTar([{ name: 'sub/secret', content: 'x' }]);
    const root = tempDir();
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'x');
    mkdirSync(join(root, 'diff'));
    symlinkSync(outside, join(root, 'diff', 'sub'));
    const err = await collect(createTarSplitReader({ metadata: Readable.from([disassemble(tar)]), files: join(root, 'diff') })).catch((e) => e);
    expect(isDsvError(err, 'ArchiveInvalid')).toBe(true);
    const tar2 = await makeTar([{ name: '../../etc/passwd', content: 'x' }]);
    // "../" is cleaned away as Go's filepath.Join(root, Clean("/"+name)) would: looked up inside the root.
    const err2 = await collect(createTarSplitReader({ metadata: Readable.from([disassemble(tar2)]), files: join(root, 'diff') })).catch((e) => e);
    expect(isDsvError(err2, 'NotFound')).toBe(true);
    expect(err2.message).toContain('"etc/passwd"');
  });

  test('malformed metadata is ArchiveInvalid', async () => {
    const bad = [
      '{"type":2,"payload":"","position":1}\n',
      'not json\n',
      '{"type":3,"position":0}\n',
      '{"type":1,"name":"a","size":-1,"position":0}\n',
      '{"type":1,"name":"a","size":1,"payload":"AAAA","position":0}\n',
      '{"type":1,"name":"a","payload":null,"position":0}\n{"type":1,"name":"./a","payload":null,"position":1}\n',
      '{"type":2,"payload":"!!!","position":0}\n',
    ];
    for (const text of bad) {
      const err = await (async () => { for await (const _ of readTarSplitEntries(Readable.from([text]))) { /* drain */ } })().catch((e) => e);
      expect(isDsvError(err, 'ArchiveInvalid'), text).toBe(true);
    }
    const gz = Buffer.concat([gzipSync('{"type":2,"payload":"","position":0}\n').subarray(0, 15)]);
    const err = await tarSplitSize(Readable.from([gz])).catch((e) => e);
    expect(isDsvError(err, 'ArchiveInvalid')).toBe(true);
  });

  test('files whose names are not UTF-8 (name_raw) are read by their raw bytes', async () => {
    const dir = tempDir();
    const { writeFileSync: w, mkdirSync: m } = await import('node:fs');
    m(join(dir, 'sub'));
    w(Buffer.concat([Buffer.from(join(dir, 'sub') + '/'), Buffer.from([0x61, 0xff, 0x62])]), 'abc');
    const { crc64 } = await import('./crc64.js');
    const meta = [
      { type: 2, payload: Buffer.from('HDR').toString('base64'), position: 0 },
      { type: 1, name_raw: Buffer.concat([Buffer.from('./sub/'), Buffer.from([0x61, 0xff, 0x62])]).toString('base64'), size: 3, payload: crc64(Buffer.from('abc')).toString('base64'), position: 1 },
      { type: 2, payload: Buffer.from('END').toString('base64'), position: 2 },
    ].map((e) => JSON.stringify(e)).join('\n');
    const out = await collect(createTarSplitReader({ metadata: Readable.from([meta]), files: dir }));
    expect(out.toString()).toBe('HDRabcEND');
  });

  test('name_raw carries names that are not UTF-8', async () => {
    const meta = `{"type":1,"name_raw":"${Buffer.from([0x61, 0xff]).toString('base64')}","payload":null,"position":0}\n`;
    const entries = [];
    for await (const e of readTarSplitEntries(Readable.from([meta]))) entries.push(e);
    expect(entries[0]!.nameBytes!.equals(Buffer.from([0x61, 0xff]))).toBe(true);
  });
});
