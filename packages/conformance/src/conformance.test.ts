// The kit itself: the builder is deterministic and its blobs decode to the diff_ids it claims (zstd
// raw-block frames through core's decoder, the real zstd tool when installed), long names survive the
// tar writer, and runSuite reports passes, failures and skips without a runner.
import { execFileSync, spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decompressor, digestOf } from '@dsv/core/formats';
import { buildSampleImageSync, buildSampleIndex, buildTar, noise, runSuite, zstdRawFrame, type SampleImageOptions, type Suite } from './index.js';

async function inflate(bytes: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of Readable.from([bytes]).pipe(decompressor('auto'))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('sample images', () => {
  const opts: SampleImageOptions = { layers: [{ 'etc/': '', 'etc/a': 'a\n' }, { 'big.bin': noise(300_000, 'x') }], labels: { k: 'v' } };

  it('the same options give the same bytes', () => {
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const a = buildSampleImageSync({ ...opts, compression });
      const b = buildSampleImageSync({ ...opts, compression });
      expect(a.manifestDigest).toBe(b.manifestDigest);
      expect(a.layers.map((l, i) => l.bytes.equals(b.layers[i]!.bytes))).toEqual([true, true]);
    }
  });

  it('every layer decodes to the diff_id in the config', async () => {
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const img = buildSampleImageSync({ ...opts, compression, format: 'oci' });
      const config = JSON.parse(img.configBytes.toString());
      for (const [i, l] of img.layers.entries()) {
        expect(l.descriptor.digest).toBe(digestOf(l.bytes));
        expect(digestOf(await inflate(l.bytes))).toBe(config.rootfs.diff_ids[i]);
      }
    }
  });

  it('zstd raw-block frames are what the zstd tool decodes (also empty and multi-block)', () => {
    if (spawnSync('zstd', ['--version']).status !== 0) return;
    for (const data of [Buffer.alloc(0), Buffer.from('hello'), noise(400_000, 'z')]) {
      expect(execFileSync('zstd', ['-d', '-q', '-c'], { input: zstdRawFrame(data), maxBuffer: 1 << 24 }).equals(data)).toBe(true);
    }
  });

  it('long names go in the ustar prefix or a PAX record, and tar reads them back', () => {
    if (spawnSync('tar', ['--version']).status !== 0) return;
    const deep = `${'d'.repeat(90)}/${'e'.repeat(90)}/file.txt`;
    const flat = 'f'.repeat(150);
    const listing = execFileSync('tar', ['-t'], { input: buildTar([{ name: deep, data: 'x' }, { name: flat, data: 'y' }]) }).toString();
    expect(listing.split('\n').filter(Boolean)).toEqual([deep, flat]);
  });

  it('an index lists each platform image', () => {
    const images = ['linux/amd64', 'linux/arm64/v8'].map((platform) => buildSampleImageSync({ platform, layers: [{ a: platform }], format: 'oci' }));
    const index = buildSampleIndex(images);
    expect(JSON.parse(index.bytes.toString()).manifests.map((m: { platform: unknown }) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
  });
});

describe('runSuite', () => {
  it('reports passed, failed and skipped checks and tears down', async () => {
    let torn = false;
    const suite: Suite<number> = {
      name: 'demo',
      setup: async () => 1,
      teardown: async () => {
        torn = true;
      },
      checks: [
        { name: 'passes', run: async () => {} },
        { name: 'fails', run: async () => { throw new Error('boom'); } },
      ],
      skipped: { 'not here': 'no such feature' },
    };
    const r = await runSuite(suite);
    expect(r.ok).toBe(false);
    expect(r.results.map((x) => [x.name, x.status, x.message])).toEqual([
      ['passes', 'passed', undefined],
      ['fails', 'failed', 'boom'],
      ['not here', 'skipped', 'no such feature'],
    ]);
    expect(torn).toBe(true);
  });
});
