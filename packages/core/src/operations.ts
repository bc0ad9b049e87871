/**
 * Generic image operations the apps call, only through the transport and signer interfaces: copy (with
 * signing, endorsing, re-signing or removing signatures on the way), verify and inspect.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ImageConfig } from './config.js';
import { DigestingStream, digestOf, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import { configPlatform, readConfig, readManifest, resolveManifests } from './image.js';
import { checkIntegrity, integrityErrors, runLimited, verifyIntegrity, type ImageCheck } from './integrity.js';
import { platformString, replaceConfig, replaceManifests, type ImageIndex, type ImageManifest, type Manifest } from './manifest.js';
import { Limits, type Descriptor } from './model.js';
import type { Signer, VerificationResult, VerificationStatus } from './signer.js';
import {
  addSignature,
  readSignatures,
  SIGNATURES_LABEL,
  verifySignatures,
  withSignatures,
  type SignatureCheck,
  type SignatureEntry,
  type SignatureKind,
} from './signatures.js';
import type { ImageDestination, ImageReference, ImageSource, ProgressEvent } from './transport.js';

// ---------------------------------------------------------------------------------------------------
// Copy
// ---------------------------------------------------------------------------------------------------

export interface CopyOptions {
  /** Sign (or endorse / re-sign) every copied image with this signer. */
  sign?: { signer: Signer; kind: SignatureKind };
  /** Copy with the signatures label emptied. */
  removeSignatures?: boolean;
  /** From an index, copy only the image for this platform (the result is that image alone). */
  platform?: string;
  /** Blobs transferred at once (default 4). */
  jobs?: number;
  /** Compute everything (including signatures), write nothing. */
  dryRun?: boolean;
  /** Check the source's integrity first and refuse to copy a broken image (always done when signing). */
  verify?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  debug?: (m: string) => void;
  /** A repository on the destination's registry holding the blobs (cross-repository mount). */
  mountFrom?: ImageReference;
}

export interface CopiedImage {
  platform?: string;
  sourceManifestDigest: Digest;
  manifestDigest: Digest;
  sourceConfigDigest: Digest;
  configDigest: Digest;
  /** The signature added (when signing). */
  signature?: SignatureEntry;
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
}

export interface CopyResult {
  /** Digest of the source's top-level manifest (the index, when one platform was picked from it). */
  sourceDigest: Digest;
  /** Digest of the top-level manifest written (or that would be written). */
  destinationDigest: Digest;
  kind: 'manifest' | 'index';
  images: CopiedImage[];
  /** The top-level manifest bytes written (or that would be written). */
  manifestBytes?: Uint8Array;
  dryRun: boolean;
}

/** Annotation by which an index entry (a buildx attestation) names the image it is about. */
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

type Node = { kind: 'manifest'; manifest: ImageManifest; descriptor?: Descriptor } | { kind: 'index'; index: ImageIndex; children: Node[]; descriptor?: Descriptor };

/** The whole tree under the top manifest (nested indexes up to Limits.indexDepth). */
async function readTree(source: ImageSource, top: Manifest): Promise<Node> {
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

function integrityFailure(what: string, reference: string, errors: DsvError[]): DsvError {
  const first = errors[0];
  const list = errors.map((e) => e.message).join('; ');
  return new DsvError(first?.code ?? 'DigestMismatch', `refusing to ${what} ${reference}: ${errors.length} integrity failure${errors.length === 1 ? '' : 's'}: ${list}`, {
    reference,
    errors: errors.map((e) => ({ code: e.code, message: e.message, ...e.details })),
  });
}

/** Counts bytes for progress reports. */
class Counter extends Transform {
  done = 0;
  constructor(private readonly report: (done: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.done += chunk.length;
    this.report(this.done);
    cb(null, chunk);
  }
}

/**
 * Copies an image (or every image of an index, or one platform of it) from `source` to `destination`.
 * Unmodified images keep their exact manifest bytes and digest. With `sign` the source's integrity is
 * checked first, each configuration gets the signature, and manifests (and the index) are rewritten to
 * point at the new configurations. Blobs already at the destination are skipped; every blob streamed is
 * verified on the way, and a mismatch aborts before anything is committed.
 */
export async function copyImage(source: ImageSource, destination: ImageDestination, options: CopyOptions = {}): Promise<CopyResult> {
  const reference = source.reference.toString();
  const debug = options.debug ?? (() => undefined);
  const jobs = Math.max(1, options.jobs ?? 4);
  const dryRun = options.dryRun === true;
  if (options.sign && options.removeSignatures) throw new DsvError('Usage', 'cannot both sign and remove signatures in one copy');

  // What to copy.
  const top = await readManifest(source);
  let root: Node;
  if (top.kind === 'index' && options.platform !== undefined) {
    const { manifests } = await resolveManifests(source, { platform: options.platform });
    const chosen = manifests[0]!;
    if (manifests.length > 1) debug(`${manifests.length} images match ${options.platform}; copying the first, ${chosen.manifest.digest}`);
    root = chosen.descriptor ? { kind: 'manifest', manifest: chosen.manifest, descriptor: chosen.descriptor } : { kind: 'manifest', manifest: chosen.manifest };
  } else {
    root = await readTree(source, top);
  }

  const supported = destination.supportedManifestMediaTypes().map((t) => t.toLowerCase());
  const checkSupported = (n: Node): void => {
    const mt = n.kind === 'manifest' ? n.manifest.mediaType : n.index.mediaType;
    if (supported.length > 0 && !supported.includes(mt.toLowerCase())) {
      throw new DsvError('Unsupported', `${destination.reference.toString()} cannot store ${mt} manifests (it stores ${supported.join(', ')})`, { mediaType: mt });
    }
    if (n.kind === 'index') n.children.forEach(checkSupported);
  };
  checkSupported(root);

  // Never sign (or copy, when asked to verify) a broken image.
  if (options.sign || options.verify) {
    const opts: Parameters<typeof verifyIntegrity>[1] = { concurrency: jobs };
    if (options.platform !== undefined) opts.platform = options.platform;
    if (options.onProgress) opts.onProgress = options.onProgress;
    const report = await verifyIntegrity(source, opts);
    if (!report.ok) throw integrityFailure(options.sign ? 'sign' : 'copy', reference, integrityErrors(report));
    debug(`integrity of ${reference} verified (${report.images.length} image${report.images.length === 1 ? '' : 's'})`);
  }

  // Blob transfers, each blob once per copy.
  const transfers = new Map<string, Promise<{ copied: boolean; bytes: number }>>();
  const transfer = async (d: Descriptor, bytes?: Uint8Array): Promise<{ copied: boolean; bytes: number }> => {
    const earlier = transfers.get(d.digest);
    if (earlier) {
      // Shared with an image handled before: counted there.
      await earlier;
      return { copied: false, bytes: 0 };
    }
    const p = transferBlob(d, bytes);
    transfers.set(d.digest, p);
    return p;
  };
  const transferBlob = async (d: Descriptor, bytes?: Uint8Array): Promise<{ copied: boolean; bytes: number }> => {
    if (await destination.hasBlob(d)) {
      debug(`blob ${d.digest}: already at the destination`);
      return { copied: false, bytes: 0 };
    }
    if (destination.tryReuseBlob && !dryRun) {
      const reuse = options.mountFrom ? { mountFrom: options.mountFrom } : {};
      if (await destination.tryReuseBlob(d, reuse)) {
        debug(`blob ${d.digest}: reused${options.mountFrom ? ` (mounted from ${options.mountFrom.toString()})` : ''}`);
        return { copied: false, bytes: 0 };
      }
    }
    if (dryRun) {
      debug(`blob ${d.digest}: would copy ${d.size} bytes`);
      return { copied: true, bytes: d.size };
    }
    const checker = new DigestingStream({ digest: d.digest, size: d.size, name: `blob ${d.digest}` });
    // Its error is read from checker.errored below; the source may fail it after the destination gave up.
    checker.on('error', () => undefined);
    // The source is opened while the destination prepares its upload (a registry: the POST), not before:
    // one round trip less per blob. A source that fails fails the checker, and with it the upload.
    let raw: Readable | undefined;
    const opened = (bytes ? Promise.resolve(Readable.from([Buffer.from(bytes)])) : source.getBlob(d)).then(
      (r) => {
        raw = r;
        if (checker.destroyed) return void r.destroy();
        r.on('error', (e) => checker.destroy(e));
        r.pipe(checker);
      },
      (e: unknown) => void checker.destroy(e instanceof Error ? e : new Error(String(e))),
    );
    const onProgress = options.onProgress;
    let stream: Readable = checker;
    if (onProgress) {
      let next = 0;
      const counter = new Counter((done) => {
        if (done >= next || done === d.size) {
          next = done + 1024 * 1024;
          onProgress({ id: d.digest, done, total: d.size, phase: 'write' });
        }
      });
      checker.on('error', (e) => counter.destroy(e));
      stream = checker.pipe(counter);
    }
    try {
      // The checker fails the stream before its end on a mismatch: the destination need not hash again.
      await destination.putBlob(d, stream, { verifiedStream: true, ...(options.mountFrom ? { mountFrom: options.mountFrom } : {}) });
    } catch (e) {
      // A destination may report a failed stream in its own words; the stream's error says what broke.
      throw checker.errored ?? e;
    } finally {
      await opened;
      if (!checker.destroyed) checker.destroy();
      if (raw && !raw.destroyed) raw.destroy();
    }
    debug(`blob ${d.digest}: copied ${d.size} bytes`);
    return { copied: true, bytes: d.size };
  };

  const images: CopiedImage[] = [];
  /** Pending manifests, children first; written after every blob is stored. */
  const manifestsToPut: { bytes: Uint8Array; mediaType: string; digest: Digest }[] = [];
  const modify = options.sign !== undefined || options.removeSignatures === true;

  const processImage = async (m: ImageManifest, descriptor?: Descriptor): Promise<{ bytes: Uint8Array; digest: Digest }> => {
    let configDescriptor = m.config;
    let configBytes: Uint8Array | undefined;
    let entry: SignatureEntry | undefined;
    let platform = descriptor?.platform ? platformString(descriptor.platform) : undefined;
    if (modify) {
      const config: ImageConfig = await readConfig(source, m);
      platform ??= configPlatform(config);
      let next: ImageConfig = config;
      if (options.sign) {
        const signed = await addSignature(config, options.sign.signer, options.sign.kind);
        next = signed.config;
        entry = signed.entry;
      } else if (readSignatures(config).length > 0) {
        next = withSignatures(config, []);
      }
      if (next.digest !== config.digest) {
        configBytes = next.bytes;
        configDescriptor = { ...m.config, digest: next.digest, size: next.bytes.length };
      }
    }
    const blobs: { d: Descriptor; bytes?: Uint8Array }[] = [configBytes ? { d: configDescriptor, bytes: configBytes } : { d: configDescriptor }, ...m.layers.map((d) => ({ d }))];
    // Foreign layers (with urls) are not ours to copy, as with docker and skopeo.
    // Largest first: with `jobs` parallel transfers, a big layer started last would run alone at the end.
    const toCopy = blobs.filter((b) => !(b.d.urls && b.d.urls.length > 0)).sort((a, b) => b.d.size - a.d.size);
    const results = await runLimited(
      toCopy.map((b) => () => transfer(b.d, b.bytes)),
      jobs,
    );
    const bytes = configBytes ? replaceConfig(m, configDescriptor) : m.bytes;
    const digest = configBytes ? digestOf(bytes) : m.digest;
    const copied: CopiedImage = {
      sourceManifestDigest: m.digest,
      manifestDigest: digest,
      sourceConfigDigest: m.config.digest,
      configDigest: configDescriptor.digest,
      blobsCopied: results.filter((r) => r.copied).length,
      blobsSkipped: results.filter((r) => !r.copied).length,
      bytesCopied: results.reduce((n, r) => n + r.bytes, 0),
    };
    if (platform !== undefined) copied.platform = platform;
    if (entry) copied.signature = entry;
    images.push(copied);
    return { bytes, digest };
  };

  const processNode = async (n: Node): Promise<{ bytes: Uint8Array; digest: Digest; mediaType: string }> => {
    if (n.kind === 'manifest') {
      const r = await processImage(n.manifest, n.descriptor);
      return { ...r, mediaType: n.manifest.mediaType };
    }
    const replacements = new Map<string, Descriptor>();
    for (const child of n.children) {
      const r = await processNode(child);
      manifestsToPut.push({ bytes: r.bytes, mediaType: r.mediaType, digest: r.digest });
      const old = child.descriptor!;
      if (r.digest !== old.digest) replacements.set(old.digest, { ...old, digest: r.digest, size: r.bytes.length });
    }
    // Entries that point at a sibling by digest (buildx attestations: vnd.docker.reference.digest) follow it.
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

  const written = await processNode(root);
  if (!dryRun) {
    for (const m of manifestsToPut) await destination.putManifest(m.bytes, m.mediaType, m.digest);
    await destination.putManifest(written.bytes, written.mediaType);
    await destination.commit();
    debug(`${destination.reference.toString()}: committed ${written.digest}`);
  }
  return {
    sourceDigest: top.digest,
    destinationDigest: written.digest,
    kind: root.kind,
    images,
    manifestBytes: written.bytes,
    dryRun,
  };
}

// ---------------------------------------------------------------------------------------------------
// Verify and inspect
// ---------------------------------------------------------------------------------------------------

export interface SignatureReport {
  index: number;
  role: 'signature' | 'endorsement';
  /** The digest the entry says it signs. */
  digest: Digest;
  /** Which verifier checked it (`gpg`, `pki`, ...). */
  type: string;
  keyId?: string;
  fingerprint?: string;
  signer?: string;
  createdAt?: string;
  /** The signature checks, by a trusted key, over the digest this configuration gives for that entry. */
  valid: boolean;
  /** The signing key is one of the trusted keys (the status is not 'unknown-key'). */
  trusted: boolean;
  status: VerificationStatus;
  reason?: string;
}

export interface ImageVerification {
  platform?: string;
  manifestDigest: Digest;
  configDigest: Digest;
  integrity: ImageCheck;
  signatures: SignatureReport[];
  ok: boolean;
  failures: string[];
}

export interface VerifyResult {
  reference: string;
  digest: Digest;
  kind: 'manifest' | 'index';
  images: ImageVerification[];
  ok: boolean;
  failures: string[];
}

export type VerifyFunction = (data: Uint8Array, signature: string) => Promise<VerificationResult>;

export interface VerifyOptions {
  platform?: string;
  expectedDigest?: Digest;
  concurrency?: number;
  maxLayerBytes?: number;
  onProgress?: (e: ProgressEvent) => void;
}

function toReport(c: SignatureCheck): SignatureReport {
  const r = c.result;
  const report: SignatureReport = {
    index: c.index,
    role: c.role,
    digest: c.entry.digest,
    type: r.type,
    valid: r.status === 'valid' && c.digestMatches,
    trusted: r.status !== 'unknown-key',
    status: r.status,
  };
  if (r.keyId !== undefined) report.keyId = r.keyId;
  if (r.fingerprint !== undefined) report.fingerprint = r.fingerprint;
  if (r.signer !== undefined) report.signer = r.signer;
  if (r.createdAt !== undefined) report.createdAt = r.createdAt instanceof Date ? r.createdAt.toISOString() : String(r.createdAt);
  if (r.reason !== undefined) report.reason = r.reason;
  return report;
}

function signatureFailure(s: SignatureReport): string {
  const who = `signature ${s.index} (${s.role}) by key ${s.keyId ?? s.fingerprint ?? 'unknown'}`;
  if (s.status === 'unknown-key') return `${who}: unknown key${s.reason ? ` (${s.reason})` : ''}`;
  return `${who}: ${s.reason ?? 'invalid signature'}`;
}

/** A verifier that reports a bad signature as such: a SignatureInvalid / UnknownKey throw becomes a result. */
function guarded(verify: VerifyFunction): VerifyFunction {
  return async (data, signature) => {
    try {
      return await verify(data, signature);
    } catch (e) {
      if (e instanceof DsvError && (e.code === 'SignatureInvalid' || e.code === 'UnknownKey')) {
        return { status: e.code === 'UnknownKey' ? 'unknown-key' : 'invalid', type: 'unknown', reason: e.message };
      }
      throw e;
    }
  };
}

/**
 * Verifies an image where it lives: integrity of every blob (streamed once) and every embedded
 * signature of every image. `ok` only when integrity holds, there is at least one signature, and every
 * signature is valid. `failures` has one human line per problem.
 */
export async function verifyImage(source: ImageSource, verify: VerifyFunction, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const { report, configs } = await checkIntegrity(source, opts);
  const many = report.images.length > 1;
  const images: ImageVerification[] = [];
  const check = guarded(verify);
  for (let i = 0; i < report.images.length; i++) {
    const integrity = report.images[i]!;
    const config = configs[i];
    const failures = integrityErrors({ ...report, images: [integrity] }).map((e) => e.message);
    let signatures: SignatureReport[] = [];
    if (config) {
      try {
        signatures = (await verifySignatures(config, check)).map(toReport);
      } catch (e) {
        if (!(e instanceof DsvError)) throw e;
        if (e.code !== 'NoSignatures') failures.push(`signatures of image configuration ${config.digest}: ${e.message}`);
      }
      if (signatures.length === 0 && !failures.some((f) => f.startsWith('signatures of'))) failures.push('no signatures');
      for (const s of signatures) if (!s.valid) failures.push(signatureFailure(s));
    }
    const image: ImageVerification = {
      manifestDigest: integrity.manifestDigest,
      configDigest: integrity.configDigest,
      integrity,
      signatures,
      ok: integrity.ok && signatures.length > 0 && signatures.every((s) => s.valid) && failures.length === 0,
      failures,
    };
    if (integrity.platform !== undefined) image.platform = integrity.platform;
    images.push(image);
  }
  const failures = images.flatMap((img) => img.failures.map((f) => (many ? `${img.platform ?? img.manifestDigest}: ${f}` : f)));
  return {
    reference: report.reference,
    digest: report.digest,
    kind: report.kind,
    images,
    ok: images.length > 0 && images.every((img) => img.ok),
    failures,
  };
}

/**
 * A signature entry as inspect shows it: which key made it and whether it checks (status), without a
 * trust judgement. Without a verify function the status is 'unknown-key' and the type 'unchecked'.
 */
export interface SignatureInfo extends Omit<SignatureReport, 'valid' | 'trusted'> {
  /** The entry's digest is what this configuration gives for it (false: changed after signing). */
  digestMatches: boolean;
}

export interface InspectedImage {
  platform?: string;
  manifestDigest: Digest;
  mediaType: string;
  configDigest: Digest;
  layers: Descriptor[];
  /** Labels, without the signatures label. */
  labels: Record<string, string>;
  signatures: SignatureInfo[];
}

export interface InspectResult {
  reference: string;
  digest: Digest;
  kind: 'manifest' | 'index';
  mediaType: string;
  images: InspectedImage[];
}

/**
 * Who signed what: every image's digests, layers, labels and signature entries. With `verify`, each
 * entry also says which key made it and whether it checks; no trust judgement is made. Blobs other
 * than configurations are not read.
 */
export async function inspectImage(source: ImageSource, verify?: VerifyFunction, opts: { platform?: string; expectedDigest?: Digest } = {}): Promise<InspectResult> {
  const { top, manifests } = await resolveManifests(source, opts);
  const images: InspectedImage[] = [];
  const unchecked: VerifyFunction = async () => ({ status: 'unknown-key', type: 'unchecked', reason: 'not verified' });
  for (const r of manifests) {
    const config = await readConfig(source, r.manifest);
    let checks: SignatureCheck[] = [];
    if (readSignatures(config).length > 0) checks = await verifySignatures(config, verify ? guarded(verify) : unchecked);
    const labels = { ...config.labels };
    delete labels[SIGNATURES_LABEL];
    const img: InspectedImage = {
      manifestDigest: r.manifest.digest,
      mediaType: r.manifest.mediaType,
      configDigest: r.manifest.config.digest,
      layers: r.manifest.layers,
      labels,
      signatures: checks.map((c) => {
        const { valid: _valid, trusted: _trusted, ...rest } = toReport(c);
        const info: SignatureInfo = { ...rest, digestMatches: c.digestMatches };
        return info;
      }),
    };
    const platform = r.platform ?? configPlatform(config);
    if (platform !== undefined) img.platform = platform;
    images.push(img);
  }
  return {
    reference: source.reference.toString(),
    digest: top.digest,
    kind: top.kind,
    mediaType: top.mediaType,
    images,
  };
}

