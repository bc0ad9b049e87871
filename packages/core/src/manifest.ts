/**
 * Image manifests, Docker manifest lists and OCI indexes, parsed from the exact bytes received. The bytes
 * are kept: the digest is always that of those bytes, and edits (a new config, new children) change only
 * what they must.
 */
import {
  applyEdits,
  astToValue,
  findMember,
  JsonSyntaxError,
  parseJsonAst,
  type JsonAst,
  type JsonEdit,
  type JsonObjectAst,
} from './canonical-json.js';
import { digestOf, parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { Limits, MediaTypes, type Descriptor, type Platform } from './model.js';

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  bytes: Uint8Array;
  digest: Digest;
  json: Record<string, unknown>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  bytes: Uint8Array;
  digest: Digest;
  json: Record<string, unknown>;
}

export type Manifest = ImageManifest | ImageIndex;

const INDEX_TYPES = new Set<string>([MediaTypes.OciIndex, MediaTypes.DockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaTypes.OciManifest, MediaTypes.DockerManifest]);
const SCHEMA1_TYPES = new Set<string>([MediaTypes.DockerManifestV1, MediaTypes.DockerManifestV1Signed]);
/** Content-Types that say nothing about which kind of manifest a body is. */
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream', 'binary/octet-stream']);

const SCHEMA1_MESSAGE =
  'Docker schema 1 manifests are not supported; convert with `skopeo copy --format v2s2 ...` or re-push the image with a current docker';

export function isIndexMediaType(mt: string): boolean {
  return INDEX_TYPES.has(normaliseMediaType(mt));
}

export function isImageManifestMediaType(mt: string): boolean {
  return MANIFEST_TYPES.has(normaliseMediaType(mt));
}

/** `Type/Subtype; param=x` -> `type/subtype`. */
function normaliseMediaType(mt: string): string {
  return mt.split(';')[0]!.trim().toLowerCase();
}

const LAYER_COMPRESSION: Record<string, 'gzip' | 'zstd' | 'none'> = {
  [MediaTypes.DockerLayerGzip]: 'gzip',
  [MediaTypes.DockerLayerForeignGzip]: 'gzip',
  [MediaTypes.DockerLayerZstd]: 'zstd',
  [MediaTypes.DockerLayerTar]: 'none',
  [MediaTypes.OciLayerGzip]: 'gzip',
  [MediaTypes.OciLayerZstd]: 'zstd',
  [MediaTypes.OciLayerTar]: 'none',
  [MediaTypes.OciLayerNondistributableGzip]: 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
};

/** Compression of a layer by its media type; Unsupported for a media type that is not a known layer type. */
export function layerCompression(mediaType: string): 'gzip' | 'zstd' | 'none' {
  const c = LAYER_COMPRESSION[normaliseMediaType(mediaType)];
  if (c === undefined) throw new DsvError('Unsupported', `unsupported layer media type "${mediaType}"`, { mediaType });
  return c;
}

function bad(where: string, why: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('ManifestInvalid', `${where}: ${why}`, details);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function parseStringMap(v: unknown, where: string): Record<string, string> {
  if (!isRecord(v)) throw bad(where, 'must be an object of strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw bad(`${where}.${k}`, 'must be a string');
  return { ...v } as Record<string, string>;
}

function parsePlatform(v: unknown, where: string): Platform {
  if (!isRecord(v)) throw bad(where, 'must be an object');
  if (typeof v.os !== 'string' || v.os === '') throw bad(`${where}.os`, 'must be a non-empty string');
  if (typeof v.architecture !== 'string' || v.architecture === '') throw bad(`${where}.architecture`, 'must be a non-empty string');
  const p: Platform = { architecture: v.architecture, os: v.os };
  if (v.variant !== undefined) {
    if (typeof v.variant !== 'string') throw bad(`${where}.variant`, 'must be a string');
    p.variant = v.variant;
  }
  if (v['os.version'] !== undefined) {
    if (typeof v['os.version'] !== 'string') throw bad(`${where}.os.version`, 'must be a string');
    p['os.version'] = v['os.version'];
  }
  for (const k of ['os.features', 'features'] as const) {
    if (v[k] !== undefined) {
      if (!Array.isArray(v[k]) || !(v[k] as unknown[]).every((x) => typeof x === 'string')) throw bad(`${where}.${k}`, 'must be an array of strings');
      p[k] = [...(v[k] as string[])];
    }
  }
  return p;
}

/**
 * Validates a content descriptor: mediaType a string, digest a valid digest (parseDigest: known algorithm,
 * lower-case hex of the right length — never a path), size a non-negative safe integer.
 */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw bad(where, 'descriptor must be an object');
  if (typeof value.mediaType !== 'string' || value.mediaType === '') throw bad(`${where}.mediaType`, 'must be a non-empty string');
  if (typeof value.digest !== 'string') throw bad(`${where}.digest`, 'must be a string');
  let digest: Digest;
  try {
    digest = parseDigest(value.digest).digest;
  } catch (e) {
    throw new DsvError('ManifestInvalid', `${where}.digest: ${(e as Error).message}`, { where }, { cause: e });
  }
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw bad(`${where}.size`, `must be a non-negative integer, got ${JSON.stringify(size) ?? String(size)}`);
  }
  const d: Descriptor = { mediaType: value.mediaType, digest, size };
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string')) throw bad(`${where}.urls`, 'must be an array of strings');
    d.urls = [...value.urls];
  }
  if (value.annotations !== undefined) d.annotations = parseStringMap(value.annotations, `${where}.annotations`);
  if (value.platform !== undefined) d.platform = parsePlatform(value.platform, `${where}.platform`);
  if (value.artifactType !== undefined) {
    if (typeof value.artifactType !== 'string') throw bad(`${where}.artifactType`, 'must be a string');
    d.artifactType = value.artifactType;
  }
  return d;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeJson(bytes: Uint8Array, what: string, code: 'ManifestInvalid' | 'ConfigInvalid'): { text: string; ast: JsonAst } {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (e) {
    throw new DsvError(code, `${what} is not valid UTF-8`, {}, { cause: e });
  }
  try {
    return { text, ast: parseJsonAst(text) };
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new DsvError(code, `${what} is not valid JSON: ${e.message}`, {}, { cause: e });
    throw e;
  }
}

type Family = 'index' | 'manifest';

function familyOf(mt: string): Family | undefined {
  if (INDEX_TYPES.has(mt)) return 'index';
  if (MANIFEST_TYPES.has(mt)) return 'manifest';
  return undefined;
}

/**
 * Parses a manifest, manifest list or index from its exact bytes. `contentType` is what the transport
 * reported (HTTP Content-Type, OCI descriptor mediaType); the document's own `mediaType` wins over it.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): Manifest {
  if (bytes.length > Limits.manifestBytes) {
    throw new DsvError('LimitExceeded', `manifest is ${bytes.length} bytes, over the ${Limits.manifestBytes}-byte limit`, {
      size: bytes.length,
      limit: Limits.manifestBytes,
    });
  }
  const digest = digestOf(bytes);
  const where = `manifest ${digest}`;
  const { ast } = decodeJson(bytes, where, 'ManifestInvalid');
  const json = astToValue(ast);
  if (!isRecord(json)) throw bad(where, 'must be a JSON object');

  const ct = contentType === undefined ? '' : normaliseMediaType(contentType);
  const field = json.mediaType;
  if (field !== undefined && typeof field !== 'string') throw bad(`${where}.mediaType`, 'must be a string');
  const fieldType = field === undefined ? undefined : normaliseMediaType(field);

  if (json.schemaVersion === 1 || SCHEMA1_TYPES.has(ct) || (fieldType !== undefined && SCHEMA1_TYPES.has(fieldType)) || has(json, 'fsLayers')) {
    throw new DsvError('Unsupported', `${where}: ${SCHEMA1_MESSAGE}`, { digest });
  }
  if (json.schemaVersion !== 2) {
    throw bad(where, `schemaVersion must be 2, got ${JSON.stringify(json.schemaVersion) ?? 'nothing'}`);
  }

  const hasManifests = has(json, 'manifests');
  const hasImageFields = has(json, 'config') || has(json, 'layers');
  if (hasManifests && hasImageFields) {
    throw bad(where, 'ambiguous document: it has both "manifests" (an index) and "config"/"layers" (an image manifest)');
  }
  const shape: Family | undefined = hasManifests ? 'index' : hasImageFields ? 'manifest' : undefined;

  const ctFamily = familyOf(ct);
  if (ctFamily === undefined && !GENERIC_TYPES.has(ct) && fieldType === undefined) {
    throw new DsvError('Unsupported', `${where}: unsupported manifest media type "${contentType}"`, { mediaType: contentType });
  }

  let mediaType: string;
  if (fieldType !== undefined) {
    const fieldFamily = familyOf(fieldType);
    if (fieldFamily === undefined) throw new DsvError('Unsupported', `${where}: unsupported manifest media type "${field}"`, { mediaType: field });
    if (ctFamily !== undefined && ctFamily !== fieldFamily) {
      throw bad(where, `mediaType "${field}" contradicts the Content-Type "${contentType}"`);
    }
    mediaType = fieldType;
  } else if (ctFamily !== undefined) {
    mediaType = ct;
  } else if (shape === 'index') {
    // OCI image-index: mediaType SHOULD be set; without it, `manifests` identifies an index.
    mediaType = MediaTypes.OciIndex;
  } else if (shape === 'manifest' && has(json, 'config') && has(json, 'layers')) {
    mediaType = MediaTypes.OciManifest;
  } else {
    throw bad(where, 'cannot tell what this document is: no mediaType, no usable Content-Type, and neither "manifests" nor "config" and "layers"');
  }

  const family = familyOf(mediaType)!;
  if (shape !== undefined && shape !== family) {
    throw bad(where, `media type "${mediaType}" is ${family === 'index' ? 'an index type' : 'an image manifest type'} but the document has ${shape === 'index' ? '"manifests"' : '"config"/"layers"'}`);
  }

  let annotations: Record<string, string> | undefined;
  if (json.annotations !== undefined) annotations = parseStringMap(json.annotations, `${where}.annotations`);

  if (family === 'index') {
    if (!Array.isArray(json.manifests)) throw bad(`${where}.manifests`, 'must be an array');
    const manifests = json.manifests.map((m, i) => parseDescriptor(m, `${where}.manifests[${i}]`));
    const index: ImageIndex = { kind: 'index', mediaType, manifests, bytes, digest, json };
    if (annotations) index.annotations = annotations;
    return index;
  }

  if (!has(json, 'config')) throw bad(`${where}.config`, 'missing');
  const config = parseDescriptor(json.config, `${where}.config`);
  if (!Array.isArray(json.layers)) throw bad(`${where}.layers`, 'must be an array');
  const layers = json.layers.map((l, i) => parseDescriptor(l, `${where}.layers[${i}]`));
  const manifest: ImageManifest = { kind: 'manifest', mediaType, config, layers, bytes, digest, json };
  if (annotations) manifest.annotations = annotations;
  if (json.subject !== undefined) manifest.subject = parseDescriptor(json.subject, `${where}.subject`);
  return manifest;
}

// ---------------------------------------------------------------------------------------------------
// Editing
// ---------------------------------------------------------------------------------------------------

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => has(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function isPrimitive(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Edits that turn object `node` into `wanted` by replacing values in place, so every other byte (member
 * order, whitespace, escapes) is kept. null when that is not possible (members added or removed, an array
 * changed): the caller then re-serialises.
 */
function inPlaceEdits(node: JsonObjectAst, wanted: Record<string, unknown>): JsonEdit[] | null {
  const keys = node.members.map((m) => m.key);
  if (new Set(keys).size !== keys.length) return null;
  const wantedKeys = Object.keys(wanted).filter((k) => wanted[k] !== undefined);
  if (wantedKeys.length !== keys.length || !wantedKeys.every((k) => keys.includes(k))) return null;
  const edits: JsonEdit[] = [];
  for (const m of node.members) {
    const want = wanted[m.key];
    if (deepEqual(astToValue(m.value), want)) continue;
    if (isPrimitive(want) && m.value.kind !== 'object' && m.value.kind !== 'array') {
      edits.push({ start: m.value.start, end: m.value.end, text: JSON.stringify(want) });
    } else if (m.value.kind === 'object' && isRecord(want)) {
      const sub = inPlaceEdits(m.value, want);
      if (sub === null) return null;
      edits.push(...sub);
    } else {
      return null;
    }
  }
  return edits;
}

/** Re-serialises with the original's indentation when it has one (and its trailing newline), else compact. */
function reserialise(original: string, value: unknown): string {
  const m = /^\uFEFF?\{\r?\n([ \t]+)\S/.exec(original);
  const out = m ? JSON.stringify(value, null, m[1]) : JSON.stringify(value);
  return /\n$/.test(original) ? `${out}\n` : out;
}

const encoder = new TextEncoder();

function descriptorJson(d: Descriptor, where: string): Record<string, unknown> {
  parseDescriptor(d, where); // refuse to write an invalid descriptor
  return JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
}

function editDocument(bytes: Uint8Array, what: string, edit: (root: JsonObjectAst, text: string, json: Record<string, unknown>) => JsonEdit[] | null): Uint8Array {
  const { text, ast } = decodeJson(bytes, what, 'ManifestInvalid');
  if (ast.kind !== 'object') throw bad(what, 'must be a JSON object');
  const json = astToValue(ast) as Record<string, unknown>;
  const edits = edit(ast, text, json);
  return encoder.encode(edits === null ? reserialise(text, json) : applyEdits(text, edits));
}

/**
 * New manifest bytes with `config` as the config descriptor. Every other field, the member order and the
 * formatting are kept; layers and annotations never change.
 */
export function replaceConfig(manifest: ImageManifest, config: Descriptor): Uint8Array {
  const wanted = descriptorJson(config, 'new config descriptor');
  return editDocument(manifest.bytes, `manifest ${manifest.digest}`, (root, _text, json) => {
    const member = findMember(root, 'config');
    if (!member || member.value.kind !== 'object') throw bad(`manifest ${manifest.digest}.config`, 'missing');
    json.config = wanted;
    return inPlaceEdits(member.value, wanted);
  });
}

/**
 * New index bytes where each child whose digest is a key of `replacements` is replaced by the mapped
 * descriptor. Every other field and child is kept as is. Throws NotFound when a digest to replace is not
 * a child of the index.
 */
export function replaceManifests(index: ImageIndex, replacements: Map<string, Descriptor>): Uint8Array {
  const wanted = new Map<string, Record<string, unknown>>();
  for (const [old, d] of replacements) wanted.set(old, descriptorJson(d, `replacement for ${old}`));
  return editDocument(index.bytes, `index ${index.digest}`, (root, _text, json) => {
    const member = findMember(root, 'manifests');
    if (!member || member.value.kind !== 'array' || !Array.isArray(json.manifests)) throw bad(`index ${index.digest}.manifests`, 'must be an array');
    const children = json.manifests as unknown[];
    const seen = new Set<string>();
    let edits: JsonEdit[] | null = [];
    const items = member.value.items;
    for (let i = 0; i < items.length; i++) {
      const child = children[i];
      if (!isRecord(child) || typeof child.digest !== 'string') continue;
      const repl = wanted.get(child.digest);
      if (!repl) continue;
      seen.add(child.digest);
      children[i] = repl;
      const item = items[i]!;
      const e: JsonEdit[] | null = edits !== null && item.kind === 'object' ? inPlaceEdits(item, repl) : null;
      edits = e === null || edits === null ? null : [...edits, ...e];
    }
    for (const old of wanted.keys()) {
      if (!seen.has(old)) throw new DsvError('NotFound', `index ${index.digest} has no child manifest ${old}`, { digest: old });
    }
    return edits;
  });
}

// ---------------------------------------------------------------------------------------------------
// Platforms
// ---------------------------------------------------------------------------------------------------

/** `linux/amd64`, `linux/arm/v7`; `unknown` without a platform. */
export function platformString(p?: Platform): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const ARCH_ALIASES: Record<string, [string, string?]> = {
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  aarch64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
  i386: ['386'],
};

function normalisePlatform(os: string, arch: string, variant?: string): { os: string; arch: string; variant?: string } {
  let a = arch.toLowerCase();
  let v = variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[a];
  if (alias) {
    a = alias[0];
    v ??= alias[1];
  }
  if (a === 'arm64' && v === 'v8') v = undefined; // arm64 is arm64/v8
  if (a === 'amd64' && v === 'v1') v = undefined; // amd64 is amd64/v1
  const result: { os: string; arch: string; variant?: string } = { os: os.toLowerCase(), arch: a };
  if (v !== undefined) result.variant = v;
  return result;
}

/** True for a well-formed platform string `os/arch[/variant]` (e.g. linux/amd64, linux/arm/v7). */
export function isPlatformString(value: string): boolean {
  return /^[a-z0-9_.-]+\/[a-z0-9_.-]+(\/[a-z0-9_.-]+)?$/i.test(value);
}

/**
 * True when descriptor `d` is for platform `wanted` (`os/arch[/variant]`). Architecture aliases are
 * folded (x86_64 = amd64, aarch64 = arm64, arm64/v8 = arm64); without a wanted variant any variant matches.
 */
export function matchesPlatform(d: Descriptor, wanted: string): boolean {
  const parts = wanted.split('/');
  if (!isPlatformString(wanted)) {
    throw new DsvError('Usage', `invalid platform "${wanted}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`);
  }
  if (!d.platform) return false;
  const w = normalisePlatform(parts[0]!, parts[1]!, parts[2]);
  const h = normalisePlatform(d.platform.os, d.platform.architecture, d.platform.variant);
  if (w.os !== h.os || w.arch !== h.arch) return false;
  return parts[2] === undefined || w.variant === h.variant;
}
