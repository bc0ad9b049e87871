/**
 * Embedded signatures, in docker-sign-verify's format: the image configuration's "signatures" label holds
 * a JSON string, a list of {"digest", "signature"} entries, written exactly as Python's json.dumps(list).
 *
 * - sign: the canonical digest of the config with the list emptied is signed (the signed data is the UTF-8
 *   digest string "sha256:<hex>"); the entry is appended to the existing list, so co-signatures all cover
 *   the signature-less config.
 * - endorse: the canonical digest of the config including the signatures so far is signed and appended.
 * - resign: the list is replaced by one new signature over the emptied-list digest.
 *
 * Verification walks the list: an entry whose digest equals entry 0's digest is a (co-)signature and must
 * equal the emptied-list digest; entry i otherwise is an endorsement and must equal the digest of the
 * config whose list holds entries 0..i-1 (re-serialised as Python would).
 */
import { astToLossless, JsonNumberLiteral, JsonSyntaxError, parseJsonAst, pythonJsonDumps } from './canonical-json.js';
import type { ImageConfig } from './config.js';
import { digestOf, parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';
import type { Signer, VerificationResult } from './signer.js';

export interface SignatureEntry {
  digest: Digest;
  signature: string;
}

export type SignatureKind = 'sign' | 'endorse' | 'resign';
export const SIGNATURE_KINDS: readonly SignatureKind[] = ['sign', 'endorse', 'resign'];
export function isSignatureKind(value: string): value is SignatureKind {
  return (SIGNATURE_KINDS as readonly string[]).includes(value);
}

export const SIGNATURES_LABEL = 'signatures';

const encoder = new TextEncoder();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumberLiteral);
}

/**
 * The label's list as parsed, every entry checked: each item is kept losslessly (member order, any extra
 * members, number literals) so re-serialising a prefix for an endorsement gives exactly what the original
 * tool hashed.
 */
function readRawList(config: ImageConfig): { raw: Record<string, unknown>[]; entries: SignatureEntry[] } {
  const label = config.labels[SIGNATURES_LABEL];
  if (label === undefined || label === '') return { raw: [], entries: [] };
  let parsed: unknown;
  try {
    parsed = astToLossless(parseJsonAst(label));
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      throw new DsvError('ConfigInvalid', `the "${SIGNATURES_LABEL}" label is not valid JSON: ${e.message}`, {}, { cause: e });
    }
    throw e;
  }
  if (!Array.isArray(parsed)) throw new DsvError('ConfigInvalid', `the "${SIGNATURES_LABEL}" label must hold a JSON list`);
  const entries = parsed.map((item, i): SignatureEntry => {
    const where = `"${SIGNATURES_LABEL}" label entry ${i}`;
    if (!isRecord(item)) throw new DsvError('ConfigInvalid', `${where} must be an object`, { index: i });
    if (typeof item.digest !== 'string') throw new DsvError('ConfigInvalid', `${where} has no "digest" string`, { index: i });
    if (typeof item.signature !== 'string') throw new DsvError('ConfigInvalid', `${where} has no "signature" string`, { index: i });
    let digest: Digest;
    try {
      digest = parseDigest(item.digest).digest;
    } catch (e) {
      throw new DsvError('ConfigInvalid', `${where}: ${(e as Error).message}`, { index: i }, { cause: e });
    }
    return { digest, signature: item.signature };
  });
  return { raw: parsed as Record<string, unknown>[], entries };
}

/** The embedded signatures; [] when the label is absent or empty. ConfigInvalid when it is malformed. */
export function readSignatures(config: ImageConfig): SignatureEntry[] {
  return readRawList(config).entries;
}

function toItems(entries: SignatureEntry[]): { digest: string; signature: string }[] {
  return entries.map((e, i) => {
    if (!e || typeof e.signature !== 'string') throw new DsvError('Usage', `signature entry ${i} has no signature text`);
    return { digest: parseDigest(e.digest).digest, signature: e.signature };
  });
}

function labelText(items: unknown[]): string {
  return pythonJsonDumps(items);
}

/** A new configuration whose label holds `entries` (Python json.dumps format; [] gives "[]"). */
export function withSignatures(config: ImageConfig, entries: SignatureEntry[]): ImageConfig {
  return config.withLabel(SIGNATURES_LABEL, labelText(toItems(entries)));
}

function coveredByItems(config: ImageConfig, items: unknown[]): Digest {
  return digestOf(config.canonicalBytesWithLabel(SIGNATURES_LABEL, labelText(items)));
}

/** Canonical digest of `config` with its signatures label holding exactly `entries`. */
export function coveredDigest(config: ImageConfig, entries: SignatureEntry[]): Digest {
  return coveredByItems(config, toItems(entries));
}

/**
 * Signs `config` (see the module comment for the three kinds) and returns the new configuration with the
 * entry added. The signer signs the UTF-8 bytes of the digest string.
 */
export async function addSignature(
  config: ImageConfig,
  signer: Signer,
  kind: SignatureKind,
): Promise<{ config: ImageConfig; entry: SignatureEntry }> {
  if (kind !== 'sign' && kind !== 'endorse' && kind !== 'resign') {
    throw new DsvError('Usage', `unknown signature kind "${String(kind)}" (sign, endorse, resign)`);
  }
  const { raw } = readRawList(config);
  // An endorsement covers the list as a verifier will rebuild it (re-serialised), not the label's text.
  const digest = kind === 'endorse' ? coveredByItems(config, raw) : coveredByItems(config, []);
  const signature = await signer.sign(encoder.encode(digest));
  if (typeof signature !== 'string' || signature === '') {
    throw new DsvError('PluginError', `the ${signer.type} signer returned no signature`);
  }
  const entry: SignatureEntry = { digest, signature };
  const items = kind === 'resign' ? [entry] : [...raw, entry];
  return { config: config.withLabel(SIGNATURES_LABEL, labelText(items)), entry };
}

/** What removeSignatureEntries did: the entries taken out as asked, and the endorsements that had to go with them. */
export interface SignatureRemoval {
  config: ImageConfig;
  /** Indexes (in the old list) removed as asked. */
  removed: number[];
  /**
   * Indexes of endorsements not asked for but dropped: an endorsement covers every entry before it, so one
   * made after a removed entry no longer checks (its signer must endorse again).
   */
  dropped: number[];
  /** The entries left, in order. */
  kept: SignatureEntry[];
}

/**
 * A new configuration without the entries `remove` picks, needing no signer: co-signatures all cover the
 * signature-less config, so the ones left stay valid; endorsements before the first removed entry keep their
 * prefix (re-serialised losslessly) and stay valid; endorsements after it cannot and are dropped (see
 * SignatureRemoval.dropped). Nothing picked: the same configuration object.
 */
export function removeSignatureEntries(config: ImageConfig, remove: (entry: SignatureEntry, index: number) => boolean): SignatureRemoval {
  const { raw, entries } = readRawList(config);
  const removed: number[] = [];
  const dropped: number[] = [];
  const items: unknown[] = [];
  const kept: SignatureEntry[] = [];
  for (const [i, entry] of entries.entries()) {
    if (remove(entry, i)) {
      removed.push(i);
      continue;
    }
    const endorsement = entry.digest !== entries[0]!.digest;
    if (endorsement && removed.length > 0) {
      dropped.push(i);
      continue;
    }
    items.push(raw[i]);
    kept.push(entry);
  }
  if (removed.length === 0) return { config, removed, dropped, kept };
  return { config: config.withLabel(SIGNATURES_LABEL, labelText(items)), removed, dropped, kept };
}

export interface SignatureCheck {
  index: number;
  entry: SignatureEntry;
  role: 'signature' | 'endorsement';
  /** What the entry's digest must be for this config. */
  expectedDigest: Digest;
  /** False when the config changed after this entry was made (the result is then 'invalid'). */
  digestMatches: boolean;
  result: VerificationResult;
}

/**
 * Checks every embedded signature, in order. `verify` checks signature text over data (the UTF-8 of the
 * entry's digest string) and should not throw for a bad signature. An entry whose digest does not match
 * the config is reported invalid even when its signature checks. Throws NoSignatures when there are none,
 * so an unsigned image can never pass as "all signatures valid".
 */
export async function verifySignatures(
  config: ImageConfig,
  verify: (data: Uint8Array, signature: string) => Promise<VerificationResult>,
): Promise<SignatureCheck[]> {
  const { raw, entries } = readRawList(config);
  if (entries.length === 0) throw new DsvError('NoSignatures', 'the image configuration carries no signatures');
  const signatureDigest = coveredByItems(config, []);
  const checks: SignatureCheck[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const role = entry.digest === entries[0]!.digest ? 'signature' : 'endorsement';
    const expectedDigest = role === 'signature' ? signatureDigest : coveredByItems(config, raw.slice(0, i));
    const digestMatches = entry.digest === expectedDigest;
    let result = await verify(encoder.encode(entry.digest), entry.signature);
    if (!digestMatches) {
      const why =
        `entry ${i} (${role}) covers ${entry.digest} but the configuration now gives ${expectedDigest}: ` +
        'it was changed after signing';
      result = { ...result, status: 'invalid', reason: result.status === 'valid' || !result.reason ? why : `${why}; ${result.reason}` };
    }
    checks.push({ index: i, entry, role, expectedDigest, digestMatches, result });
  }
  return checks;
}
