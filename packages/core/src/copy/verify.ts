/**
 * verifyImage (integrity of every blob, streamed once, and every embedded signature) and inspectImage
 * (who signed what, reading no blob but the configurations), only through the transport interfaces.
 */
import type { Digest } from '../digest.js';
import { DsvError } from '../errors.js';
import { configPlatform, readConfig, resolveManifests } from '../image.js';
import { checkIntegrity, integrityErrors, type ImageCheck } from '../integrity.js';
import type { ImageConfig } from '../config.js';
import type { Descriptor } from '../model.js';
import type { VerificationResult, VerificationStatus } from '../signer.js';
import { readSignatures, SIGNATURES_LABEL, verifySignatures, type SignatureCheck } from '../signatures.js';
import type { ImageSource, ProgressEvent } from '../transport.js';

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
  maxLayerRatio?: number;
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
  const check = guarded(verify);
  // Each configuration's signatures are checked while its layers are read (a verifier's start-up, a key
  // ring read or a gpg run overlap the hashing); the outcome is taken only after integrity, as before.
  const checks = new Map<number, Promise<{ checks: SignatureCheck[] } | { error: unknown }>>();
  const onConfig = (index: number, config: ImageConfig) => {
    checks.set(index, verifySignatures(config, check).then((c) => ({ checks: c }), (error: unknown) => ({ error })));
  };
  const { report, configs } = await checkIntegrity(source, { ...opts, onConfig });
  const many = report.images.length > 1;
  const images: ImageVerification[] = [];
  for (let i = 0; i < report.images.length; i++) {
    const integrity = report.images[i]!;
    const config = configs[i];
    const failures = integrityErrors({ ...report, images: [integrity] }).map((e) => e.message);
    let signatures: SignatureReport[] = [];
    if (config) {
      try {
        const outcome = await checks.get(i)!;
        if ('error' in outcome) throw outcome.error;
        signatures = outcome.checks.map(toReport);
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

