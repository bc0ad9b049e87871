/**
 * The bundle file: one tar that is at once a `docker save` archive (manifest.json, repositories; the
 * entries point at `blobs/sha256/<hex>` as Docker 25+ writes them) and an OCI image layout (oci-layout,
 * index.json, blobs/sha256/…, images under their full reference names, cosign `.sig` and referrers tags
 * beside them), plus `dsv-bundle/`: manifest.json (images, digests, signatures, trust files), simple
 * signatures under signatures/simple/HOST/REPO@sha256=HEX/signature-N, trust/ and policy.json.
 * Written and read by streaming, one file at a time.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { DsvError } from '@dsv/core/formats';

/** The directory of dsv's own part of a bundle. */
export const BUNDLE_DIR = 'dsv-bundle';
export const BUNDLE_MANIFEST = `${BUNDLE_DIR}/manifest.json`;
export const BUNDLE_POLICY = `${BUNDLE_DIR}/policy.json`;
export const BUNDLE_SCHEMA = 'dsv-bundle/v1';

export type TrustType = 'gpg' | 'pki' | 'cosign';

export interface BundleImage {
  /** The image as given to `bundle create`. */
  source: string;
  /** The registry reference its signatures name (host/repo:tag or host/repo@digest). */
  reference: string;
  /** Its reference name in the OCI layout (org.opencontainers.image.ref.name) — the same string. */
  name: string;
  digest: string;
  mediaType: string;
  /** The manifests whose signatures are carried (the top one, and every image of an index). */
  manifests: string[];
  signatures: {
    /** Simple signature files, relative to the bundle root. */
    simple: { manifestDigest: string; file: string }[];
    cosign: number;
    referrers: number;
  };
  /** The single-platform manifest `docker load` loads (an index: the chosen platform's). */
  dockerLoad?: { manifestDigest: string; platform?: string };
}

export interface BundleManifest {
  schema: typeof BUNDLE_SCHEMA;
  created: string;
  creator: string;
  images: BundleImage[];
  trust: { type: TrustType; file: string; from: string }[];
  /** The bundled policy (relative to the bundle root), when one was given. */
  policy: string | null;
}

/** Every regular file under `dir`, as posix paths relative to it, sorted. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/** Writes every file of `dir` into a tar at `out` (temp file + rename; nothing at `out` on failure). */
export async function writeTar(dir: string, out: string, first: string[] = []): Promise<number> {
  const files = await filesUnder(dir);
  const ordered = [...first.filter((f) => files.includes(f)), ...files.filter((f) => !first.includes(f))];
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  const p = pack();
  const written = pipeline(p, createWriteStream(tmp, { mode: 0o644 }));
  try {
    for (const name of ordered) {
      const path = join(dir, name);
      const { size } = await stat(path);
      const entry = p.entry({ name, size, mode: 0o644, mtime: new Date(0), type: 'file' });
      await pipeline(createReadStream(path), entry);
    }
    p.finalize();
    await written;
    await rename(tmp, out);
  } catch (e) {
    p.destroy();
    await written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  return ordered.length;
}

/** Extracts a bundle into `dir`: regular files and directories only, every name inside `dir`. */
export async function extractTar(file: string, dir: string): Promise<void> {
  const root = resolve(dir);
  const x = extract();
  x.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\/+/, '');
    const target = resolve(root, name);
    const fail = (why: string) => {
      stream.resume();
      x.destroy(new DsvError('ArchiveInvalid', `${file}: entry "${header.name}" ${why}`));
    };
    if (header.type === 'directory') {
      stream.resume();
      next();
      return;
    }
    if (header.type !== 'file') return fail(`is a ${header.type}; a bundle holds regular files only`);
    if (!name || target === root || !target.startsWith(root + sep)) return fail('points outside the bundle');
    mkdir(dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target, { flags: 'wx', mode: 0o600 })))
      .then(() => next(), (e: NodeJS.ErrnoException) => fail(e.code === 'EEXIST' ? 'appears twice' : `cannot be written: ${e.message}`));
  });
  try {
    await pipeline(createReadStream(file), x);
  } catch (e) {
    if (e instanceof DsvError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new DsvError('NotFound', `${file}: no such file`);
    throw new DsvError('ArchiveInvalid', `${file}: not a readable tar: ${err.message}`, undefined, { cause: e });
  }
}

/** `host/repo@sha256=hex` directory of a simple signature under signatures/simple (as a lookaside store). */
export function simpleSignatureDir(reference: string, manifestDigest: string): string {
  const at = reference.indexOf('@');
  let repo = at >= 0 ? reference.slice(0, at) : reference;
  const colon = repo.lastIndexOf(':');
  if (colon > repo.lastIndexOf('/')) repo = repo.slice(0, colon);
  return `${BUNDLE_DIR}/signatures/simple/${repo}@${manifestDigest.replace(':', '=')}`;
}

export const relPosix = (from: string, to: string) => relative(from, to).split(sep).join('/');
