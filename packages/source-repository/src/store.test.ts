import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync, rmSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { isDsvError, DigestingStream } from '@dsv/core/formats';
import { dockerStorageTransport, verifyStoreImage, chainIds } from './index.js';
import { buildStore, sha256, tempDir, type FakeLayer } from './__tests__/fixtures.js';

const layers: FakeLayer[] = [
  { files: [{ name: './', type: 'directory' }, { name: './etc/', type: 'directory' }, { name: './etc/os-release', content: 'ID=test\n' }, { name: './bin/sh', content: Buffer.alloc(70_000, 1) }] },
  { files: [{ name: './etc/', type: 'directory' }, { name: './etc/.wh.os-release', content: '' }, { name: './etc/hosts', content: '127.0.0.1 localhost\n' }] },
  { files: [{ name: './app/', type: 'directory' }, { name: './app/run.sh', content: '#!/bin/sh\necho hi\n' }, { name: './app/link', type: 'symlink', linkname: 'run.sh' }] },
];

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('chain ids', () => {
  test('chain(n) = sha256(chain(n-1) + " " + diff_id(n))', () => {
    const a = sha256('a');
    const b = sha256('b');
    expect(chainIds([a, b])).toEqual([a, sha256(`${a} ${b}`)]);
  });
});

describe.each(['overlay2', 'aufs', 'vfs', 'btrfs'] as const)('docker-storage: on a %s store', (driver) => {
  test('serves a v2s2 manifest whose config is the imagedb file and whose layers rebuild to their diff_ids', async () => {
    const root = tempDir();
    const img = await buildStore(root, driver, 'demo:1', layers);
    const src = await dockerStorageTransport.parseReference('demo:1').newSource({ dockerRoot: root });
    const { bytes, mediaType } = await src.getManifest();
    expect(mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const m = JSON.parse(Buffer.from(bytes).toString());
    expect(m.config.digest).toBe(img.id);
    expect(m.config.size).toBe(img.config.length);
    expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual(img.diffIds);
    expect(m.layers.map((l: { size: number }) => l.size)).toEqual(img.tars.map((t) => t.length));
    expect(m.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar')).toBe(true);
    const cfg = await drain(await src.getBlob(m.config));
    expect(cfg.equals(img.config)).toBe(true);
    for (const [i, l] of m.layers.entries()) {
      const tar = await drain((await src.getBlob(l)).pipe(new DigestingStream({ digest: l.digest, size: l.size })));
      expect(tar.equals(img.tars[i]!)).toBe(true);
    }
    await src.close();
    const res = await verifyStoreImage(root, 'demo:1');
    expect(res.id).toBe(img.id);
    expect(res.driver).toBe(driver);
    expect(res.layers.map((l) => l.chainId)).toEqual(img.chainIds);
  });

  test('a changed file fails verification naming the layer and the file', async () => {
    const root = tempDir();
    const img = await buildStore(root, driver, 'demo:1', layers);
    const dir = {
      overlay2: join(root, 'overlay2', img.cacheIds[2]!, 'diff'),
      aufs: join(root, 'aufs', 'diff', img.cacheIds[2]!),
      vfs: join(root, 'vfs', 'dir', img.cacheIds[2]!),
      btrfs: join(root, 'btrfs', 'subvolumes', img.cacheIds[2]!),
    }[driver];
    const p = join(dir, 'app', 'run.sh');
    const b = readFileSync(p);
    b[3] ^= 1;
    writeFileSync(p, b);
    const err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain(`layer 2 (${img.diffIds[2]})`);
    expect(err.message).toContain('app/run.sh');
    expect(err.details).toMatchObject({ layer: 2, file: 'app/run.sh', diffId: img.diffIds[2] });
  });
});

describe('docker-storage: store problems are clear errors', () => {
  test('references: by id, id prefix, docker.io/library normalisation, unknown names', async () => {
    const root = tempDir();
    const img = await buildStore(root, 'overlay2', 'busybox:latest', layers.slice(0, 1));
    for (const r of [img.id, img.id.slice(7, 19), 'busybox', 'docker.io/library/busybox:latest', 'library/busybox']) {
      const src = await dockerStorageTransport.parseReference(r).newSource({ dockerRoot: root });
      const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
      expect(m.config.digest, r).toBe(img.id);
    }
    const err = await dockerStorageTransport.parseReference('nope:1').newSource({ dockerRoot: root }).catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('nope:1');
    expect(() => dockerStorageTransport.parseReference('Bad Name')).toThrow(/ReferenceInvalid|white space/);
    // [driver@root] prefix
    const src = await dockerStorageTransport.parseReference(`[overlay2@${root}]busybox`).newSource({ dockerRoot: '/nonexistent' });
    expect(JSON.parse(Buffer.from((await src.getManifest()).bytes).toString()).config.digest).toBe(img.id);
    expect(dockerStorageTransport.parseReference(`[overlay2@${root}]busybox`).toString()).toBe(`docker-storage:[overlay2@${root}]busybox`);
  });

  test('is read-only', async () => {
    const err = await dockerStorageTransport.parseReference('x:1').newDestination().catch((e) => e);
    expect(isDsvError(err, 'Unsupported')).toBe(true);
  });

  test('missing root, changed config, inconsistent diff file, missing layerdb or layer directory', async () => {
    let err = await verifyStoreImage('/nonexistent-dsv-root', 'x:1').catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);

    const root = tempDir();
    const img = await buildStore(root, 'overlay2', 'demo:1', layers);
    const cfgPath = join(root, 'image', 'overlay2', 'imagedb', 'content', 'sha256', img.id.slice(7));
    writeFileSync(cfgPath, Buffer.concat([img.config, Buffer.from(' ')]));
    err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain(cfgPath);
    writeFileSync(cfgPath, img.config);

    const l2 = join(root, 'image', 'overlay2', 'layerdb', 'sha256', img.chainIds[1]!.slice(7));
    writeFileSync(join(l2, 'diff'), img.diffIds[0]!);
    err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'ArchiveInvalid')).toBe(true);
    expect(err.message).toContain('layer 1');
    writeFileSync(join(l2, 'diff'), img.diffIds[1]!);

    renameSync(l2, `${l2}.gone`);
    err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain(l2);
    renameSync(`${l2}.gone`, l2);

    rmSync(join(root, 'overlay2', img.cacheIds[0]!), { recursive: true });
    err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('layer 0');
    expect(err.message).toContain(join(root, 'overlay2', img.cacheIds[0]!, 'diff'));
  });

  test('a changed tar-split segment (header) fails as a layer digest mismatch', async () => {
    const root = tempDir();
    const img = await buildStore(root, 'vfs', 'demo:1', layers.slice(0, 1));
    const tsPath = join(root, 'image', 'vfs', 'layerdb', 'sha256', img.chainIds[0]!.slice(7), 'tar-split.json.gz');
    const { gunzipSync, gzipSync } = await import('node:zlib');
    const lines = gunzipSync(readFileSync(tsPath)).toString().split('\n');
    const seg = JSON.parse(lines[0]!);
    const bytes = Buffer.from(seg.payload, 'base64');
    bytes[108] = 0x31; // uid field
    seg.payload = bytes.toString('base64');
    lines[0] = JSON.stringify(seg);
    writeFileSync(tsPath, gzipSync(lines.join('\n')));
    const err = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain('layer 0');
  });

  test('the containerd image store is refused pointing at docker-daemon:', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'containerd', 'daemon'), { recursive: true });
    const err = await verifyStoreImage(root, 'x:1').catch((e) => e);
    expect(isDsvError(err, 'Unsupported')).toBe(true);
    expect(err.message).toContain('docker-daemon:');
  });

  test('unsupported drivers are refused pointing at docker-daemon:', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'image', 'zfs', 'imagedb', 'content', 'sha256'), { recursive: true });
    const config = Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}');
    const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    writeFileSync(join(root, 'image', 'zfs', 'imagedb', 'content', 'sha256', id.slice(7)), config);
    const err = await verifyStoreImage(root, id).catch((e) => e);
    expect(isDsvError(err, 'Unsupported')).toBe(true);
    expect(err.message).toContain('docker-daemon:');
  });

  test('devicemapper: refused with Unsupported when the thin pool cannot be used', async () => {
    const root = tempDir();
    const img = await buildStore(root, 'devicemapper', 'demo:1', layers.slice(0, 1));
    const src = await dockerStorageTransport.parseReference('demo:1').newSource({ dockerRoot: root });
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    expect(m.config.digest).toBe(img.id);
    const err = await drain(await src.getBlob(m.layers[0])).catch((e) => e);
    expect(isDsvError(err, 'Unsupported')).toBe(true);
    expect(err.message).toContain('devicemapper');
    expect(err.message).toContain('use docker-daemon: instead');
    const err2 = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err2, 'Unsupported')).toBe(true);
    // Missing device metadata is NotFound naming the path.
    rmSync(join(root, 'devicemapper', 'metadata', img.cacheIds[0]!));
    const err3 = await verifyStoreImage(root, 'demo:1').catch((e) => e);
    expect(isDsvError(err3, 'NotFound')).toBe(true);
    expect(err3.message).toContain(join(root, 'devicemapper', 'metadata', img.cacheIds[0]!));
  });
});

describe('docker-storage: layers hashed in the hashing pool (digestBlob)', () => {
  const big = (seed: number) => {
    const b = Buffer.alloc(33 * 1024 * 1024 + 123);
    for (let i = 0; i < b.length; i += 4096) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
    return b;
  };
  const bigLayers: FakeLayer[] = [
    layers[0]!,
    { files: [{ name: './data/', type: 'directory' }, { name: './data/a.bin', content: big(1) }, { name: './data/b.txt', content: 'small beside big\n' }] },
    { files: [{ name: './more/', type: 'directory' }, { name: './more/c.bin', content: big(2) }] },
  ];

  test('big layers hashed in workers and small ones here give the engine the diff_ids; a changed file is named', async () => {
    const { verifyIntegrity } = await import('@dsv/core/operations');
    const root = tempDir();
    const img = await buildStore(root, 'overlay2', 'big:1', bigLayers);
    const src = await dockerStorageTransport.parseReference('big:1').newSource({ dockerRoot: root });
    const blobs: string[] = [];
    const getBlob = src.getBlob.bind(src);
    src.getBlob = async (d) => {
      blobs.push(d.digest);
      return getBlob(d);
    };
    const report = await verifyIntegrity(src);
    expect(report.ok).toBe(true);
    expect(report.images[0]!.layers.map((l) => l.actualDiffId)).toEqual(img.diffIds);
    expect(report.images[0]!.layers.map((l) => l.actualSize)).toEqual(img.tars.map((t) => t.length));
    // The small layer is streamed here; the big ones never are.
    expect(blobs).toContain(img.diffIds[0]);
    expect(blobs).not.toContain(img.diffIds[1]);
    expect(blobs).not.toContain(img.diffIds[2]);
    const digested = await src.digestBlob!({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: img.diffIds[2]! as never, size: img.tars[2]!.length }, 'sha256');
    expect(digested.digest).toBe(img.diffIds[2]);
    expect(Buffer.from(digested.head).equals(img.tars[2]!.subarray(0, 512))).toBe(true);
    await src.close();

    const p = join(root, 'overlay2', img.cacheIds[1]!, 'diff', 'data', 'a.bin');
    const b = readFileSync(p);
    b[20_000_000] ^= 1;
    writeFileSync(p, b);
    const src2 = await dockerStorageTransport.parseReference('big:1').newSource({ dockerRoot: root });
    const bad = await verifyIntegrity(src2);
    await src2.close();
    expect(bad.ok).toBe(false);
    const error = bad.images[0]!.layers[1]!.error!;
    expect(isDsvError(error, 'DigestMismatch')).toBe(true);
    expect(error.message).toContain('data/a.bin');
    expect(bad.images[0]!.layers[2]!.error).toBeUndefined();

    writeFileSync(p, b.subarray(0, 1000));
    const src3 = await dockerStorageTransport.parseReference('big:1').newSource({ dockerRoot: root });
    const short = await verifyIntegrity(src3);
    await src3.close();
    expect(isDsvError(short.images[0]!.layers[1]!.error, 'SizeMismatch')).toBe(true);
    expect(short.images[0]!.layers[1]!.error!.message).toContain('data/a.bin');
  });
});
