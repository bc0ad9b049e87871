/**
 * The tag scheme's `.sig` attachment: its layers (payload + annotations), the OCI manifest and config
 * cosign builds for them, parsing them back with limits, and containers/image's one-layer serialisation.
 */
import { DsvError, digestOf, parseDigest } from '@dsv/core';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** At most this many layers in one attachment manifest; more is hostile. */
export const MAX_ATTACHMENT_LAYERS = 1000;
/** At most this many bytes per layer blob. */
export const MAX_LAYER_BYTES = 4 * 1024 * 1024;
/** At most this many bytes of attachment manifest. */
export const MAX_ATTACHMENT_MANIFEST_BYTES = 4 * 1024 * 1024;

/** One layer of a `.sig` manifest: the blob, its media type, its annotations. */
export interface CosignAttachment {
  mediaType: string;
  payload: Uint8Array;
  annotations: Record<string, string>;
}

export interface AttachmentLayer {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

/** `sha256-<hex>.sig`, the tag that holds an image's signatures. */
export function signatureTag(manifestDigest: string, suffix = 'sig'): string {
  const d = parseDigest(manifestDigest);
  return `${d.algorithm}-${d.hex}.${suffix}`;
}

export function layerOf(a: CosignAttachment): AttachmentLayer {
  return { mediaType: a.mediaType, size: a.payload.length, digest: digestOf(a.payload), annotations: a.annotations };
}

/**
 * The config go-containerregistry writes for an image built by appending uncompressed layers to an
 * empty image, as cosign does: zero fields, one history entry and one diff_id per layer.
 */
export function attachmentConfig(layers: AttachmentLayer[]): Uint8Array {
  return Buffer.from(JSON.stringify({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  }));
}

/** The `.sig` manifest (OCI image manifest) plus its config blob for these layers. */
export function attachmentManifest(layers: AttachmentLayer[]): { manifest: Uint8Array; config: Uint8Array } {
  const config = attachmentConfig(layers);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, size: config.length, digest: digestOf(config) },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest, ...(l.annotations && Object.keys(l.annotations).length ? { annotations: l.annotations } : {}) })),
  }));
  return { manifest, config };
}

function bad(why: string): DsvError {
  return new DsvError('ManifestInvalid', `cosign attachment manifest: ${why}`);
}

/** The layers of a `.sig` manifest, checked: an image manifest, at most MAX_ATTACHMENT_LAYERS layers, each ≤ MAX_LAYER_BYTES. */
export function parseAttachmentManifest(bytes: Uint8Array): AttachmentLayer[] {
  if (bytes.length > MAX_ATTACHMENT_MANIFEST_BYTES) throw new DsvError('LimitExceeded', `cosign attachment manifest: larger than ${MAX_ATTACHMENT_MANIFEST_BYTES} bytes`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || doc.schemaVersion !== 2) throw bad('not a schema 2 image manifest');
  if (doc.mediaType !== undefined && doc.mediaType !== OCI_MANIFEST && doc.mediaType !== DOCKER_MANIFEST) throw bad(`media type ${JSON.stringify(doc.mediaType)} is not an image manifest`);
  if (!Array.isArray(doc.layers)) throw bad('no layers array');
  if (doc.layers.length > MAX_ATTACHMENT_LAYERS) throw new DsvError('LimitExceeded', `cosign attachment manifest: ${doc.layers.length} layers, more than ${MAX_ATTACHMENT_LAYERS}`);
  return doc.layers.map((l: unknown, i) => {
    const o = l as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.mediaType !== 'string' || typeof o.digest !== 'string' || !Number.isSafeInteger(o.size) || (o.size as number) < 0) {
      throw bad(`layer ${i + 1} is not a descriptor`);
    }
    try {
      parseDigest(o.digest);
    } catch {
      throw bad(`layer ${i + 1} has an invalid digest`);
    }
    if ((o.size as number) > MAX_LAYER_BYTES) throw new DsvError('LimitExceeded', `cosign attachment layer ${i + 1}: ${o.size} bytes, more than ${MAX_LAYER_BYTES}`);
    const annotations: Record<string, string> = {};
    if (o.annotations !== undefined) {
      if (typeof o.annotations !== 'object' || o.annotations === null) throw bad(`layer ${i + 1} annotations are not an object`);
      for (const [k, v] of Object.entries(o.annotations)) {
        if (typeof v !== 'string') throw bad(`layer ${i + 1} annotation ${k} is not a string`);
        annotations[k] = v;
      }
    }
    return { mediaType: o.mediaType, size: o.size as number, digest: o.digest, annotations };
  });
}

const SERIALISED_PREFIX = Buffer.from('\0sigstore-json\n');

/** containers/image's serialisation of one attachment (`\0sigstore-json\n` + JSON). */
export function serialiseAttachment(a: CosignAttachment): Uint8Array {
  return Buffer.concat([SERIALISED_PREFIX, Buffer.from(JSON.stringify({ mimeType: a.mediaType, payload: Buffer.from(a.payload).toString('base64'), annotations: a.annotations }))]);
}

export function parseSerialisedAttachment(bytes: Uint8Array): CosignAttachment {
  const b = Buffer.from(bytes);
  if (!b.subarray(0, SERIALISED_PREFIX.length).equals(SERIALISED_PREFIX)) throw new DsvError('SignatureInvalid', 'not a serialised cosign attachment (no \\0sigstore-json prefix)');
  let doc: { mimeType?: unknown; payload?: unknown; annotations?: unknown };
  try {
    doc = JSON.parse(b.subarray(SERIALISED_PREFIX.length).toString('utf8'));
  } catch {
    throw new DsvError('SignatureInvalid', 'serialised cosign attachment: not JSON');
  }
  if (typeof doc.mimeType !== 'string' || typeof doc.payload !== 'string') throw new DsvError('SignatureInvalid', 'serialised cosign attachment: no mimeType or payload');
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries((doc.annotations as Record<string, unknown>) ?? {})) if (typeof v === 'string') annotations[k] = v;
  return { mediaType: doc.mimeType, payload: Buffer.from(doc.payload, 'base64'), annotations };
}
