/**
 * The manifest tree of a copy: read once (nested indexes up to Limits.indexDepth), its images listed, and
 * rebuilt bottom-up from what each image became: an index whose children changed is rewritten, entries
 * that point at a sibling by digest (buildx attestations) follow it.
 */
import { digestOf, type Digest } from '../digest.js';
import { DsvError } from '../errors.js';
import { readManifest } from '../image.js';
import { replaceManifests, type ImageIndex, type ImageManifest, type Manifest } from '../manifest.js';
import { Limits, type Descriptor } from '../model.js';
import type { ImageSource } from '../transport.js';

export type Node = { kind: 'manifest'; manifest: ImageManifest; descriptor?: Descriptor } | { kind: 'index'; index: ImageIndex; children: Node[]; descriptor?: Descriptor };

/** Annotation by which an index entry (a buildx attestation) names the image it is about. */
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

/** The whole tree under the top manifest. */
export async function readTree(source: ImageSource, top: Manifest): Promise<Node> {
  const walk = async (m: Manifest, depth: number, descriptor?: Descriptor): Promise<Node> => {
    if (m.kind === 'manifest') return descriptor ? { kind: 'manifest', manifest: m, descriptor } : { kind: 'manifest', manifest: m };
    if (depth > Limits.indexDepth) {
      throw new DsvError('LimitExceeded', `index ${m.digest} is nested more than ${Limits.indexDepth} levels deep`, { digest: m.digest, limit: Limits.indexDepth });
    }
    const children: Node[] = [];
    const seen = new Set<string>();
    for (const child of m.manifests) {
      if (seen.has(child.digest)) continue;
      seen.add(child.digest);
      const cm = await readManifest(source, child.digest);
      if (cm.bytes.length !== child.size) {
        throw new DsvError('SizeMismatch', `manifest ${child.digest}: index ${m.digest} says ${child.size} bytes, got ${cm.bytes.length}`, {
          digest: child.digest,
          expectedSize: child.size,
          actualSize: cm.bytes.length,
        });
      }
      children.push(await walk(cm, depth + 1, child));
    }
    const node: Node = { kind: 'index', index: m, children };
    if (descriptor) node.descriptor = descriptor;
    return node;
  };
  return walk(top, 1);
}

/** Every image node of the tree, in order (an image listed by two indexes: once). */
export function imagesOf(root: Node): Extract<Node, { kind: 'manifest' }>[] {
  const out: Extract<Node, { kind: 'manifest' }>[] = [];
  const seen = new Set<string>();
  const walk = (n: Node): void => {
    if (n.kind === 'index') return n.children.forEach(walk);
    if (seen.has(n.manifest.digest)) return;
    seen.add(n.manifest.digest);
    out.push(n);
  };
  walk(root);
  return out;
}

/** Media types of every manifest of the tree the destination must be able to store. */
export function checkSupported(root: Node, supportedTypes: string[], destination: string): void {
  const supported = supportedTypes.map((t) => t.toLowerCase());
  const check = (n: Node): void => {
    const mt = n.kind === 'manifest' ? n.manifest.mediaType : n.index.mediaType;
    if (supported.length > 0 && !supported.includes(mt.toLowerCase())) {
      throw new DsvError('Unsupported', `${destination} cannot store ${mt} manifests (it stores ${supported.join(', ')})`, { mediaType: mt });
    }
    if (n.kind === 'index') n.children.forEach(check);
  };
  check(root);
}

export interface Built {
  bytes: Uint8Array;
  digest: Digest;
  mediaType: string;
}

/**
 * Rebuilds the tree bottom-up: `image` says what an image manifest became; child manifests to put (by
 * digest, children first) are pushed to `children`. Returns the top manifest.
 */
export async function rebuild(root: Node, image: (m: ImageManifest) => Promise<{ bytes: Uint8Array; digest: Digest }>, children: Built[]): Promise<Built> {
  const walk = async (n: Node): Promise<Built> => {
    if (n.kind === 'manifest') return { ...(await image(n.manifest)), mediaType: n.manifest.mediaType };
    const replacements = new Map<string, Descriptor>();
    for (const child of n.children) {
      const r = await walk(child);
      children.push(r);
      const old = child.descriptor!;
      if (r.digest !== old.digest) replacements.set(old.digest, { ...old, digest: r.digest, size: r.bytes.length });
    }
    for (const d of n.index.manifests) {
      const ref = d.annotations?.[REFERENCE_DIGEST];
      const moved = ref === undefined ? undefined : replacements.get(ref);
      if (!moved || moved.digest === ref) continue;
      const base = replacements.get(d.digest) ?? d;
      replacements.set(d.digest, { ...base, annotations: { ...base.annotations, [REFERENCE_DIGEST]: moved.digest } });
    }
    const bytes = replacements.size > 0 ? replaceManifests(n.index, replacements) : n.index.bytes;
    return { bytes, digest: replacements.size > 0 ? digestOf(bytes) : n.index.digest, mediaType: n.index.mediaType };
  };
  return walk(root);
}
