/**
 * cosign v3's bundle scheme, the storage side: an OCI 1.1 referrer manifest (subject = the image) whose
 * one layer is the bundle, found through the referrers API or the referrers tag schema (`sha256-<hex>` → an OCI index) that
 * registries without the referrers API use, or through an index the caller got from the referrers API.
 */
import { DsvError, digestOf, parseDigest, type Descriptor, type Digest, type ImageSource } from '@dsv/core';
import { Readable } from 'node:stream';
import { MAX_ATTACHMENT_LAYERS, MAX_ATTACHMENT_MANIFEST_BYTES, MAX_LAYER_BYTES, OCI_MANIFEST } from './attachment.js';
import { BUNDLE_V03_MEDIA_TYPE, COSIGN_SIGN_PREDICATE } from './bundle.js';
import { readBlob, type TagStore } from './store.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const EMPTY_JSON = Buffer.from('{}');

/** The referrers tag schema's tag for an image: `sha256-<hex>`. */
export function referrersTag(manifestDigest: string): string {
  const d = parseDigest(manifestDigest);
  return `${d.algorithm}-${d.hex}`;
}

export interface ImageSubject {
  mediaType: string;
  digest: string;
  size: number;
}

/** The referrer manifest cosign v3 writes for a bundle. */
export function bundleReferrerManifest(subject: ImageSubject, bundle: Uint8Array, opts: { created?: Date; content?: 'dsse-envelope' | 'message-signature' } = {}): Uint8Array {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_V03_MEDIA_TYPE,
    config: { mediaType: OCI_EMPTY, digest: digestOf(EMPTY_JSON), size: EMPTY_JSON.length },
    layers: [{ mediaType: BUNDLE_V03_MEDIA_TYPE, digest: digestOf(bundle), size: bundle.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      'dev.sigstore.bundle.content': opts.content ?? 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE,
      'org.opencontainers.image.created': (opts.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
  }));
}

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function bad(why: string): DsvError {
  return new DsvError('ManifestInvalid', `referrers: ${why}`);
}

function json(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.length > MAX_ATTACHMENT_MANIFEST_BYTES) throw new DsvError('LimitExceeded', `referrers: ${what} is larger than ${MAX_ATTACHMENT_MANIFEST_BYTES} bytes`);
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw bad(`${what} is not a JSON object`);
}

/** The entries of a referrers index (from the API or the tag schema), checked and capped. */
export function parseReferrersIndex(bytes: Uint8Array, image: string, indexDigest?: string): IndexEntry[] {
  const doc = json(bytes, 'the referrers index');
  if (doc.schemaVersion !== 2 || (doc.mediaType !== undefined && doc.mediaType !== OCI_INDEX)) throw bad('the referrers list is not an OCI index');
  if (!Array.isArray(doc.manifests)) throw bad('the referrers index has no manifests array');
  if (doc.manifests.length > MAX_ATTACHMENT_LAYERS) throw new DsvError('LimitExceeded', `referrers: ${doc.manifests.length} referrers, more than ${MAX_ATTACHMENT_LAYERS}`);
  return doc.manifests.map((m: unknown, i) => {
    const e = m as IndexEntry;
    if (typeof e !== 'object' || e === null || typeof e.digest !== 'string' || typeof e.mediaType !== 'string' || !Number.isSafeInteger(e.size)) throw bad(`entry ${i + 1} is not a descriptor`);
    parseDigest(e.digest);
    if (e.digest === image || e.digest === indexDigest) throw bad(`entry ${i + 1} points at ${e.digest === image ? 'the image itself' : 'the index itself'}`);
    return e;
  });
}

/** A bundle read from a referrer, with where it came from. */
export interface ReferrerBundle {
  referrer: string;
  bundle: Uint8Array;
}

/**
 * The bundles attached to the image: reads each referrer whose artifact type is a Sigstore bundle, checks
 * that its subject is the image, and reads its one bundle layer. `index`: the referrers API's answer;
 * without it, the tag schema's `sha256-<hex>` tag is read.
 */
export async function readBundleReferrers(store: TagStore, manifestDigest: string, opts: { index?: Uint8Array } = {}): Promise<ReferrerBundle[]> {
  let src: ImageSource | undefined;
  let indexBytes = opts.index;
  // With the API's index, read the referrers through a source pinned to the image (no tag to open).
  src = await store.openSource(indexBytes ? manifestDigest : referrersTag(manifestDigest));
  if (!src) return [];
  try {
    let indexDigest: string | undefined;
    if (!indexBytes) {
      try {
        indexBytes = (await src.getManifest()).bytes;
      } catch (e) {
        if ((e as { code?: string }).code === 'NotFound') return [];
        throw e;
      }
      indexDigest = digestOf(indexBytes);
    }
    const out: ReferrerBundle[] = [];
    for (const e of parseReferrersIndex(indexBytes, manifestDigest, indexDigest)) {
      if (e.artifactType !== undefined && !e.artifactType.startsWith('application/vnd.dev.sigstore.bundle')) continue;
      if (e.size > MAX_ATTACHMENT_MANIFEST_BYTES) throw new DsvError('LimitExceeded', `referrer ${e.digest}: larger than ${MAX_ATTACHMENT_MANIFEST_BYTES} bytes`);
      const { bytes } = await src.getManifest(e.digest as Digest);
      if (digestOf(bytes, parseDigest(e.digest).algorithm) !== e.digest) throw new DsvError('DigestMismatch', `referrer ${e.digest}: the manifest received has another digest`);
      const m = json(bytes, `referrer ${e.digest}`);
      const artifactType = m.artifactType ?? (m.config as { mediaType?: string } | undefined)?.mediaType;
      if (typeof artifactType !== 'string' || !artifactType.startsWith('application/vnd.dev.sigstore.bundle')) continue;
      const subject = m.subject as { digest?: unknown } | undefined;
      if (subject?.digest !== manifestDigest) throw new DsvError('SignatureInvalid', `referrer ${e.digest}: its subject is ${String(subject?.digest)}, not the image ${manifestDigest}`);
      const layers = m.layers;
      if (!Array.isArray(layers) || layers.length !== 1) throw bad(`referrer ${e.digest} does not have exactly one layer`);
      const l = layers[0] as Descriptor;
      if (typeof l.digest !== 'string' || !Number.isSafeInteger(l.size) || !String(l.mediaType).startsWith('application/vnd.dev.sigstore.bundle')) throw bad(`referrer ${e.digest}: its layer is not a Sigstore bundle`);
      if (l.size > MAX_LAYER_BYTES) throw new DsvError('LimitExceeded', `referrer ${e.digest}: bundle of ${l.size} bytes, more than ${MAX_LAYER_BYTES}`);
      out.push({ referrer: e.digest, bundle: await readBlob(await src.getBlob(l), l) });
    }
    return out;
  } finally {
    await src.close();
  }
}

/**
 * Attaches a bundle to the image as a referrer and records it in the referrers tag schema's index
 * (for registries without the referrers API; one that has it indexes the referrer by its subject itself).
 * Returns the referrer manifest's digest.
 */
export async function addBundleReferrer(store: TagStore, subject: ImageSubject, bundle: Uint8Array, opts: { created?: Date; content?: 'dsse-envelope' | 'message-signature' } = {}): Promise<string> {
  const tag = referrersTag(subject.digest);
  const manifest = bundleReferrerManifest(subject, bundle, opts);
  const digest = digestOf(manifest);
  let entries: IndexEntry[] = [];
  const src = await store.openSource(tag);
  if (src) {
    try {
      const bytes = (await src.getManifest()).bytes;
      entries = parseReferrersIndex(bytes, subject.digest, digestOf(bytes));
    } catch (e) {
      if ((e as { code?: string }).code !== 'NotFound') throw e;
    } finally {
      await src.close();
    }
  }
  if (!entries.some((e) => e.digest === digest)) {
    entries.push({ mediaType: OCI_MANIFEST, digest, size: manifest.length, artifactType: BUNDLE_V03_MEDIA_TYPE, annotations: JSON.parse(manifest.toString()).annotations });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }));
  const dest = await store.openDestination(tag);
  try {
    for (const [mediaType, bytes] of [[OCI_EMPTY, EMPTY_JSON], [BUNDLE_V03_MEDIA_TYPE, Buffer.from(bundle)]] as const) {
      const d: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
      if (!(await dest.hasBlob(d))) await dest.putBlob(d, Readable.from([bytes], { objectMode: false }));
    }
    await dest.putManifest(manifest, OCI_MANIFEST, digest);
    await dest.putManifest(index, OCI_INDEX);
    await dest.commit();
  } finally {
    await dest.close();
  }
  return digest;
}
