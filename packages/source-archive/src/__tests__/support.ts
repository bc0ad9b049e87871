// Test support (not built): tar builders and a minimal copy that stands in for core's copyImage.
import { pack } from 'tar-stream';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ImageDestination, ImageSource } from '@dsv/core';

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

export async function layerTar(files: Record<string, string>): Promise<Buffer> {
  return buildTar(Object.entries(files).map(([name, data]) => ({ name, data })));
}

export function configFor(layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Labels: { a: 'b' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, ...extra,
  }));
}

export interface LegacyImage { config: Buffer; layers: Buffer[]; tags: string[]; gzip?: boolean }

/** A legacy `docker save` archive as dockerd 20.10 writes it. */
export async function legacyArchive(images: LegacyImage[], extra: TarItem[] = []): Promise<Buffer> {
  const items: TarItem[] = [];
  const manifest: unknown[] = [];
  const repos: Record<string, Record<string, string>> = {};
  const seen = new Set<string>();
  for (const img of images) {
    const layerPaths: string[] = [];
    for (const l of img.layers) {
      const id = hex(Buffer.concat([Buffer.from(hex(img.config)), l]));
      const data = img.gzip ? gzipSync(l) : l;
      if (!seen.has(id)) {
        seen.add(id);
        items.push({ name: `${id}/`, header: { type: 'directory' } }, { name: `${id}/VERSION`, data: '1.0' }, { name: `${id}/json`, data: `{"id":"${id}"}` }, { name: `${id}/layer.tar`, data });
      }
      layerPaths.push(`${id}/layer.tar`);
    }
    const cn = `${hex(img.config)}.json`;
    if (!seen.has(cn)) { seen.add(cn); items.push({ name: cn, data: img.config }); }
    manifest.push({ Config: cn, RepoTags: img.tags, Layers: layerPaths });
    for (const t of img.tags) {
      const i = t.lastIndexOf(':');
      (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = layerPaths[layerPaths.length - 1]!.slice(0, 64);
    }
  }
  items.push(...extra, { name: 'manifest.json', data: JSON.stringify(manifest) }, { name: 'repositories', data: JSON.stringify(repos) });
  return buildTar(items);
}

/** The Docker 25+ layout: OCI blobs + index.json beside manifest.json. */
export async function ociSaveArchive(images: LegacyImage[]): Promise<Buffer> {
  const blobs = new Map<string, Buffer>();
  const manifest: unknown[] = [];
  const index: { schemaVersion: number; mediaType: string; manifests: unknown[] } = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
  for (const img of images) {
    for (const l of img.layers) blobs.set(hex(l), l);
    blobs.set(hex(img.config), img.config);
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(img.config), size: img.config.length },
      layers: img.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
    }));
    blobs.set(hex(m), m);
    for (const t of img.tags) {
      const tag = t.slice(t.lastIndexOf(':') + 1);
      index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m), size: m.length, annotations: { 'io.containerd.image.name': `docker.io/library/${t}`, 'org.opencontainers.image.ref.name': tag } });
    }
    manifest.push({ Config: `blobs/sha256/${hex(img.config)}`, RepoTags: img.tags, Layers: img.layers.map((l) => `blobs/sha256/${hex(l)}`) });
  }
  const items: TarItem[] = [{ name: 'blobs/', header: { type: 'directory' } }, { name: 'blobs/sha256/', header: { type: 'directory' } }];
  for (const [h, b] of blobs) items.push({ name: `blobs/sha256/${h}`, data: b });
  items.push({ name: 'index.json', data: JSON.stringify(index) }, { name: 'manifest.json', data: JSON.stringify(manifest) }, { name: 'oci-layout', data: '{"imageLayoutVersion": "1.0.0"}' });
  return buildTar(items);
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
