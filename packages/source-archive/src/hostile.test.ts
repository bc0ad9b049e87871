// Hostile and broken archives: a clear ArchiveInvalid naming the entry, and nothing written.
import { describe, expect, test } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { DsvError } from '@dsv/core/formats';
import { dockerArchiveTransport, ociArchiveTransport, scanDockerArchiveStream } from './index.js';
import { buildTar, configFor, hex, layerTar, legacyArchive, writeTemp } from './__tests__/support.js';

async function base() {
  const l = await layerTar({ 'a.txt': 'hello\n' });
  const c = configFor([l]);
  return { l, c, cn: `${hex(c)}.json` };
}

function manifestJson(cn: string, layers: string[]) {
  return JSON.stringify([{ Config: cn, RepoTags: ['h:1'], Layers: layers }]);
}

async function expectInvalid(data: Buffer, pattern: RegExp, code = 'ArchiveInvalid') {
  const path = writeTemp(data);
  const before = readdirSync(dirname(path));
  const e1 = await dockerArchiveTransport.parseReference(path).newSource().catch((e) => e);
  expect(e1).toBeInstanceOf(DsvError);
  expect(e1.code).toBe(code);
  expect(e1.message).toMatch(pattern);
  expect(e1.message.split('\n')).toHaveLength(1);
  const e2 = await dockerArchiveTransport.parseReference(`${path}:h:2`).newDestination().catch((e) => e);
  expect(e2).toBeInstanceOf(DsvError);
  expect(e2.code).toBe(code);
  expect(readFileSync(path).equals(data)).toBe(true);
  expect(readdirSync(dirname(path))).toEqual(before);
  // the single-pass reader agrees (same archive, as a stream)
  const e3 = await scanDockerArchiveStream(Readable.from([data])).catch((e) => e);
  expect(e3).toBeInstanceOf(DsvError);
  return { e1, e3 };
}

describe('hostile docker archives', () => {
  test('entry names with "..", absolute paths, backslashes', async () => {
    const { l, c } = await base();
    for (const [bad, re] of [['../evil', /"\.\.\/evil".*"\.\."/], ['x/../../evil', /contains "\.\."/], ['/etc/evil', /"\/etc\/evil".*absolute/], ['a\\b', /"a\\b".*backslash/]] as const) {
      const tar = await legacyArchive([{ config: c, layers: [l], tags: ['h:1'] }], [{ name: bad, data: 'x' }]);
      await expectInvalid(tar, re);
    }
  });

  test('symlinks and hard links used as layer or config files, link cycles', async () => {
    const { l, c, cn } = await base();
    const sym = await buildTar([
      { name: 'real.tar', data: l }, { name: 'l/layer.tar', header: { type: 'symlink', linkname: '../real.tar' } },
      { name: cn, data: c }, { name: 'manifest.json', data: manifestJson(cn, ['l/layer.tar']) },
    ]);
    await expectInvalid(sym, /layer "l\/layer\.tar" is a symbolic link/);
    const hard = await buildTar([
      { name: 'l.tar', data: l }, { name: 'c.json', data: c }, { name: cn, header: { type: 'link', linkname: 'c.json' } },
      { name: 'manifest.json', data: manifestJson(cn, ['l.tar']) },
    ]);
    await expectInvalid(hard, new RegExp(`config "${cn}" is a hard link`));
    const cycle = await buildTar([
      { name: 'a.tar', header: { type: 'symlink', linkname: 'b.tar' } }, { name: 'b.tar', header: { type: 'symlink', linkname: 'a.tar' } },
      { name: cn, data: c }, { name: 'manifest.json', data: manifestJson(cn, ['a.tar']) },
    ]);
    await expectInvalid(cycle, /"a\.tar" is a symbolic link \(to "b\.tar"\); links are not followed/);
    // manifest.json itself as a symlink
    const mj = await buildTar([
      { name: 'l.tar', data: l }, { name: cn, data: c }, { name: 'm.json', data: manifestJson(cn, ['l.tar']) },
      { name: 'manifest.json', header: { type: 'symlink', linkname: 'm.json' } },
    ]);
    await expectInvalid(mj, /manifest\.json.*symbolic link/);
  });

  test('duplicate names', async () => {
    const { l, c, cn } = await base();
    const dup = await buildTar([
      { name: 'l.tar', data: l }, { name: cn, data: c }, { name: 'manifest.json', data: manifestJson(cn, ['l.tar']) },
      { name: './l.tar', data: 'other' },
    ]);
    await expectInvalid(dup, /duplicate tar entry "l\.tar"/);
  });

  test('manifest.json over 1 MiB, missing layers, missing config', async () => {
    const { l, c, cn } = await base();
    const huge = await buildTar([{ name: 'l.tar', data: l }, { name: cn, data: c }, { name: 'manifest.json', data: `${manifestJson(cn, ['l.tar'])}${' '.repeat(1024 * 1024)}` }]);
    await expectInvalid(huge, /manifest\.json.*over the 1048576-byte limit/);
    const missing = await buildTar([{ name: cn, data: c }, { name: 'manifest.json', data: manifestJson(cn, ['gone/layer.tar']) }]);
    await expectInvalid(missing, /layer "gone\/layer\.tar".*missing/);
    const noConfig = await buildTar([{ name: 'l.tar', data: l }, { name: 'manifest.json', data: manifestJson(cn, ['l.tar']) }]);
    await expectInvalid(noConfig, new RegExp(`config "${cn}".*missing`));
  });

  test('truncated tars and impossible sizes', async () => {
    const { l, c } = await base();
    const good = await legacyArchive([{ config: c, layers: [l], tags: ['h:1'] }]);
    // cut inside the first layer's data
    await expectInvalid(good.subarray(0, 512 * 8 + 100), /truncated/);
    // cut inside a header
    await expectInvalid(good.subarray(0, 512 * 3 + 100), /truncated/);
    // cut exactly at an entry boundary (before manifest.json): no end-of-archive marker
    const { TarIndex } = await import('./index.js');
    const idx = await TarIndex.open(writeTemp(good));
    const cut = idx.get('manifest.json')!.headerOffset;
    const e = await TarIndex.open(writeTemp(good.subarray(0, cut))).catch((x) => x);
    expect(e).toMatchObject({ code: 'ArchiveInvalid', message: expect.stringContaining('no end-of-archive marker') });
    // a PAX size far larger than the file
    const pax = await buildTar([{ name: 'big', data: 'x', header: { pax: { size: '99999999999999' } } as never }]);
    const { e1 } = await expectInvalid(pax, /truncated: tar entry "big" declares 99999999999999 bytes/);
    expect(e1.details.entry).toBe('big');
    // not a tar at all
    await expectInvalid(Buffer.alloc(2048, 0x41), /bad tar header checksum/);
  });

  test('oci-archive: hostile names are refused too', async () => {
    const tar = await buildTar([{ name: 'oci-layout', data: '{}' }, { name: 'index.json', data: '{"manifests":[]}' }, { name: 'blobs/../../x', data: 'x' }]);
    const e = await ociArchiveTransport.parseReference(writeTemp(tar)).newSource().catch((x) => x);
    expect(e).toMatchObject({ code: 'ArchiveInvalid' });
    expect(e.message).toContain('blobs/../../x');
  });
});
