/**
 * `dsv inspect`: the detached signatures of an image in every format — simple signing (lookaside /
 * extension API), cosign `.sig` attachments and Sigstore bundle referrers — with what each claims (key,
 * signer, identity, digest, timestamp) and whether it checks with the keys given (--trust; cosign:FILE
 * for cosign), without judging trust.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readTopManifest } from '@dsv/core/operations';
import { digestOf, parseDigest } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import { describeSimpleSignature, readPublicKeys as readPgpKeys, verifySimpleSignature } from '@dsv/signature-simple';
import {
  parseBundle, parseCosignPayload, readCosignSignatures, readPublicKeys as readPemKeys, subjectAltNames, verifyCosignAttachment, verifyImageBundle,
  CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
} from '@dsv/signature-cosign';
import type { CliContext } from '../context.js';
import { registrySubject, type RegistryOrigin } from './origin.js';
import type { DetachedStores, SignedSubject } from './stores.js';

export interface DetachedSignatureInfo {
  format: 'simple-signing' | 'cosign' | 'sigstore-bundle';
  origin: string;
  keyId?: string;
  signer?: string;
  identity?: string;
  manifestDigest?: string;
  /** ISO time the signature claims (simple: optional.timestamp; cosign: optional timestamp annotations). */
  timestamp?: string;
  /** true: checks with a given key and names this manifest; false: does not (reason); null: not checked (no key given). */
  valid: boolean | null;
  reason: string;
}

export interface DetachedListing {
  subject?: SignedSubject;
  origin?: RegistryOrigin;
  signatures: DetachedSignatureInfo[];
  /** Stores that could not be read, one line each. */
  errors: string[];
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

function isoOf(seconds: unknown): string | undefined {
  const n = typeof seconds === 'number' ? seconds : typeof seconds === 'string' && /^\d+$/.test(seconds) ? Number(seconds) : NaN;
  return Number.isFinite(n) ? new Date(n * 1000).toISOString() : undefined;
}

function digestMatches(claimed: string | undefined, manifestBytes: Uint8Array): boolean {
  if (!claimed) return false;
  try {
    return digestOf(manifestBytes, parseDigest(claimed).algorithm) === claimed;
  } catch {
    return false;
  }
}

/** What a key check found, as the three signature libraries report it. */
interface KeyCheck {
  valid: boolean;
  keyId?: string | undefined;
  signer?: string | undefined;
  reason?: string | undefined;
}

/** A key check's verdict into the listing's fields (its key and signer where it names them). */
function record(info: DetachedSignatureInfo, v: KeyCheck): void {
  info.valid = v.valid;
  if (v.keyId) info.keyId = v.keyId;
  if (v.signer) info.signer = v.signer;
  info.reason = v.valid ? 'signature checks with a given key' : v.reason ?? 'invalid';
}

/**
 * A simple or cosign signature's verdict, in order: a problem already found (not valid), a manifest digest
 * other than this one (not valid), no key to check it with (not checked: `unchecked`), else the key check.
 */
async function judge(info: DetachedSignatureInfo, manifestBytes: Uint8Array, o: { problem?: string; unchecked?: string; check: () => Promise<KeyCheck> }): Promise<void> {
  if (o.problem !== undefined) {
    info.valid = false;
    info.reason = o.problem;
  } else if (!digestMatches(info.manifestDigest, manifestBytes)) {
    info.valid = false;
    info.reason = `it signs manifest ${info.manifestDigest}, not this one`;
  } else if (o.unchecked !== undefined) {
    info.reason = o.unchecked;
  } else {
    record(info, await o.check());
  }
}

/** The key files of --trust: cosign:FILE for cosign (PEM), the rest tried as OpenPGP keys for simple signing. */
async function keysOf(trust: string[]): Promise<{ pgp: Awaited<ReturnType<typeof readPgpKeys>>; cosign: KeyObject[] }> {
  const pgp: Awaited<ReturnType<typeof readPgpKeys>> = [];
  const cosign: KeyObject[] = [];
  for (const spec of trust) {
    const m = /^([a-z0-9]+):(.+)$/i.exec(spec);
    const type = m?.[1]?.toLowerCase();
    const path = m && ['cosign', 'gpg', 'pki'].includes(type!) ? m[2]! : spec;
    const bytes = new Uint8Array(await readFile(path));
    if (type === 'cosign') cosign.push(...readPemKeys(bytes, path));
    else if (type !== 'pki') {
      try {
        pgp.push(...(await readPgpKeys(bytes, path)));
      } catch {
        /* not an OpenPGP key: the embedded signatures' verifier reports it */
      }
    }
  }
  return { pgp, cosign };
}

export async function listDetachedSignatures(ctx: CliContext, stores: DetachedStores, ref: ImageReference, opts: { trust?: string[] } = {}): Promise<DetachedListing> {
  const top = await readTopManifest(ref, ctx.system);
  const out: DetachedListing = { signatures: [], errors: [] };
  let found: Awaited<ReturnType<typeof registrySubject>>;
  try {
    found = await registrySubject(ctx, stores, ref, top);
  } catch (e) {
    // A named registry image that cannot be read or proved: listed as such, the rest of inspect stands.
    out.errors.push(`the registry image it came from: ${firstLine(e)}`);
    return out;
  }
  if (!found) return out;
  out.subject = found.subject;
  if (found.origin) out.origin = found.origin;
  const { dockerReference, manifestDigest } = found.subject;
  const bytes = found.manifestBytes;
  const keys = await keysOf(opts.trust ?? []);

  try {
    const sigs = await stores.readSimple(dockerReference, manifestDigest);
    for (const [i, sig] of sigs.entries()) {
      const d = await describeSimpleSignature(sig);
      const info: DetachedSignatureInfo = { format: 'simple-signing', origin: `simple signature ${i + 1}`, valid: null, reason: '' };
      if (d.keyId) info.keyId = d.keyId;
      if (d.payload) {
        info.identity = d.payload.dockerReference;
        info.manifestDigest = d.payload.manifestDigest;
        const ts = isoOf(d.payload.timestamp);
        if (ts) info.timestamp = ts;
      }
      await judge(info, bytes, {
        ...(d.reason ? { problem: d.reason } : {}),
        ...(keys.pgp.length === 0 ? { unchecked: 'not checked: no OpenPGP key given (--trust FILE)' } : {}),
        check: async () => {
          const v = await verifySimpleSignature(sig, keys.pgp);
          return { ...v, keyId: v.fingerprint };
        },
      });
      out.signatures.push(info);
    }
  } catch (e) {
    out.errors.push(`simple signatures: ${firstLine(e)}`);
  }

  const store = await stores.tagStore(dockerReference);
  try {
    const atts = await readCosignSignatures(store, manifestDigest);
    for (const [i, att] of atts.entries()) {
      const info: DetachedSignatureInfo = { format: 'cosign', origin: `cosign signature ${i + 1}`, valid: null, reason: '' };
      if (att.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
        out.signatures.push({ ...info, valid: false, reason: `an attachment of type ${att.mediaType}, not a signature` });
        continue;
      }
      try {
        const p = parseCosignPayload(att.payload);
        info.identity = p.dockerReference;
        info.manifestDigest = p.manifestDigest;
        const ts = isoOf(p.optional?.timestamp ?? p.optional?.['sigstore.dev/timestamp']);
        if (ts) info.timestamp = ts;
      } catch (e) {
        out.signatures.push({ ...info, valid: false, reason: firstLine(e) });
        continue;
      }
      const cert = att.annotations[CERTIFICATE_ANNOTATION];
      if (cert) {
        try {
          const c = new X509Certificate(cert);
          const san = subjectAltNames(c);
          info.signer = [...san.email, ...san.uri, ...san.dns][0] ?? c.subject;
        } catch {
          info.signer = 'an unreadable certificate';
        }
      }
      await judge(info, bytes, {
        ...(!att.annotations[SIGNATURE_ANNOTATION] ? { problem: 'no signature annotation' } : {}),
        ...(keys.cosign.length === 0
          ? { unchecked: cert ? 'not checked: certificate-based (judge it with a policy: sigstoreSigned fulcio / pki)' : 'not checked: no cosign key given (--trust cosign:FILE)' }
          : {}),
        check: async () => verifyCosignAttachment(att, { keys: keys.cosign }),
      });
      out.signatures.push(info);
    }
  } catch (e) {
    out.errors.push(`cosign signatures: ${firstLine(e)}`);
  }

  try {
    // The referrers API when the registry answers it, else the referrers tag schema.
    for (const b of await stores.bundleSource({ dockerReference, manifestDigest })) {
      const info: DetachedSignatureInfo = { format: 'sigstore-bundle', origin: `sigstore bundle ${b.referrer}`, valid: null, reason: '' };
      try {
        parseBundle(b.bundle);
      } catch (e) {
        out.signatures.push({ ...info, valid: false, reason: firstLine(e) });
        continue;
      }
      if (keys.cosign.length === 0) {
        info.manifestDigest = manifestDigest;
        info.reason = 'not checked: no cosign key given (--trust cosign:FILE)';
      } else {
        const v = verifyImageBundle(b.bundle, { manifestDigest, manifestBytes: bytes }, { keys: keys.cosign });
        if (v.subjectName) info.identity = v.subjectName;
        if (v.manifestDigest) info.manifestDigest = v.manifestDigest;
        record(info, v);
      }
      out.signatures.push(info);
    }
  } catch (e) {
    out.errors.push(`sigstore bundles: ${firstLine(e)}`);
  }
  return out;
}

const INDENT = '    ';

export function formatDetachedText(l: DetachedListing): string {
  const out: string[] = [];
  if (!l.subject) {
    out.push(`detached signatures: none found (${l.errors.length ? `could not read ${l.errors.join('; ')}` : 'no registry manifest known for this image'})`);
    return `${out.join('\n')}\n`;
  }
  out.push(`detached signatures of ${l.subject.dockerReference}@${l.subject.manifestDigest}: ${l.signatures.length === 0 ? 'none' : l.signatures.length}`);
  for (const s of l.signatures) {
    const status = s.valid === true ? 'valid' : s.valid === false ? `NOT valid: ${s.reason}` : s.reason;
    out.push(`${INDENT}${s.format} ${s.origin}${s.keyId ? ` key ${s.keyId}` : ''} (${status})`);
    if (s.signer) out.push(`${INDENT}${INDENT}signer: ${s.signer}`);
    if (s.identity) out.push(`${INDENT}${INDENT}identity: ${s.identity}`);
    if (s.timestamp) out.push(`${INDENT}${INDENT}timestamp: ${s.timestamp}`);
  }
  for (const e of l.errors) out.push(`${INDENT}could not read ${e}`);
  return `${out.join('\n')}\n`;
}

export function detachedJson(l: DetachedListing) {
  return {
    subject: l.subject ?? null,
    origin: l.origin ?? null,
    signatures: l.signatures.map((s) => ({
      format: s.format, origin: s.origin, keyId: s.keyId ?? null, signer: s.signer ?? null, identity: s.identity ?? null,
      manifestDigest: s.manifestDigest ?? null, timestamp: s.timestamp ?? null, valid: s.valid, reason: s.reason,
    })),
    errors: l.errors,
  };
}
