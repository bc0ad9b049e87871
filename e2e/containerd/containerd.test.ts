// The containerd: transport end to end against a real containerd on a private root and socket: verify
// an imported image, copy into a new tag (seen by `ctr images ls`), a changed blob in the content store,
// registry → containerd → registry keeping the digest, namespaces kept apart, containerd not running,
// and a write lease left by a killed copy that expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyImage, verifyImage, isDsvError, type Digest, type ImageReference } from '@dsv/core';
import { buildSampleImage, buildSampleIndex, noise, ociArchive, type SampleImage, type SampleIndex } from '@dsv/conformance';
import { dockerTransport } from '@dsv/source-registry';
import { createContainerdTransport } from '@dsv/source-containerd';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { hmacSigner, hmacVerify } from '../helpers/hmac-signer.js';
import { blobPath, importArchive, startContainerd, type Containerd } from './containerd-daemon.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let c: Containerd;
let image: SampleImage;
const NAME = 'docker.io/library/app:1';

async function copy(from: ImageReference, to: ImageReference, sign = false) {
  const src = await from.newSource();
  try {
    const dest = await to.newDestination();
    try {
      return await copyImage(src, dest, sign ? { sign: { signer: hmacSigner, kind: 'sign' } } : {});
    } finally {
      await dest.close();
    }
  } finally {
    await src.close();
  }
}

async function verify(ref: ImageReference) {
  const src = await ref.newSource();
  try {
    return await verifyImage(src, hmacVerify);
  } finally {
    await src.close();
  }
}

function importSample(namespace: string, img: SampleImage | SampleIndex, name: string): void {
  const archive = join(tempDir('dsvc-arc-'), 'image.tar');
  writeFileSync(archive, ociArchive({ image: img, tag: name }));
  importArchive(c, namespace, archive);
}

beforeAll(async () => {
  c = await startContainerd();
  image = await buildSampleImage({ layers: [{ 'etc/hello.txt': 'hello\n' }, { 'bin/tool': noise(200_000, 'tool') }], compression: 'gzip', format: 'docker' });
  importSample('default', image, NAME);
});

afterAll(async () => {
  await c?.stop();
  removeTempDirs();
});

describe('containerd: transport', () => {
  it('verifies an imported image through core, and a signed copy of it in a new tag', async () => {
    const t = createContainerdTransport({ address: c.socket });
    const unsigned = await verify(t.parseReference(NAME));
    expect(unsigned.digest).toBe(image.manifestDigest);
    expect(unsigned.images[0]!.integrity.ok).toBe(true);
    expect(unsigned.failures).toEqual(['no signatures']);

    const signedRef = t.parseReference('docker.io/library/app:signed');
    const result = await copy(t.parseReference(NAME), signedRef, true);
    const listed = c.ctr('default', ['images', 'ls']);
    expect(listed).toContain('docker.io/library/app:signed');
    expect(listed).toContain(result.destinationDigest);
    const signed = await verify(signedRef);
    expect(signed.ok).toBe(true);
    expect(signed.digest).toBe(result.destinationDigest);
    // The new manifest carries the labels containerd's collector follows; no write lease is left behind.
    const content = c.ctr('default', ['content', 'ls']);
    const line = content.split('\n').find((l) => l.startsWith(result.destinationDigest))!;
    expect(line).toContain(`containerd.io/gc.ref.content.config=${result.images[0]!.configDigest}`);
    expect(line).toContain(`containerd.io/gc.ref.content.l.1=${image.layers[1]!.descriptor.digest}`);
    expect(c.ctr('default', ['leases', 'ls', '-q']).trim()).toBe('');
  });

  it('copies into a new tag that `ctr images ls` shows, and moves an existing tag', async () => {
    const t = createContainerdTransport({ address: c.socket });
    await copy(t.parseReference(NAME), t.parseReference('[default]example.com/moved:v1'));
    const other = await buildSampleImage({ layers: [{ 'x.txt': 'other\n' }], compression: 'gzip', format: 'oci' });
    importSample('default', other, 'example.com/other:v1');
    await copy(t.parseReference('example.com/other:v1'), t.parseReference('example.com/moved:v1'));
    const line = c.ctr('default', ['images', 'ls']).split('\n').find((l) => l.startsWith('example.com/moved:v1'));
    expect(line).toContain(other.manifestDigest);
  });

  it('reads, verifies and copies a multi-platform index, labelling it for the collector', async () => {
    const images = await Promise.all(
      ['linux/amd64', 'linux/arm64'].map((platform) => buildSampleImage({ layers: [{ 'p.txt': `${platform}\n` }], platform, format: 'oci', compression: 'gzip' })),
    );
    const index = buildSampleIndex(images, { format: 'oci' });
    importSample('multi', index, 'example.com/multi:1');
    const t = createContainerdTransport({ address: c.socket, namespace: 'multi' });
    const read = await verify(t.parseReference('example.com/multi:1'));
    expect(read.digest).toBe(index.digest);
    expect(read.kind).toBe('index');
    expect(read.images.map((i) => i.integrity.ok)).toEqual([true, true]);
    const result = await copy(t.parseReference('example.com/multi:1'), t.parseReference('example.com/multi:copy'), true);
    expect(result.kind).toBe('index');
    const signed = await verify(t.parseReference('example.com/multi:copy'));
    expect(signed.ok).toBe(true);
    const line = c.ctr('multi', ['content', 'ls']).split('\n').find((l) => l.startsWith(result.destinationDigest))!;
    expect(line).toContain(`containerd.io/gc.ref.content.m.0=${result.images[0]!.manifestDigest}`);
    expect(line).toContain(`containerd.io/gc.ref.content.m.1=${result.images[1]!.manifestDigest}`);
  });

  it('fails naming the blob when one byte of it changed in the content store', async () => {
    const tampered = await buildSampleImage({ layers: [{ 'a.txt': 'to be changed\n' }, { 'b.txt': noise(50_000, 'b') }], compression: 'gzip', format: 'docker' });
    importSample('tamper', tampered, 'example.com/tampered:1');
    const layer = tampered.layers[1]!.descriptor.digest;
    const file = blobPath(c, layer);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(file, bytes);
    const t = createContainerdTransport({ address: c.socket, namespace: 'tamper' });
    const result = await verify(t.parseReference('example.com/tampered:1'));
    expect(result.ok).toBe(false);
    expect(result.images[0]!.integrity.ok).toBe(false);
    expect(result.failures.join('\n')).toContain(layer);
    // A copy refuses it too.
    await expect(copy(t.parseReference('example.com/tampered:1'), t.parseReference('example.com/tampered:copy'), true)).rejects.toThrow(layer);
    expect(c.ctr('tamper', ['images', 'ls', '-q'])).not.toContain('tampered:copy');
  });

  describe('with a registry', () => {
    let reg: StartedRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ mode: 'http' });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('copies registry → containerd → registry keeping the manifest digest', async () => {
      const ctx = { insecureRegistries: [reg.host] };
      const first = dockerTransport.parseReference(`//${reg.host}/dsv/app:1`);
      const dest = await first.newDestination(ctx);
      try {
        await image.pushTo(dest);
      } finally {
        await dest.close();
      }
      const t = createContainerdTransport({ address: c.socket, namespace: 'fromreg' });
      const mid = t.parseReference(`${reg.host}/dsv/app:1`);
      const src = await first.newSource(ctx);
      const into = await mid.newDestination();
      const r1 = await copyImage(src, into).finally(async () => {
        await into.close();
        await src.close();
      });
      expect(r1.destinationDigest).toBe(image.manifestDigest);
      const back = dockerTransport.parseReference(`//${reg.host}/dsv/back:1`);
      const src2 = await mid.newSource();
      const out = await back.newDestination(ctx);
      const r2 = await copyImage(src2, out).finally(async () => {
        await out.close();
        await src2.close();
      });
      expect(r2.destinationDigest).toBe(image.manifestDigest);
      const check = await back.newSource(ctx);
      try {
        const m = await check.getManifest();
        expect(Buffer.from(m.bytes)).toEqual(image.manifestBytes);
      } finally {
        await check.close();
      }
    });
  });

  it('keeps namespaces apart', async () => {
    const a = createContainerdTransport({ address: c.socket, namespace: 'ns-a' });
    importSample('ns-a', image, 'example.com/only-in-a:1');
    const inA = await verify(a.parseReference('example.com/only-in-a:1'));
    expect(inA.images[0]!.integrity.ok).toBe(true);
    const b = createContainerdTransport({ address: c.socket, namespace: 'ns-b' });
    await expect(b.parseReference('example.com/only-in-a:1').newSource()).rejects.toMatchObject({ code: 'NotFound' });
    // The bracket form overrides the transport's namespace.
    await expect(b.parseReference('[ns-a]example.com/only-in-a:1').newSource().then((s) => s.close())).resolves.toBeUndefined();
    // A copy into ns-b is seen only there.
    await copy(a.parseReference('example.com/only-in-a:1'), b.parseReference('example.com/in-b:1'));
    expect(c.ctr('ns-b', ['images', 'ls', '-q'])).toContain('example.com/in-b:1');
    expect(c.ctr('ns-a', ['images', 'ls', '-q'])).not.toContain('example.com/in-b:1');
  });

  it('says which socket when containerd is not running', async () => {
    const socket = join(tempDir('dsvc-none-'), 'nothing.sock');
    const t = createContainerdTransport({ address: socket });
    for (const open of [() => t.parseReference(NAME).newSource(), () => t.parseReference(NAME).newDestination()]) {
      const err = await open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDsvError(err, 'Network')).toBe(true);
      expect((err as Error).message).toContain(socket);
    }
  });

  it('deletes its lease on close() without commit(), so what it wrote is collected', async () => {
    const blob = noise(30_000, 'discarded');
    const { digestOf } = await import('@dsv/core');
    const digest = digestOf(blob);
    const t = createContainerdTransport({ address: c.socket, namespace: 'discard' });
    const d = await t.parseReference('example.com/discarded:1').newDestination();
    const { Readable } = await import('node:stream');
    await d.putBlob({ mediaType: 'application/octet-stream', digest, size: blob.length }, Readable.from([blob]));
    expect(c.ctr('discard', ['leases', 'ls', '-q']).trim()).not.toBe('');
    await d.close();
    expect(c.ctr('discard', ['leases', 'ls', '-q']).trim()).toBe('');
    const deadline = Date.now() + 20_000;
    while (c.ctr('discard', ['content', 'ls', '-q']).includes(digest) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(c.ctr('discard', ['content', 'ls', '-q'])).not.toContain(digest);
    expect(c.ctr('discard', ['images', 'ls', '-q'])).not.toContain('discarded');
  });

  it('lets the lease of a killed copy expire, and its blobs with it', async () => {
    const blob = noise(100_000, 'orphan');
    const { digestOf } = await import('@dsv/core');
    const digest: Digest = digestOf(blob);
    const blobFile = join(tempDir('dsvc-orphan-'), 'blob');
    writeFileSync(blobFile, blob);
    // A separate process writes a blob under a lease that expires in 2 s, then is killed before commit.
    const script = `
      import { createReadStream } from 'node:fs';
      import { createContainerdTransport } from '@dsv/source-containerd';
      const t = createContainerdTransport({ address: ${JSON.stringify(c.socket)}, namespace: 'killed', leaseExpirySeconds: 2 });
      const d = await t.parseReference('example.com/killed:1').newDestination();
      await d.putBlob({ mediaType: 'application/octet-stream', digest: ${JSON.stringify(digest)}, size: ${blob.length} }, createReadStream(${JSON.stringify(blobFile)}));
      process.stdout.write('written\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('written') && resolve());
      child.on('exit', (code) => reject(new Error(`writer exited (${code}): ${err}`)));
    });
    child.kill('SIGKILL');
    expect(c.ctr('killed', ['leases', 'ls'])).toContain('containerd.io/gc.expire');
    expect(c.ctr('killed', ['content', 'ls', '-q'])).toContain(digest);
    await new Promise((r) => setTimeout(r, 2500));
    // Any deletion wakes the collector (the test config collects after every deletion).
    const deadline = Date.now() + 30_000;
    while (c.ctr('killed', ['leases', 'ls', '-q']).trim() !== '' && Date.now() < deadline) {
      c.ctr('killed', ['leases', 'create', '--id', 'poke']);
      c.ctr('killed', ['leases', 'delete', 'poke']);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(c.ctr('killed', ['leases', 'ls', '-q']).trim()).toBe('');
    expect(c.ctr('killed', ['content', 'ls', '-q'])).not.toContain(digest);
  });
});
