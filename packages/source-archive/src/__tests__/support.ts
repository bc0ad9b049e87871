// Test support (not built): docker save archives from @dsv/conformance's writer, a tar builder for
// hostile archives (any header), and a minimal copy that stands in for core's copyImage.
import { pack } from 'tar-stream';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '@dsv/core/formats';
import type { ImageDestination, ImageSource } from '@dsv/core/transport';
import { buildSampleImageSync, buildTar as ustar, dockerSaveArchive, type SampleImage } from '@dsv/conformance';

export const sha = (b: Uint8Array | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
export const hex = (b: Uint8Array | string): string => sha(b).slice(7);

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dsv-sa-'));
}

export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

type Headers = Parameters<ReturnType<typeof pack>['entry']>[0];
export type TarItem = { name: string; data?: Buffer | string; header?: Partial<Headers> };

/** Builds a tar in memory with tar-stream (small test archives only). */
export async function buildTar(items: TarItem[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const it of items) {
    const data = it.data === undefined ? undefined : Buffer.from(it.data);
    await new Promise<void>((res, rej) => {
      const h: Headers = { name: it.name, mtime: new Date(0), ...(data ? { size: data.length } : {}), ...it.header };
      if (data) p.entry(h, data, (e) => (e ? rej(e) : res()));
      else p.entry(h, (e) => (e ? rej(e) : res()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A layer tar (@dsv/conformance's deterministic ustar writer), entries in the order given. */
export async function layerTar(files: Record<string, string>): Promise<Buffer> {
  return ustar(Object.entries(files).map(([name, data]) => ({ name, data })));
}

export function configFor(layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Labels: { a: 'b' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, ...extra,
  }));
}

export interface LegacyImage { config: Buffer; layers: Buffer[]; tags: string[]; gzip?: boolean }

/** The image as @dsv/conformance's builder makes it, with these exact config bytes and layer tars. */
function sample(img: LegacyImage, format: 'docker' | 'oci'): SampleImage {
  return buildSampleImageSync({ format, layers: img.layers, compression: img.gzip ? 'gzip' : 'none', rawConfig: img.config, manifestIndent: 0 });
}

/** A legacy `docker save` archive as dockerd 20.10 writes it (@dsv/conformance's writer). */
export async function legacyArchive(images: LegacyImage[], extra: TarItem[] = []): Promise<Buffer> {
  return dockerSaveArchive(images.map((img) => ({ image: sample(img, 'docker'), tags: img.tags })), {
    extra: extra.map((it) => ({ name: it.name, data: it.data, ...(it.header?.type === 'directory' ? { type: 'directory' as const } : {}) })),
  });
}

/** The Docker 25+ layout: OCI blobs + index.json beside manifest.json. */
export async function ociSaveArchive(images: LegacyImage[]): Promise<Buffer> {
  return dockerSaveArchive(images.map((img) => ({ image: sample(img, 'oci'), tags: img.tags })), { layout: 'oci' });
}

export function writeTemp(data: Buffer, name = 'a.tar'): string {
  const p = join(tempDir(), name);
  writeFileSync(p, data);
  return p;
}

export async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Adds a fake signature label: what a signer does to a config, good enough to exercise destinations. */
export function fakeSign(config: Uint8Array): Buffer {
  const doc = JSON.parse(Buffer.from(config).toString());
  doc.config ??= {};
  doc.config.Labels = { ...(doc.config.Labels ?? {}), signatures: '[{"digest": "sha256:00", "signature": "test"}]' };
  return Buffer.from(JSON.stringify(doc));
}

/** Minimal stand-in for core's copyImage: copies one image, optionally replacing its config. */
export async function simpleCopy(src: ImageSource, dest: ImageDestination, mutate?: (config: Uint8Array) => Uint8Array): Promise<{ manifest: Buffer; config: Descriptor }> {
  try {
    const { bytes, mediaType } = await src.getManifest();
    const doc = JSON.parse(Buffer.from(bytes).toString());
    for (const l of doc.layers as Descriptor[]) {
      if (!(await dest.hasBlob(l))) await dest.putBlob(l, await src.getBlob(l));
    }
    let config = await readAll(await src.getBlob(doc.config));
    if (mutate) config = Buffer.from(mutate(config));
    const cd: Descriptor = { ...doc.config, digest: sha(config), size: config.length };
    if (!(await dest.hasBlob(cd))) {
      const { Readable } = await import('node:stream');
      await dest.putBlob(cd, Readable.from([config]));
    }
    doc.config = cd;
    const out = mutate ? Buffer.from(JSON.stringify(doc)) : Buffer.from(bytes);
    await dest.putManifest(out, mediaType);
    await dest.commit();
    return { manifest: out, config: cd };
  } finally {
    await dest.close();
    await src.close();
  }
}
