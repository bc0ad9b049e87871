/**
 * Human and JSON output of sign / verify / inspect. Pure functions from results to text, so the
 * docker plugin and dsv-copy can print the same way. Never given secrets.
 */
import type { CopyResult, ImageVerification, LayerCheck, SignatureReport, VerifyResult } from '@dsv/core/operations';
import type { KeyInfo } from '@dsv/core/formats';
import { exitCodeFor } from './exit-codes.js';

export interface FormatOptions {
  /** --debug: layer lists, signatures, per-blob details. */
  debug?: boolean;
}

const INDENT = '    ';

/** One line, whatever an error message holds (multi-line messages are joined). */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return oneLine(error.message || error.name);
  return oneLine(String(error));
}

function when(d: Date | string | undefined): string | undefined {
  if (d === undefined) return undefined;
  const date = d instanceof Date ? d : new Date(d);
  if (Number.isNaN(date.getTime())) return String(d);
  return date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

function layerOk(l: LayerCheck): boolean {
  return l.digestOk && l.sizeOk && l.diffIdOk && !l.error;
}

/** "signature 0 (gpg) made 2024-… using key ID ABCD…" */
export function describeSignature(s: SignatureReport): string {
  const parts = [`${s.role === 'endorsement' ? 'endorsement' : 'signature'} ${s.index} (${s.type})`];
  const made = when(s.createdAt);
  if (made) parts.push(`made ${made}`);
  if (s.keyId) parts.push(`using key ID ${s.keyId}`);
  return parts.join(' ');
}

function signatureVerdict(s: SignatureReport): string {
  if (s.valid && s.trusted) return 'valid, trusted';
  if (s.valid) return `valid, NOT trusted${s.reason ? `: ${oneLine(s.reason)}` : ''}`;
  if (s.status === 'unknown-key') return `unknown key${s.reason ? `: ${oneLine(s.reason)}` : ''}`;
  return `INVALID${s.reason ? `: ${oneLine(s.reason)}` : ''}`;
}

function platformLabel(img: { platform?: string }, total: number): string {
  return total > 1 || img.platform ? ` [${img.platform ?? 'unknown platform'}]` : '';
}

/** The human verification report of one image (stdout), in the spirit of docker-verify's log. */
export function formatVerifyText(result: VerifyResult, opts: FormatOptions = {}): string {
  const out: string[] = [];
  const n = result.images.length;
  if (result.kind === 'index') out.push(`${result.reference}: image index ${result.digest} (${n} image${n === 1 ? '' : 's'} checked)`);
  for (const img of result.images) {
    out.push(...formatImageVerification(result.reference, img, n, opts));
  }
  out.push(result.ok ? `Verified: ${result.reference} (${result.digest})` : `NOT verified: ${result.reference} (${result.digest})`);
  return out.join('\n') + '\n';
}

function formatImageVerification(reference: string, img: ImageVerification, total: number, opts: FormatOptions): string[] {
  const out: string[] = [];
  const label = platformLabel(img, total);
  out.push(`Verifying Integrity: ${reference}${label} ...`);
  out.push(`${INDENT}manifest digest: ${img.manifestDigest}`);
  out.push(`${INDENT}config digest: ${img.configDigest}`);
  const layers = img.integrity?.layers ?? [];
  if (opts.debug) {
    out.push(`${INDENT}manifest layers:`);
    for (const l of layers) out.push(`${INDENT}${INDENT}${l.descriptor.digest} ${l.descriptor.size} ${l.compression}${layerOk(l) ? '' : ' FAILED'}`);
    out.push(`${INDENT}image layers:`);
    for (const l of layers) out.push(`${INDENT}${INDENT}${l.actualDiffId ?? l.expectedDiffId ?? '?'}`);
  }
  if (img.integrity && !img.integrity.configOk) {
    out.push(`${INDENT}config ${img.configDigest}: FAILED${img.integrity.configError ? ` (${errorMessage(img.integrity.configError)})` : ''}`);
  }
  for (const l of layers) {
    if (layerOk(l)) continue;
    const label = `layer ${l.index} ${l.descriptor.digest}`;
    // Core's layer errors already start with the layer label; print it once.
    const why = l.error
      ? errorMessage(l.error).replace(`${label}: `, '')
      : [!l.digestOk && 'digest mismatch', !l.sizeOk && 'size mismatch', !l.diffIdOk && `diff_id ${l.actualDiffId ?? '?'} is not ${l.expectedDiffId ?? '?'}`].filter(Boolean).join(', ');
    out.push(`${INDENT}${label}: FAILED (${why})`);
  }
  const integrityOk = img.integrity ? img.integrity.ok : true;
  out.push(integrityOk ? 'Integrity check passed.' : 'Integrity check FAILED.');
  out.push(`Verifying Signature(s): ${reference}${label} ...`);
  if (img.signatures.length === 0) out.push(`${INDENT}no signatures`);
  for (const s of img.signatures) {
    out.push(`${INDENT}${describeSignature(s)}: ${signatureVerdict(s)}`);
    if (s.signer) out.push(`${INDENT}${INDENT}${oneLine(s.signer)}`);
    if (opts.debug) {
      if (s.fingerprint) out.push(`${INDENT}${INDENT}fingerprint: ${s.fingerprint}`);
      out.push(`${INDENT}${INDENT}signed digest: ${s.digest}`);
    }
  }
  const sigOk = img.signatures.length > 0 && img.signatures.every((s) => s.valid && s.trusted);
  out.push(sigOk ? 'Signature check passed.' : 'Signature check FAILED.');
  return out;
}

/** One line per failure, each naming what and where (layer, signature index, key id). */
export function verifyFailureLines(result: VerifyResult): string[] {
  const lines: string[] = [];
  const multi = result.images.length > 1;
  for (const img of result.images) {
    const where = multi || img.platform ? `${result.reference} [${img.platform ?? img.manifestDigest}]` : result.reference;
    for (const f of img.failures) lines.push(`${where}: ${oneLine(f)}`);
  }
  // Top-level failures not attributed to an image (e.g. the index itself).
  const perImage = new Set(result.images.flatMap((i) => i.failures));
  for (const f of result.failures) if (!perImage.has(f)) lines.push(`${result.reference}: ${oneLine(f)}`);
  if (!result.ok && lines.length === 0) lines.push(`${result.reference}: verification failed`);
  return lines;
}

export interface SignSummary {
  source: string;
  destination: string;
  key: KeyInfo;
  kind: string;
  result: CopyResult;
  /** --debug only: layer digests and diff_ids per image (manifest digest -> lists). */
  layers?: Map<string, { layers: string[]; diffIds: string[] }>;
}

export function formatSignStart(source: string, destination: string, key: KeyInfo, kind: string): string {
  const who = key.identity ? ` "${oneLine(key.identity)}"` : '';
  return `Signing (${kind}): ${source} -> ${destination} with ${key.type} key ${key.keyId}${who}\n`;
}

/** What was signed, the digests, the new image's digest; --debug adds layers and signatures. */
export function formatSignText(s: SignSummary, opts: FormatOptions = {}): string {
  const out: string[] = [];
  const r = s.result;
  const n = r.images.length;
  for (const img of r.images) {
    const label = n > 1 || img.platform ? ` [${img.platform ?? 'unknown platform'}]` : '';
    out.push(`Image${label}:`);
    out.push(`${INDENT}manifest digest: ${img.sourceManifestDigest} -> ${img.manifestDigest}`);
    out.push(`${INDENT}config digest (source): ${img.sourceConfigDigest}`);
    out.push(`${INDENT}config digest (signed): ${img.configDigest}`);
    const layers = s.layers?.get(img.sourceManifestDigest);
    if (opts.debug && layers) {
      out.push(`${INDENT}manifest layers:`);
      for (const d of layers.layers) out.push(`${INDENT}${INDENT}${d}`);
      out.push(`${INDENT}image layers:`);
      for (const d of layers.diffIds) out.push(`${INDENT}${INDENT}${d}`);
    }
    if (img.signature) {
      out.push(`${INDENT}signed digest: ${img.signature.digest}`);
      if (opts.debug || r.dryRun) {
        out.push(`${INDENT}signature:`);
        out.push(img.signature.signature.trimEnd());
      }
    }
  }
  if (r.kind === 'index') out.push(`Image index: ${r.sourceDigest} -> ${r.destinationDigest}`);
  if (r.dryRun) {
    out.push(`Dry run completed for image: ${s.destination} (${r.destinationDigest}); nothing was written`);
    if (opts.debug && r.manifestBytes) {
      out.push(`${INDENT}manifest that would be written:`);
      out.push(Buffer.from(r.manifestBytes).toString('utf8'));
    }
  } else {
    out.push(`Created new image: ${s.destination} (${r.destinationDigest})`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// JSON

/**
 * The version of every --json report's shape (schemas/*.schema.json); raised when a field changes meaning
 * or goes away (new fields do not raise it).
 */
export const REPORT_SCHEMA_VERSION = 1;

/** A --json report as printed: `schemaVersion` first, then the report. */
export function jsonReportText(value: unknown): string {
  const v = value !== null && typeof value === 'object' && !Array.isArray(value) ? { schemaVersion: REPORT_SCHEMA_VERSION, ...value } : value;
  return `${JSON.stringify(v, null, 2)}\n`;
}

export interface ErrorJson {
  code: string;
  message: string;
  exitCode: number;
}

export function errorJson(error: unknown): ErrorJson {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === 'string' && error instanceof Error && error.name === 'DsvError' ? code : 'Internal',
    message: errorMessage(error),
    exitCode: exitCodeFor(error),
  };
}

function layerJson(l: LayerCheck) {
  return {
    index: l.index,
    digest: l.descriptor.digest,
    size: l.descriptor.size,
    mediaType: l.descriptor.mediaType,
    compression: l.compression,
    expectedDiffId: l.expectedDiffId ?? null,
    actualDigest: l.actualDigest ?? null,
    actualSize: l.actualSize ?? null,
    actualDiffId: l.actualDiffId ?? null,
    digestOk: l.digestOk,
    sizeOk: l.sizeOk,
    diffIdOk: l.diffIdOk,
    ok: layerOk(l),
    error: l.error ? { code: l.error.code, message: errorMessage(l.error) } : null,
  };
}

export function signatureJson(s: SignatureReport) {
  return {
    index: s.index,
    role: s.role,
    digest: s.digest,
    type: s.type,
    keyId: s.keyId ?? null,
    fingerprint: s.fingerprint ?? null,
    signer: s.signer ?? null,
    createdAt: s.createdAt ? (s.createdAt as unknown instanceof Date ? (s.createdAt as unknown as Date).toISOString() : String(s.createdAt)) : null,
    status: s.status,
    valid: s.valid,
    trusted: s.trusted,
    reason: s.reason ?? null,
  };
}

export function imageVerificationJson(img: ImageVerification) {
  return {
    platform: img.platform ?? null,
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    ok: img.ok,
    integrity: img.integrity
      ? {
          ok: img.integrity.ok,
          mediaType: img.integrity.mediaType,
          configOk: img.integrity.configOk,
          configError: img.integrity.configError ? { code: img.integrity.configError.code, message: errorMessage(img.integrity.configError) } : null,
          layers: img.integrity.layers.map(layerJson),
        }
      : null,
    signatures: img.signatures.map(signatureJson),
    failures: img.failures.map(oneLine),
  };
}

export interface VerifyOutcome {
  /** What the user typed. */
  input: string;
  result?: VerifyResult;
  error?: unknown;
}

/** The machine-readable verification report of `dsv verify --json`. */
export function verifyReportJson(outcomes: VerifyOutcome[], exitCode: number) {
  return {
    command: 'verify',
    ok: exitCode === 0,
    exitCode,
    results: outcomes.map((o) => {
      if (o.error !== undefined || !o.result) {
        return { input: o.input, reference: null, ok: false, error: errorJson(o.error), images: [], failures: [errorMessage(o.error)] };
      }
      const r = o.result;
      return {
        input: o.input,
        reference: r.reference,
        digest: r.digest,
        kind: r.kind,
        ok: r.ok,
        error: null,
        images: r.images.map(imageVerificationJson),
        failures: verifyFailureLines(r),
      };
    }),
  };
}

export function signReportJson(s: SignSummary | undefined, input: { source: string; destination: string }, error?: unknown) {
  if (!s) {
    return { command: 'sign', ok: false, source: input.source, destination: input.destination, error: errorJson(error) };
  }
  const r = s.result;
  return {
    command: 'sign',
    ok: true,
    dryRun: r.dryRun,
    source: s.source,
    destination: s.destination,
    signatureType: s.kind,
    key: { type: s.key.type, keyId: s.key.keyId, fingerprint: s.key.fingerprint ?? null, identity: s.key.identity ?? null },
    kind: r.kind,
    sourceDigest: r.sourceDigest,
    destinationDigest: r.destinationDigest,
    images: r.images.map((img) => ({
      platform: img.platform ?? null,
      sourceManifestDigest: img.sourceManifestDigest,
      manifestDigest: img.manifestDigest,
      sourceConfigDigest: img.sourceConfigDigest,
      configDigest: img.configDigest,
      signature: img.signature ? { digest: img.signature.digest, signature: img.signature.signature } : null,
    })),
    error: null,
  };
}

/** Where a tag pointed before signing and where it points now (`dsv sign SRC` without DEST). */
export interface TagMove {
  tag: string;
  from: string;
  to: string;
  dryRun: boolean;
}

export function tagMove(s: SignSummary): TagMove {
  return { tag: s.destination, from: s.result.sourceDigest, to: s.result.destinationDigest, dryRun: s.result.dryRun };
}

/** `Tag moved: docker://h/r:1 sha256:old -> sha256:new` (`would move` in a dry run). */
export function formatTagMove(m: TagMove): string {
  return `Tag ${m.dryRun ? 'would move' : 'moved'}: ${m.tag} ${m.from} -> ${m.to}\n`;
}

// ---------------------------------------------------------------------------------------------
// inspect

/** What `dsv inspect` prints: structural, so it accepts core's inspect result. */
export interface InspectLike {
  reference: string;
  digest: string;
  kind: string;
  images: Array<{
    platform?: string;
    manifestDigest: string;
    configDigest: string;
    layers?: Array<{ digest: string; size: number; mediaType?: string }>;
    labels?: Record<string, string>;
    signatures: Array<Omit<SignatureReport, 'trusted' | 'valid'> & { valid?: boolean; trusted?: boolean }>;
  }>;
}

export function formatInspectText(r: InspectLike, opts: FormatOptions = {}): string {
  const out: string[] = [];
  out.push(`${r.reference}`);
  out.push(`${INDENT}digest: ${r.digest} (${r.kind === 'index' ? 'image index' : 'image manifest'})`);
  for (const img of r.images) {
    out.push(`${img.platform ? `platform ${img.platform}` : 'image'}:`);
    out.push(`${INDENT}manifest digest: ${img.manifestDigest}`);
    out.push(`${INDENT}config digest: ${img.configDigest}`);
    if (img.layers) {
      out.push(`${INDENT}layers: ${img.layers.length}`);
      if (opts.debug) for (const l of img.layers) out.push(`${INDENT}${INDENT}${l.digest} ${l.size}`);
    }
    const labels = Object.entries(img.labels ?? {});
    if (labels.length) {
      out.push(`${INDENT}labels:`);
      for (const [k, v] of labels) out.push(`${INDENT}${INDENT}${k}=${oneLine(v)}`);
    }
    if (img.signatures.length === 0) out.push(`${INDENT}signatures: none`);
    else out.push(`${INDENT}signatures: ${img.signatures.length}`);
    for (const s of img.signatures) {
      const status = s.status === 'valid' ? 'signature checks' : s.status === 'unknown-key' ? 'key not known here' : `does not check${s.reason ? `: ${oneLine(s.reason)}` : ''}`;
      out.push(`${INDENT}${INDENT}${describeSignature(s as SignatureReport)} (${status})`);
      if (s.signer) out.push(`${INDENT}${INDENT}${INDENT}${oneLine(s.signer)}`);
      if (opts.debug && s.fingerprint) out.push(`${INDENT}${INDENT}${INDENT}fingerprint: ${s.fingerprint}`);
    }
  }
  return out.join('\n') + '\n';
}

export function inspectReportJson(input: string, r: InspectLike) {
  return {
    command: 'inspect',
    ok: true,
    input,
    reference: r.reference,
    digest: r.digest,
    kind: r.kind,
    images: r.images.map((img) => ({
      platform: img.platform ?? null,
      manifestDigest: img.manifestDigest,
      configDigest: img.configDigest,
      layers: img.layers?.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType ?? null })) ?? null,
      labels: img.labels ?? {},
      signatures: img.signatures.map((s) => {
        const j = signatureJson({ valid: false, trusted: false, ...s } as SignatureReport);
        const { trusted: _t, ...rest } = j;
        return rest;
      }),
    })),
  };
}
