// Writes sample images where file-based transports read them: an OCI image layout (directory or tar,
// as oci: / oci-archive: read them) and a `docker save` archive (legacy layout, or the Docker 25+
// layout that adds OCI blobs and index.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MediaTypes, digestOf, type Descriptor } from '@dsv/core/formats';
import type { SampleImage, SampleIndex } from './sample-image.js';
import { buildTar, type TarEntry } from './tar.js';

export interface TaggedSample {
  image: SampleImage | SampleIndex;
  /** The ref name (`org.opencontainers.image.ref.name`). */
  tag: string;
  /** More annotations on its index.json entry. */
  annotations?: Record<string, string>;
}

const hex = (d: string) => d.slice(d.indexOf(':') + 1);
const isIndex = (x: SampleImage | SampleIndex): x is SampleIndex => 'images' in x;

/** path (relative, `/`-separated) -> bytes of an OCI image layout holding `entries`. */
export function ociLayoutFiles(entries: TaggedSample[]): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const blob = (digest: string, bytes: Buffer) => files.set(`blobs/sha256/${hex(digest)}`, bytes);
  const manifests: Descriptor[] = [];
  for (const { image, tag, annotations } of entries) {
    const images = isIndex(image) ? image.images : [image];
    for (const i of images) {
      for (const b of i.blobs()) blob(b.descriptor.digest, b.bytes);
      blob(i.manifestDigest, i.manifestBytes);
    }
    if (isIndex(image)) blob(image.digest, image.bytes);
    const d = isIndex(image) ? image.descriptor : { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifestBytes.length };
    manifests.push({ ...d, annotations: { ...annotations, 'org.opencontainers.image.ref.name': tag } });
  }
  files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests })));
  return files;
}

function writeFiles(dir: string, files: Map<string, Buffer>): string {
  for (const [path, bytes] of files) {
    const full = join(dir, ...path.split('/'));
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, bytes);
  }
  return dir;
}

function tarOfFiles(files: Map<string, Buffer>, extra: TarEntry[] = [], last: string[] = []): Buffer {
  const dirs = new Set<string>();
  for (const p of files.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const entries: TarEntry[] = [...dirs].sort().map((name) => ({ name, type: 'directory' }));
  for (const [name, data] of files) if (!last.includes(name)) entries.push({ name, data });
  entries.push(...extra);
  for (const name of last) if (files.has(name)) entries.push({ name, data: files.get(name) });
  return buildTar(entries);
}

/** Writes an OCI image layout into `dir` (created if needed); returns `dir`. */
export function writeOciLayout(dir: string, entries: TaggedSample[] | TaggedSample): string {
  return writeFiles(dir, ociLayoutFiles(Array.isArray(entries) ? entries : [entries]));
}

/** An OCI layout as a tar (what oci-archive: reads). */
export function ociArchive(entries: TaggedSample[] | TaggedSample): Buffer {
  return tarOfFiles(ociLayoutFiles(Array.isArray(entries) ? entries : [entries]));
}

export interface DockerSaveOptions {
  /** 'legacy' (default): `<id>/layer.tar`, `<config>.json`, repositories; 'oci': the Docker 25+ layout. */
  layout?: 'legacy' | 'oci';
  /** Entries written just before manifest.json (e.g. hostile names, for tests of readers). */
  extra?: TarEntry[];
}

/** `repo:tag` as containerd names it (`docker.io/library/` added where Docker would). */
export function fullImageName(name: string): string {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) return name;
  return slash < 0 ? `docker.io/library/${name}` : `docker.io/${name}`;
}

/** A `docker save` archive of single-platform images, each with its `repo:tag` names. */
export function dockerSaveArchive(entries: Array<{ image: SampleImage; tags: string[] }>, opts: DockerSaveOptions = {}): Buffer {
  const files = new Map<string, Buffer>();
  const manifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  if (opts.layout === 'oci') {
    const tagged = entries.flatMap(({ image, tags }) =>
      tags.map((t) => ({ image, tag: t.slice(t.lastIndexOf(':') + 1), annotations: { 'io.containerd.image.name': fullImageName(t) } })),
    );
    for (const [path, bytes] of ociLayoutFiles(tagged)) files.set(path, bytes);
  }
  for (const { image, tags } of entries) {
    let config: string;
    let layers: string[];
    let top = hex(image.config.digest);
    if (opts.layout === 'oci') {
      config = `blobs/sha256/${hex(image.config.digest)}`;
      layers = image.layers.map((l) => `blobs/sha256/${hex(l.descriptor.digest)}`);
    } else {
      config = `${hex(image.config.digest)}.json`;
      files.set(config, image.configBytes);
      let parent = '';
      layers = image.layers.map((l) => {
        const id = hex(digestOf(`${parent} ${l.descriptor.digest} ${image.config.digest}`));
        files.set(`${id}/VERSION`, Buffer.from('1.0'));
        files.set(`${id}/json`, Buffer.from(JSON.stringify(parent ? { id, parent } : { id })));
        files.set(`${id}/layer.tar`, l.bytes);
        parent = id;
        return `${id}/layer.tar`;
      });
      if (parent) top = parent;
    }
    manifest.push({ Config: config, RepoTags: tags, Layers: layers });
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top;
    }
  }
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  if (opts.layout !== 'oci') files.set('repositories', Buffer.from(JSON.stringify(repositories)));
  return tarOfFiles(files, opts.extra, ['manifest.json', 'repositories']);
}
