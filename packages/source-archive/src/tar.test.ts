import { describe, expect, test } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { TarIndex } from './index.js';
import { buildTar, readAll, tempDir } from './__tests__/support.js';
import { tarChunks, writeTarFile } from './tar.js';

describe('TarIndex', () => {
  test('indexes PAX and GNU long names and streams entries by offset', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}.bin`;
    const pax = await buildTar([{ name: long, data: 'pax-data' }, { name: 'short', data: 'x'.repeat(1000) }]);
    const p1 = join(tempDir(), 'pax.tar');
    writeFileSync(p1, pax);
    const t1 = await TarIndex.open(p1);
    expect(t1.entries.map((e) => e.name)).toEqual([long, 'short']);
    expect((await readAll(t1.openEntry(long))).toString()).toBe('pax-data');
    expect((await readAll(t1.openEntry('short'))).length).toBe(1000);

    // GNU tar's own long-name records (type L)
    const dir = tempDir();
    const name = `${'g'.repeat(150)}.txt`;
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', name), 'gnu-data');
    const p2 = join(dir, 'gnu.tar');
    execFileSync('tar', ['--format=gnu', '-C', join(dir, 'src'), '-cf', p2, '.']);
    const t2 = await TarIndex.open(p2);
    expect(t2.has(name)).toBe(true);
    expect((await readAll(t2.openEntry(name))).toString()).toBe('gnu-data');
    expect(t2.get(`./${name}`)!.name).toBe(name);
  });

  test('our writer: long names via PAX, verbatim copies, readable by GNU tar', async () => {
    const dir = tempDir();
    const long = `blobs/${'x'.repeat(140)}`;
    const p = join(dir, 'w.tar');
    await writeTarFile(p, tarChunks({ add: [{ name: long, bytes: Buffer.from('L') }, { name: 'a', bytes: Buffer.from('A') }] }));
    const t = await TarIndex.open(p);
    expect(t.entries.map((e) => e.name)).toEqual([long, 'a']);
    const p2 = join(dir, 'w2.tar');
    await writeTarFile(p2, tarChunks({ copyFrom: t, skip: new Set(['a']), add: [{ name: 'b', bytes: Buffer.from('B') }] }));
    const listing = execFileSync('tar', ['-tf', p2], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual([long, 'b']);
    expect(execFileSync('tar', ['-xOf', p2, long], { encoding: 'utf8' })).toBe('L');
  });
});
