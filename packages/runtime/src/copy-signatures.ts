/**
 * dsv-copy's detached signatures: what the source has (simple signatures from its lookaside or extension
 * API, cosign `.sig` attachments, referrers in the referrers tag schema), checked against what DEST can
 * hold before anything is written, and carried to DEST once the image is committed with the same digest.
 */
import { readFile } from 'node:fs/promises';
import { DsvError, digestOf, formatDockerReference, parseDigest, parseDockerReference, type Descriptor, type Digest, type Manifest } from '@dsv/core/formats';
import { readBlobVerified, readManifest, resolveManifests } from '@dsv/core/operations';
import type { ImageReference } from '@dsv/core/transport';
import { createSimpleSignature } from '@dsv/signature-simple';
import {
  addCosignSignatures, parseReferrersIndex, readCosignSignatures, referrersTag, signatureTag, signImage, tagStoreFor, OCI_INDEX,
  type CosignAttachment,
} from '@dsv/signature-cosign';
import type { CliContext } from './context.js';
import type { DetachedStores } from './detached/stores.js';
import { gpgBinaryFromEnv, gpgHomeFromEnv } from './environment.js';
import { VERSION } from './version.js';

/** Largest referrer manifest carried (the referrers index and each referrer are small JSON documents). */
const MAX_REFERRER_MANIFEST = 4 * 1024 * 1024;
/** All referrer manifests of one image together (they are held until DEST is written). */
const MAX_REFERRER_BYTES = 16 * 1024 * 1024;

/** The detached signatures of one source manifest. */
export interface FoundSignatures {
  digest: Digest;
  simple: Uint8Array[];
  cosign: CosignAttachment[];
  /** Referrers listed in the source's referrers tag index (`sha256-<hex>`), whose subject is this manifest. */
  referrers: { descriptor: Descriptor; bytes: Uint8Array; blobs: Descriptor[] }[];
}

export interface CarryPlan {
  found: FoundSignatures[];
}

/** What was carried (or would be, on a dry run). */
export interface CarryReport {
  simple: number;
  cosign: number;
  referrers: number;
  /** Source manifests whose signatures were not carried because the copy changed them. */
  skipped: { digest: Digest; count: number }[];
}

/** Transports whose references name a repository and tags, so they hold `.sig` and referrers tags. */
const TAGGED = new Set(['docker', 'oci']);

const total = (f: FoundSignatures) => f.simple.length + f.cosign.length + f.referrers.length;

/** A docker:// reference as the registry reference signatures are stored under. */
export function dockerName(ref: ImageReference): string {
  return ref.within.replace(/^\/\//, '');
}

/** The manifests whose signatures travel: the top one, and with a whole index every image in it too (as skopeo copy --all). */
async function manifestsOf(ctx: CliContext, src: ImageReference, platform?: string, known?: Manifest): Promise<Digest[]> {
  if (known && (known.kind !== 'index' || platform === undefined)) return known.kind === 'index' ? [known.digest, ...known.manifests.map((m) => m.digest)] : [known.digest];
  const source = await src.newSource(ctx.system);
  try {
    const top = await readManifest(source);
    if (top.kind !== 'index') return [top.digest];
    if (platform !== undefined) {
      const { manifests } = await resolveManifests(source, { platform, top });
      return [manifests[0]!.manifest.digest];
    }
    return [top.digest, ...top.manifests.map((m) => m.digest)];
  } finally {
    await source.close();
  }
}

/** The OCI 1.1 referrers API's index for `digest`, when the registry answers it (undefined: use the referrers tag). */
async function referrersViaApi(stores: DetachedStores, src: ImageReference, digest: Digest): Promise<Uint8Array | undefined> {
  const r = stores.parseDocker(dockerName(src));
  return (await (await stores.client(r.registry)).listReferrers(r.repository, digest))?.index;
}

/** The referrers of `subject` in `ref`'s referrers tag index, each manifest read and checked (subject, size, digest). */
async function readReferrers(ctx: CliContext, ref: ImageReference, subject: Digest, apiIndex?: Uint8Array): Promise<FoundSignatures['referrers']> {
  // The registry's referrers API listed them (apiIndex): read the referrers through the image's repository; else the referrers tag.
  const source = await tagStoreFor(ref, ctx.system).openSource(apiIndex ? subject : referrersTag(subject));
  if (!source) return [];
  try {
    let index: Uint8Array;
    try {
      index = apiIndex ?? (await source.getManifest()).bytes;
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFound') return [];
      throw e;
    }
    const out: FoundSignatures['referrers'] = [];
    let held = 0;
    for (const e of parseReferrersIndex(index, subject, digestOf(index))) {
      if (e.size > MAX_REFERRER_MANIFEST) throw new DsvError('LimitExceeded', `referrer ${e.digest} of ${subject}: larger than ${MAX_REFERRER_MANIFEST} bytes`);
      held += e.size;
      if (held > MAX_REFERRER_BYTES) throw new DsvError('LimitExceeded', `the referrers of ${subject} add up to more than ${MAX_REFERRER_BYTES} bytes of manifests; refusing to carry them`);
      const { bytes } = await source.getManifest(e.digest as Digest);
      if (bytes.length !== e.size || digestOf(bytes, parseDigest(e.digest).algorithm) !== e.digest) {
        throw new DsvError('DigestMismatch', `referrer ${e.digest} of ${subject}: the manifest received has another digest or size`);
      }
      let m: { subject?: { digest?: unknown }; config?: Descriptor; layers?: Descriptor[] };
      try {
        m = JSON.parse(Buffer.from(bytes).toString('utf8'));
      } catch {
        throw new DsvError('ManifestInvalid', `referrer ${e.digest} of ${subject}: not JSON`);
      }
      if (!['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].includes(e.mediaType)) {
        throw new DsvError('Usage', `referrer ${e.digest} of ${subject} is a ${e.mediaType}; only image-manifest referrers are carried (--remove-signatures copies without them)`);
      }
      if (m?.subject?.digest !== subject) throw new DsvError('ManifestInvalid', `referrer ${e.digest}: its subject is ${String(m?.subject?.digest)}, not ${subject}`);
      const blobs = [...(m.config ? [m.config] : []), ...(Array.isArray(m.layers) ? m.layers : [])];
      for (const b of blobs) {
        if (typeof b?.digest !== 'string' || !Number.isSafeInteger(b.size)) throw new DsvError('ManifestInvalid', `referrer ${e.digest} of ${subject}: a blob descriptor is invalid`);
        parseDigest(b.digest);
      }
      out.push({ descriptor: { mediaType: e.mediaType, digest: e.digest as Digest, size: e.size }, bytes, blobs });
    }
    return out;
  } finally {
    await source.close();
  }
}

/**
 * Reads every detached signature of the source and checks DEST can hold them, before anything is
 * written: simple signatures go only to a docker:// DEST with the extension API or a file:// lookaside
 * in registries.d (skopeo refuses the same copies); `.sig` and referrers only to docker:// and oci:.
 */
export async function planCarry(ctx: CliContext, stores: DetachedStores, src: ImageReference, dst: ImageReference, platform?: string, top?: Manifest): Promise<CarryPlan> {
  const srcDocker = src.transport.name === 'docker';
  const srcTagged = TAGGED.has(src.transport.name);
  if (!srcDocker && !srcTagged) return { found: [] };
  // Every manifest's stores looked up at once (a few small requests each), reported in manifest order.
  const all = await Promise.all(
    (await manifestsOf(ctx, src, platform, top)).map(async (digest): Promise<FoundSignatures> => {
      const [simple, cosign, referrers] = await Promise.all([
        srcDocker ? stores.readSimple(dockerName(src), digest) : Promise.resolve([]),
        readCosignSignatures(tagStoreFor(src, ctx.system), digest),
        (async () => readReferrers(ctx, src, digest, srcDocker ? await referrersViaApi(stores, src, digest) : undefined))(),
      ]);
      return { digest, simple, cosign, referrers };
    }),
  );
  const found = all.filter((f) => total(f) > 0);
  for (const f of found) ctx.debug(`${src.toString()}: ${f.digest} has ${f.simple.length} simple signature(s), ${f.cosign.length} cosign attachment(s), ${f.referrers.length} referrer(s)`);
  const simple = found.reduce((n, f) => n + f.simple.length, 0);
  const tagged = found.reduce((n, f) => n + f.cosign.length + f.referrers.length, 0);
  const drop = '; --remove-signatures copies the image without them';
  if (simple > 0) {
    if (dst.transport.name !== 'docker') {
      throw new DsvError('Usage', `${dst.toString()} cannot hold the ${simple} simple signature(s) of ${src.toString()} (only docker:// destinations have a signature store)${drop}`);
    }
    await checkSimpleStore(stores, dst, `cannot carry the ${simple} simple signature(s) of ${src.toString()}`, drop);
  }
  if (tagged > 0 && !TAGGED.has(dst.transport.name)) {
    throw new DsvError('Usage', `${dst.toString()} cannot hold the ${tagged} cosign signature(s) / referrer(s) of ${src.toString()} (docker:// and oci: destinations can)${drop}`);
  }
  return { found };
}

/** DEST (docker://) can store simple signatures (the extension API, or a file:// lookaside in registries.d); else a Usage error starting with `what`. */
export async function checkSimpleStore(stores: DetachedStores, dst: ImageReference, what: string, hint = ''): Promise<void> {
  try {
    await stores.simpleWriteTarget(dockerName(dst));
  } catch (e) {
    if (!(e instanceof DsvError) || e.code !== 'Usage') throw e;
    throw new DsvError('Usage', `${what}: ${e.message}${hint}`, e.details, { cause: e });
  }
}

/** Copies referrers (manifests byte for byte, their blobs streamed and verified) and merges DEST's referrers tag index. */
async function carryReferrers(ctx: CliContext, src: ImageReference, dst: ImageReference, f: FoundSignatures): Promise<void> {
  const tag = referrersTag(f.digest);
  const store = tagStoreFor(dst, ctx.system);
  let entries: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[] = [];
  const existing = await store.openSource(tag);
  if (existing) {
    try {
      const bytes = (await existing.getManifest()).bytes;
      entries = parseReferrersIndex(bytes, f.digest, digestOf(bytes));
    } catch (e) {
      if ((e as { code?: string }).code !== 'NotFound') throw e;
    } finally {
      await existing.close();
    }
  }
  const from = await tagStoreFor(src, ctx.system).openSource(tag);
  if (!from) throw new DsvError('NotFound', `${src.toString()}: the referrers of ${f.digest} disappeared while copying`);
  try {
    const dest = await store.openDestination(tag);
    try {
      for (const r of f.referrers) {
        for (const b of r.blobs) if (!(await dest.hasBlob(b))) await dest.putBlob(b, await readBlobVerified(from, b));
        await dest.putManifest(r.bytes, r.descriptor.mediaType, r.descriptor.digest);
        if (!entries.some((e) => e.digest === r.descriptor.digest)) {
          const m = JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
          const artifactType = m.artifactType ?? m.config?.mediaType;
          entries.push({ ...r.descriptor, ...(artifactType ? { artifactType } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) });
        }
      }
      await dest.putManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries })), OCI_INDEX);
      await dest.commit();
    } finally {
      await dest.close();
    }
  } finally {
    await from.close();
  }
}

/**
 * Writes the planned signatures at DEST for every manifest the copy left unchanged (`kept`: source digest
 * → digest at DEST); a changed manifest's signatures are reported as skipped (they would not verify).
 */
export async function carrySignatures(
  ctx: CliContext, stores: DetachedStores, plan: CarryPlan, src: ImageReference, dst: ImageReference, kept: Map<Digest, Digest>, dryRun: boolean,
): Promise<CarryReport> {
  const report: CarryReport = { simple: 0, cosign: 0, referrers: 0, skipped: [] };
  for (const f of plan.found) {
    if (kept.get(f.digest) !== f.digest) {
      report.skipped.push({ digest: f.digest, count: total(f) });
      continue;
    }
    if (f.simple.length > 0) {
      const name = dockerName(dst);
      const there = dryRun ? [] : await stores.readSimple(name, f.digest);
      for (const sig of f.simple) {
        if (there.some((t) => Buffer.from(t).equals(Buffer.from(sig)))) continue;
        if (!dryRun) ctx.debug(`simple signature of ${f.digest} -> ${await stores.writeSimple(name, f.digest, sig)}`);
        report.simple++;
      }
    }
    if (f.cosign.length > 0) {
      if (!dryRun) await addCosignSignatures(tagStoreFor(dst, ctx.system), f.digest, f.cosign);
      report.cosign += f.cosign.length;
    }
    if (f.referrers.length > 0) {
      if (!dryRun) await carryReferrers(ctx, src, dst, f);
      report.referrers += f.referrers.length;
    }
  }
  return report;
}

/** `--sign-by KEY --format simple|cosign`: one detached signature for a manifest digest at DEST. */
export interface DetachedSigner {
  format: 'simple' | 'cosign';
  /** Signs `manifestDigest` claiming `identity` and stores the signature with DEST; returns where it went. */
  signAndStore(stores: DetachedStores, dst: ImageReference, identity: string, manifestDigest: Digest): Promise<string>;
}

/**
 * The signer for `--sign-by KEY --format simple|cosign`, with the key loaded (and a throwaway signature
 * made) now, so a wrong key or passphrase fails before DEST changes. simple: an OpenPGP private key
 * file, else a key id / fingerprint in the GnuPG home; cosign: a cosign.key (encrypted) or PKCS#8 PEM key.
 */
export async function detachedSigner(ctx: CliContext, format: 'simple' | 'cosign', key: string, passphrase: string | undefined): Promise<DetachedSigner> {
  const { cosignKey, isEncryptedCosignKey, simpleKey } = await import('./detached/signers.js');
  if (format === 'cosign') {
    let encrypted = false;
    try {
      encrypted = isEncryptedCosignKey(new Uint8Array(await readFile(key)));
    } catch {
      /* cosignKey says why it cannot be read */
    }
    const { key: privateKey } = await cosignKey(key, encrypted ? (passphrase ?? '') : undefined);
    return {
      format,
      async signAndStore(_stores, dst, identity, manifestDigest) {
        const digest = await signImage(tagStoreFor(dst, ctx.system), { dockerReference: identity, manifestDigest, privateKey });
        return `${dst.toString().replace(/:[^:/@]*$/, '')}:${signatureTag(manifestDigest)}${digest ? '' : ' (already there)'}`;
      },
    };
  }
  const { signer } = await simpleKey({
    key, passphrase: passphrase ?? '', gpgHome: String(ctx.signerSettings.gpg?.gpgHome ?? gpgHomeFromEnv(ctx.env)), gpgBinary: gpgBinaryFromEnv(ctx.env),
    env: ctx.system.childEnv ?? { PATH: '/usr/local/bin:/usr/bin:/bin' },
  });
  // A throwaway signature now: a wrong key or passphrase fails before DEST changes.
  await signer(new TextEncoder().encode('{}'));
  return {
    format,
    async signAndStore(stores, dst, identity, manifestDigest) {
      const signature = await createSimpleSignature({ dockerReference: identity, manifestDigest, signer, creator: `dsv-copy ${VERSION}` });
      return stores.writeSimple(dockerName(dst), manifestDigest, signature);
    },
  };
}

/** A reference as a signature's identity (host/repo:tag, normalised). */
export const identityOf = (identity: string): string => formatDockerReference(parseDockerReference(identity.replace(/^docker:\/\//, ''), { defaultRegistry: 'docker.io' }));
