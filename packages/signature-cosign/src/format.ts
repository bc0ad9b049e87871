/**
 * cosign as a policy plug-in for `sigstoreSigned`: lists an image's cosign signatures from wherever the
 * caller's source reads them and verifies each with the requirement's keys, Fulcio or PKI roots and
 * Rekor keys. The shapes match @dsv/policy's SignatureFormat structurally (no dependency on it).
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { DsvError, digestOf, parseDigest } from '@dsv/core';
import { MAX_ATTACHMENT_LAYERS, type CosignAttachment } from './attachment.js';
import { readPublicKeys } from './keys.js';
import { verifyImageBundle } from './bundle.js';
import { readBundleReferrers, type ReferrerBundle } from './referrers.js';
import { readCosignSignatures, type TagStore } from './store.js';
import { parseTrustedRoot } from './trusted-root.js';
import { requireIdentity, verifyCosignAttachment, type CosignTrust } from './verify.js';
import { readCertificates } from './x509.js';

export interface CosignImage {
  dockerReference?: string;
  manifestDigest: string;
  manifestBytes?: Uint8Array;
  context?: unknown;
}

/** Where an image's cosign attachments come from. */
export type CosignSignatureSource = (image: CosignImage) => Promise<CosignAttachment[]>;

type KeySource = { kind: 'path'; path: string } | { kind: 'data'; data: Uint8Array };

/** The part of a sigstoreSigned requirement this format reads. */
export interface SigstoreRequirementLike {
  type: string;
  fulcio?: {
    ca?: KeySource;
    /** A Sigstore trusted_root.json: its CAs instead of `ca`, its tlogs beside the rekorPublicKeys (dsv verify --trusted-root). */
    trustedRoot?: KeySource;
    oidcIssuer?: string;
    oidcIssuerRegExp?: string;
    subjectEmail?: string;
    subjectRegExp?: string;
  };
  pki?: { caRoots: KeySource; caIntermediates?: KeySource; subjectEmail?: string; subjectHostname?: string };
  rekorPublicKeys?: KeySource[];
}

export interface CosignFact {
  valid: boolean;
  keyId?: string;
  signer?: string;
  identity?: string;
  manifestDigest?: string;
  reason?: string;
  code?: string;
  /** Keyless: the certificate SAN and OIDC issuer that matched. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
}

export interface CosignSignatureFormat {
  readonly name: 'cosign';
  readonly requirementTypes: readonly ['sigstoreSigned'];
  listSignatures(image: CosignImage): Promise<Array<{ origin: string; data: unknown }>>;
  verifySignature(
    candidate: { origin: string; data: unknown },
    keys: Array<{ kind: string; origin: string; bytes: Uint8Array }>,
    image: CosignImage,
    ctx: { requirement: unknown; readKeyFile(path: string): Promise<Uint8Array> },
  ): Promise<CosignFact>;
}

async function read(src: KeySource, ctx: { readKeyFile(path: string): Promise<Uint8Array> }): Promise<Uint8Array> {
  return src.kind === 'path' ? ctx.readKeyFile(src.path) : src.data;
}

function originOf(src: KeySource, field: string): string {
  return src.kind === 'path' ? src.path : field;
}

/** The trust a sigstoreSigned requirement names, read. */
export async function trustFor(req: SigstoreRequirementLike, keys: Array<{ kind: string; origin: string; bytes: Uint8Array }>,
  ctx: { readKeyFile(path: string): Promise<Uint8Array> }, now?: Date): Promise<CosignTrust> {
  const trust: CosignTrust = now ? { now } : {};
  const rekorKeys: KeyObject[] = [];
  for (const r of req.rekorPublicKeys ?? []) rekorKeys.push(...readPublicKeys(await read(r, ctx), originOf(r, 'rekorPublicKeyData')));
  if (rekorKeys.length) trust.rekorKeys = rekorKeys;
  if (req.fulcio) {
    const f = req.fulcio;
    const identity = {
      ...(f.oidcIssuer !== undefined ? { oidcIssuer: f.oidcIssuer } : {}),
      ...(f.oidcIssuerRegExp !== undefined ? { oidcIssuerRegExp: f.oidcIssuerRegExp } : {}),
      ...(f.subjectEmail !== undefined ? { subjectEmail: f.subjectEmail } : {}),
      ...(f.subjectRegExp !== undefined ? { subjectRegExp: f.subjectRegExp } : {}),
    };
    if (f.trustedRoot) {
      const root = parseTrustedRoot(await read(f.trustedRoot, ctx), originOf(f.trustedRoot, 'fulcio.trustedRoot'));
      trust.fulcio = { caCertificates: root.authorities.flatMap((a) => a.certificates), authorities: root.authorities, ...identity };
      trust.rekorLogs = root.logs;
    } else {
      if (!f.ca) throw new DsvError('Usage', 'sigstoreSigned.fulcio needs caPath or caData');
      const caCertificates: X509Certificate[] = readCertificates(await read(f.ca, ctx), originOf(f.ca, 'fulcio.caData'));
      trust.fulcio = { caCertificates, ...identity };
    }
    requireIdentity(trust.fulcio);
  } else if (req.pki) {
    const p = req.pki;
    trust.pki = {
      roots: readCertificates(await read(p.caRoots, ctx), originOf(p.caRoots, 'pki.caRootsData')),
      ...(p.caIntermediates ? { intermediates: readCertificates(await read(p.caIntermediates, ctx), originOf(p.caIntermediates, 'pki.caIntermediatesData')) } : {}),
      ...(p.subjectEmail !== undefined ? { subjectEmail: p.subjectEmail } : {}),
      ...(p.subjectHostname !== undefined ? { subjectHostname: p.subjectHostname } : {}),
    };
  } else {
    trust.keys = keys.filter((k) => k.kind === 'key').flatMap((k) => readPublicKeys(k.bytes, k.origin));
  }
  return trust;
}

/** Where an image's Sigstore bundles (cosign v3 referrers) come from. */
export type CosignBundleSource = (image: CosignImage) => Promise<ReferrerBundle[]>;

/** A bundle candidate (cosign v3), as listed. */
interface BundleCandidate {
  kind: 'bundle';
  referrer: string;
  bundle: Uint8Array;
}

function isBundleCandidate(v: unknown): v is BundleCandidate {
  return typeof v === 'object' && v !== null && (v as BundleCandidate).kind === 'bundle' && (v as BundleCandidate).bundle instanceof Uint8Array;
}

/**
 * `source`: the tag scheme's attachments; `bundles` (optional): cosign v3 bundles from referrers. A
 * bundle's identity is the repository its in-toto statement names (no tag): match it with
 * matchRepository or exactRepository.
 */
export function cosignFormat(opts: { source: CosignSignatureSource; bundles?: CosignBundleSource; now?: Date }): CosignSignatureFormat {
  return {
    name: 'cosign',
    requirementTypes: ['sigstoreSigned'] as const,
    async listSignatures(image) {
      const list = await opts.source(image);
      if (list.length > MAX_ATTACHMENT_LAYERS) throw new DsvError('LimitExceeded', `the image has more than ${MAX_ATTACHMENT_LAYERS} cosign attachments`);
      const out: Array<{ origin: string; data: unknown }> = list.map((data, i) => ({ origin: `cosign signature ${i + 1}`, data }));
      for (const b of opts.bundles ? await opts.bundles(image) : []) out.push({ origin: `sigstore bundle ${b.referrer}`, data: { kind: 'bundle', ...b } });
      return out;
    },
    async verifySignature(candidate, keys, image, ctx) {
      const req = ctx.requirement as SigstoreRequirementLike;
      const bundle = isBundleCandidate(candidate.data) ? candidate.data : undefined;
      const att = candidate.data as CosignAttachment;
      if (!bundle && (typeof att !== 'object' || att === null || !(att.payload instanceof Uint8Array))) return { valid: false, code: 'malformed', reason: 'not a cosign attachment' };
      if (req.type !== 'sigstoreSigned') return { valid: false, code: 'unsupported', reason: `${bundle ? 'sigstore bundles' : 'cosign signatures'} cannot satisfy ${req.type}` };
      let trust: CosignTrust;
      try {
        trust = await trustFor(req, keys, ctx, opts.now);
      } catch (e) {
        return { valid: false, code: 'unknown-key', reason: (e as Error).message };
      }
      if (bundle) {
        const v = verifyImageBundle(bundle.bundle, image, trust);
        const fact = factOf(v);
        if (!v.valid) return fact;
        fact.manifestDigest = v.manifestDigest!;
        if (v.subjectName) fact.identity = v.subjectName;
        return fact;
      }
      const v = verifyCosignAttachment(att, trust);
      const fact = factOf(v);
      if (!v.valid) return fact;
      fact.identity = v.payload!.dockerReference;
      fact.manifestDigest = v.payload!.manifestDigest;
      if (image.manifestBytes) {
        const alg = parseDigest(fact.manifestDigest).algorithm;
        if (digestOf(image.manifestBytes, alg) !== fact.manifestDigest) {
          return { ...fact, valid: false, code: 'digest-mismatch', reason: `the signature is for manifest ${fact.manifestDigest}, which is not the digest of the image's manifest bytes` };
        }
      }
      return fact;
    },
  };
}

/**
 * What a bundle's or an attachment's verification established, before the subject it names: the key and signer;
 * invalid, the code and reason; valid, the keyless certificate identity and issuer that matched.
 */
function factOf(v: { valid: boolean; keyId?: string; signer?: string; code?: string; reason?: string; certificateIdentity?: string; certificateOidcIssuer?: string }): CosignFact {
  const fact: CosignFact = { valid: v.valid };
  if (v.keyId) fact.keyId = v.keyId;
  if (v.signer) fact.signer = v.signer;
  if (!v.valid) return { ...fact, code: v.code ?? 'bad-signature', reason: v.reason ?? 'invalid' };
  if (v.certificateIdentity !== undefined) fact.certificateIdentity = v.certificateIdentity;
  if (v.certificateOidcIssuer !== undefined) fact.certificateOidcIssuer = v.certificateOidcIssuer;
  return fact;
}

/** A source reading the image's `sha256-<hex>.sig` tag through the TagStore the caller gives for the image (undefined: none). */
export function tagSchemeSource(storeFor: (image: CosignImage) => TagStore | undefined): CosignSignatureSource {
  return async (image) => {
    const store = storeFor(image);
    return store ? readCosignSignatures(store, image.manifestDigest) : [];
  };
}

/**
 * A source reading the image's bundle referrers: through the referrers API when `referrersApi` is given and
 * the registry answers it with an index (OCI 1.1), else through the referrers tag schema (`sha256-<hex>`).
 */
export function referrersTagSource(
  storeFor: (image: CosignImage) => TagStore | undefined,
  referrersApi?: (image: CosignImage) => Promise<Uint8Array | undefined>,
): CosignBundleSource {
  return async (image) => {
    const store = storeFor(image);
    if (!store) return [];
    const index = referrersApi ? await referrersApi(image) : undefined;
    return readBundleReferrers(store, image.manifestDigest, index ? { index } : {});
  };
}
