/**
 * Reading and writing the tag scheme's `sha256-<hex>.sig` attachments through core's ImageSource and
 * ImageDestination, so any transport whose references name a repository and a tag can hold them.
 */
import { Readable } from 'node:stream';
import { DsvError, digestOf, isDsvError, type Descriptor, type Digest, type ImageDestination, type ImageReference, type ImageSource, type SystemContext } from '@dsv/core';
import {
  attachmentManifest, layerOf, parseAttachmentManifest, signatureTag, MAX_LAYER_BYTES, OCI_CONFIG, OCI_MANIFEST, SIGNATURE_ANNOTATION,
  type AttachmentLayer, type CosignAttachment,
} from './attachment.js';

/** Opens tags of one repository. */
export interface TagStore {
  /** A source for `tag` (or a manifest digest, `sha256:…`), or undefined when it does not exist. */
  openSource(tag: string): Promise<ImageSource | undefined>;
  openDestination(tag: string): Promise<ImageDestination>;
}

/** `name[:tag][@digest]` → `name`. */
function repositoryOf(within: string): string {
  let s = within;
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s;
}

/** A TagStore for the repository of `ref` (docker, memory, and any transport whose `within` is `name[:tag][@digest]`). */
export function tagStoreFor(ref: ImageReference, ctx?: SystemContext): TagStore {
  const repo = repositoryOf(ref.within.startsWith('//') ? ref.within.slice(2) : ref.within);
  const refFor = (tag: string): ImageReference => ref.transport.parseReference(/^[a-z0-9]+:[0-9a-f]+$/.test(tag) ? `${repo}@${tag}` : `${repo}:${tag}`);
  return {
    async openSource(tag) {
      try {
        const src = await refFor(tag).newSource(ctx);
        return src;
      } catch (e) {
        if (isDsvError(e, 'NotFound')) return undefined;
        throw e;
      }
    },
    openDestination: (tag) => refFor(tag).newDestination(ctx),
  };
}

/** Reads a whole blob, at most `limit` bytes, and checks its digest and size. */
export async function readBlob(stream: Readable, d: { digest: string; size: number }, limit = MAX_LAYER_BYTES): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      n += b.length;
      if (n > limit || n > d.size) throw new DsvError(n > limit ? 'LimitExceeded' : 'SizeMismatch', `blob ${d.digest}: more than ${Math.min(limit, d.size)} bytes`);
      chunks.push(b);
    }
  } finally {
    stream.destroy();
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== d.size) throw new DsvError('SizeMismatch', `blob ${d.digest}: ${bytes.length} bytes, the descriptor says ${d.size}`);
  if (digestOf(bytes, d.digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== d.digest) throw new DsvError('DigestMismatch', `blob ${d.digest}: its bytes have another digest`);
  return bytes;
}

async function readManifestAt(store: TagStore, tag: string): Promise<{ src: ImageSource; layers: AttachmentLayer[] } | undefined> {
  const src = await store.openSource(tag);
  if (!src) return undefined;
  let m: { bytes: Uint8Array };
  try {
    m = await src.getManifest();
  } catch (e) {
    await src.close();
    if (isDsvError(e, 'NotFound')) return undefined;
    throw e;
  }
  try {
    return { src, layers: parseAttachmentManifest(m.bytes) };
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** The attachments in the image's `.sig` tag (none: an empty list). */
export async function readCosignSignatures(store: TagStore, manifestDigest: string): Promise<CosignAttachment[]> {
  const found = await readManifestAt(store, signatureTag(manifestDigest));
  if (!found) return [];
  try {
    const out: CosignAttachment[] = [];
    for (const l of found.layers) {
      const d: Descriptor = { mediaType: l.mediaType, digest: l.digest as Digest, size: l.size };
      const payload = await readBlob(await found.src.getBlob(d), l);
      out.push({ mediaType: l.mediaType, payload, annotations: l.annotations ?? {} });
    }
    return out;
  } finally {
    await found.src.close();
  }
}

function sameLayer(a: AttachmentLayer, b: AttachmentLayer): boolean {
  return a.digest === b.digest && a.mediaType === b.mediaType && a.annotations?.[SIGNATURE_ANNOTATION] === b.annotations?.[SIGNATURE_ANNOTATION];
}

function streamOf(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)], { objectMode: false });
}

/**
 * Appends attachments to the image's `.sig` manifest (creating it), as `cosign sign` does: an identical
 * signature already present is not added twice. Returns the new `.sig` manifest's digest, or undefined
 * when nothing changed.
 */
export async function addCosignSignatures(store: TagStore, manifestDigest: string, attachments: CosignAttachment[]): Promise<string | undefined> {
  const tag = signatureTag(manifestDigest);
  const found = await readManifestAt(store, tag);
  const layers = found ? [...found.layers] : [];
  await found?.src.close();
  const added: Array<{ layer: AttachmentLayer; payload: Uint8Array }> = [];
  for (const a of attachments) {
    const layer = layerOf(a);
    if (layers.some((l) => sameLayer(l, layer))) continue;
    layers.push(layer);
    added.push({ layer, payload: a.payload });
  }
  if (added.length === 0) return undefined;
  const { manifest, config } = attachmentManifest(layers);
  parseAttachmentManifest(manifest); // our own limits hold for what we write
  const dest = await store.openDestination(tag);
  try {
    if (!dest.supportedManifestMediaTypes().includes(OCI_MANIFEST)) throw new DsvError('Unsupported', `${dest.reference.toString()} cannot store OCI manifests`);
    const blobs = [...added.map((a) => ({ mediaType: a.layer.mediaType, digest: a.layer.digest as Digest, size: a.layer.size, bytes: a.payload })),
      { mediaType: OCI_CONFIG, digest: digestOf(config), size: config.length, bytes: config }];
    for (const b of blobs) {
      const d: Descriptor = { mediaType: b.mediaType, digest: b.digest, size: b.size };
      if (!(await dest.hasBlob(d))) await dest.putBlob(d, streamOf(b.bytes));
    }
    await dest.putManifest(manifest, OCI_MANIFEST);
    await dest.commit();
  } finally {
    await dest.close();
  }
  return digestOf(manifest);
}
