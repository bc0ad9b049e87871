/**
 * judgeImage: one image reference judged by a containers-policy.json (plus dsvSigned) policy over every
 * signature format dsv reads — simple signing (lookaside / extension API), cosign (.sig tags, bundle
 * referrers) and the embedded signatures. Local images are judged by the signatures of the registry
 * manifest they came from (origin.ts).
 */
import { resolve as resolvePath } from 'node:path';
import { DsvError, formatDockerReference, parseDockerReference, type Manifest } from '@dsv/core/formats';
import { readTopManifest } from '@dsv/core/operations';
import type { ImageReference } from '@dsv/core/transport';
import { evaluatePolicy, loadPolicyFile, type Policy, type PolicyImage, type SignatureFormat, type Verdict } from '@dsv/policy';
import { simpleSigningFormat } from '@dsv/signature-simple';
import { cosignFormat } from '@dsv/signature-cosign';
import type { CliContext } from '../context.js';
import { dctFormat } from './dct-format.js';
import { embeddedFormat } from './embedded.js';
import { registrySubject, type RegistryOrigin } from './origin.js';
import { detachedStores, type DetachedOptions, type DetachedStores, type SignedSubject } from './stores.js';

/** A policy as read from a file (relative key paths resolve against its directory). */
export interface LoadedPolicy {
  policy: Policy;
  baseDir: string;
  /** The file it came from. */
  path?: string;
}

/** Reads a policy file; unreadable, unparsable or unknown requirement: DsvError Usage (exit 2). */
export async function loadPolicy(path: string): Promise<LoadedPolicy> {
  const { policy, baseDir } = await loadPolicyFile(path);
  return { policy, baseDir, path: resolvePath(path) };
}

export interface JudgeOptions extends DetachedOptions {
  /** Stores to use (shared across images of one command); default: made here and closed after. */
  stores?: DetachedStores;
  /** --platform: only this platform's embedded signatures. */
  platform?: string;
  /** Extra formats (tests); default simple signing, cosign, embedded. */
  formats?: SignatureFormat[];
  /** The image's top-level manifest, already read from it by the caller: not read again. */
  top?: Manifest;
}

/** The verdict, plus what was judged. */
export interface Judgement extends Verdict {
  /** The image as given. */
  reference: string;
  /** Digest of the image's top manifest where it lives. */
  manifestDigest: string;
  /** The registry manifest whose detached signatures were judged (local images: the one they came from). */
  subject?: SignedSubject;
  /** For local images: how the registry manifest was proved to be this image. */
  origin?: RegistryOrigin;
}

const NAMED = new Set(['docker', 'docker-daemon', 'docker-storage', 'containerd']);
const PATHS = new Set(['oci', 'oci-archive', 'docker-archive', 'dir']);

/** `host/repo:tag` of a named local image (docker-daemon:app:1 → docker.io/library/app:1); undefined for an ID. */
function namedReference(within: string): string | undefined {
  const w = within.startsWith('//') ? within.slice(2) : within;
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(w)) return undefined;
  try {
    return formatDockerReference(parseDockerReference(w.replace(/^[^/]*\/\//, ''), { defaultRegistry: 'docker.io' }));
  } catch {
    return undefined;
  }
}

/** The layout/archive path of a path reference (`/dir/layout:tag` → /dir/layout). */
function pathOf(within: string): string {
  const slash = within.lastIndexOf('/');
  const colon = within.indexOf(':', slash + 1);
  return resolvePath(colon === -1 ? within : within.slice(0, colon));
}

/** `TYPE: reason` of every requirement a verdict found not satisfied (none: the verdict allowed, or no requirement applied). */
export function unmetRequirements(verdict: Pick<Verdict, 'requirements'>): string[] {
  return verdict.requirements.filter((r) => !r.allowed).map((r) => `${r.type}: ${r.reason}`);
}

/** The formats a judgement uses. */
export function policyFormats(ctx: CliContext, stores: DetachedStores): SignatureFormat[] {
  return [
    simpleSigningFormat({ source: stores.simpleSource }) as unknown as SignatureFormat,
    cosignFormat({ source: stores.cosignSource, bundles: stores.bundleSource }) as unknown as SignatureFormat,
    embeddedFormat(ctx),
    dctFormat(ctx),
  ];
}

/**
 * Judges an image by a policy. Never throws for a bad or missing signature (the verdict says why);
 * throws for a reference that cannot be read (NotFound, Network, ...). Integrity is not checked here:
 * callers verify the image (every digest and diff_id) as well.
 */
export async function judgeImage(ctx: CliContext, image: string | ImageReference, policy: LoadedPolicy | Policy, opts: JudgeOptions = {}): Promise<Judgement> {
  const ref = typeof image === 'string' ? ctx.parseImage(image) : image;
  const loaded: LoadedPolicy = 'policy' in policy ? policy : { policy, baseDir: process.cwd() };
  const stores = opts.stores ?? (await detachedStores(ctx, opts));
  try {
    const top = opts.top ?? (await readTopManifest(ref, ctx.system));
    if (ref.digest && top.digest !== ref.digest) throw new DsvError('DigestMismatch', `${ref.toString()}: the manifest read has digest ${top.digest}`);
    const transport = ref.transport.name;
    // A registry origin that cannot be proved is reported by the detached formats (their requirements
    // fail with the reason); embedded signatures are judged regardless.
    let found: Awaited<ReturnType<typeof registrySubject>>;
    let subjectError: unknown;
    try {
      found = await registrySubject(ctx, stores, ref, top);
    } catch (e) {
      subjectError = e;
    }
    const input: PolicyImage = { transport, manifestDigest: top.digest, manifestBytes: top.bytes };
    const named = transport === 'docker' ? formatDockerReference(stores.parseDocker(ref.within)) : NAMED.has(transport) ? namedReference(ref.within) : undefined;
    // Identity is matched against the registry reference the image came from (a local image's name is local).
    const dockerReference = found?.subject.dockerReference ?? named;
    if (dockerReference !== undefined) input.dockerReference = dockerReference;
    if (PATHS.has(transport)) input.path = pathOf(ref.within);
    if (found) {
      // Signatures bind the registry manifest: the detached formats see its digest and bytes.
      input.manifestDigest = found.subject.manifestDigest;
      input.manifestBytes = found.manifestBytes;
    }
    input.context = { subject: found?.subject ?? null, local: ref, ...(subjectError !== undefined ? { subjectError } : {}), ...(opts.platform ? { platform: opts.platform } : {}) };
    const verdict = await evaluatePolicy(loaded.policy, input, { formats: opts.formats ?? policyFormats(ctx, stores), baseDir: loaded.baseDir });
    const out: Judgement = { ...verdict, reference: ref.toString(), manifestDigest: top.digest };
    if (found) {
      out.subject = found.subject;
      if (found.origin) out.origin = found.origin;
    }
    return out;
  } finally {
    if (!opts.stores) await stores.close();
  }
}
