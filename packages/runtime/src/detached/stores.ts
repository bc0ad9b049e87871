/**
 * The signature stores of one command: registries.d lookaside stores and the registry signature extension
 * API for simple signatures, the cosign `.sig` tag store and the referrers-tag bundles, over registry
 * clients shared per registry (closed by close()).
 */
import { DsvError, formatDockerReference, parseDockerReference, type DockerReference } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import {
  addLookasideSignature, getExtensionSignatures, lookasideBase, putExtensionSignature, readLookasideSignatures,
  type RegistriesD, type SimpleSignatureSource,
} from '@dsv/signature-simple';
import { referrersTagSource, tagSchemeSource, tagStoreFor, type CosignBundleSource, type CosignSignatureSource, type TagStore } from '@dsv/signature-cosign';
import type { RegistryClient } from '@dsv/source-registry';
import type { CliContext } from '../context.js';
import { loadRegistries } from './registries.js';

export interface DetachedOptions {
  /** --registries.d DIR. */
  registriesD?: string;
}

/** The registry reference whose signatures an image has (set by judgeImage in PolicyImage.context). */
export interface SignedSubject {
  /** The registry reference (host/repo:tag or @digest) signatures are stored under. */
  dockerReference: string;
  manifestDigest: string;
}

export interface DetachedStores {
  registries: RegistriesD;
  /** host/repo[:tag][@digest] parsed with the context's default registry. */
  parseDocker(reference: string): DockerReference;
  /** A docker: ImageReference for a registry reference (for the tag stores, reading registry manifests). */
  dockerImage(reference: string): Promise<ImageReference>;
  /** The shared registry client of a registry (host[:port]). */
  client(registry: string): Promise<RegistryClient>;
  /** Whether the registry of `reference` serves the signature extension API. */
  supportsExtension(reference: string): Promise<boolean>;
  /** Simple signatures of a registry manifest: the extension API when the registry has it, else the lookaside store (none configured: none). */
  readSimple(reference: string, manifestDigest: string): Promise<Uint8Array[]>;
  /** Where a simple signature for `reference` would be written (checked before signing). Neither store available: a Usage error saying how to configure one. */
  simpleWriteTarget(reference: string): Promise<string>;
  /** Stores one simple signature; returns where it went. Neither store available: a Usage error saying how to configure one. */
  writeSimple(reference: string, manifestDigest: string, signature: Uint8Array): Promise<string>;
  /** The cosign tag store of a registry reference's repository. */
  tagStore(reference: string): Promise<TagStore>;
  /** Sources for the policy formats (PolicyImage.dockerReference / manifestDigest name the registry image). */
  simpleSource: SimpleSignatureSource;
  cosignSource: CosignSignatureSource;
  bundleSource: CosignBundleSource;
  close(): Promise<void>;
}

/** The registry reference of an image as formats see it: PolicyImage.context's subject when set, else the image's own. */
export function subjectOf(image: { dockerReference?: string; manifestDigest: string; context?: unknown }): SignedSubject | undefined {
  const c = image.context as { subject?: SignedSubject | null; subjectError?: unknown } | undefined;
  if (c?.subjectError !== undefined) throw c.subjectError;
  // judgeImage always says (a local image without a registry origin: none, never its local name).
  if (c && 'subject' in c) return c.subject ?? undefined;
  return image.dockerReference === undefined ? undefined : { dockerReference: image.dockerReference, manifestDigest: image.manifestDigest };
}

export async function detachedStores(ctx: CliContext, opts: DetachedOptions = {}): Promise<DetachedStores> {
  const registries = await loadRegistries(ctx, opts.registriesD);
  const { createDockerTransport } = await import('@dsv/source-registry');
  const docker = createDockerTransport(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {});
  const clients = new Map<string, RegistryClient>();
  const tagStores = new Map<string, TagStore>();
  const parseDocker = (reference: string): DockerReference =>
    parseDockerReference(reference.replace(/^docker:\/\//, ''), { defaultRegistry: ctx.system.defaultRegistry ?? 'docker.io' });
  const full = (reference: string): string => formatDockerReference(parseDocker(reference));
  const client = async (registry: string): Promise<RegistryClient> => {
    let c = clients.get(registry);
    if (!c) {
      c = (docker.parseReference(`${registry}/x`) as unknown as { newClient(ctx: unknown): RegistryClient }).newClient(ctx.system);
      clients.set(registry, c);
    }
    return c;
  };
  const supportsExtension = async (reference: string): Promise<boolean> => (await client(parseDocker(reference).registry)).supportsSignatures();
  const extensionTarget = async (reference: string, manifestDigest: string) => {
    const ref = parseDocker(reference);
    const c = await client(ref.registry);
    return { baseUrl: (await c.baseUrl()).replace(/\/$/, ''), repository: ref.repository, manifestDigest, request: c.extensionRequest(ref.repository) };
  };
  const readSimple = async (reference: string, manifestDigest: string): Promise<Uint8Array[]> => {
    if (await supportsExtension(reference)) return getExtensionSignatures(await extensionTarget(reference, manifestDigest));
    const base = lookasideBase(registries, full(reference), false);
    if (base === undefined) return [];
    return readLookasideSignatures(base, full(reference), manifestDigest);
  };
  /** The file:// lookaside registries.d names for writing a simple signature of `reference`; a Usage error where there is none. */
  const writableLookaside = (reference: string, ref: DockerReference): string => {
    const base = lookasideBase(registries, full(reference), true);
    if (base === undefined) {
      throw new DsvError('Usage', `nowhere to store a simple signature for ${ref.registry}/${ref.repository}: the registry has no signature extension API and registries.d (${registries.dir ?? 'none found'}) names no lookaside-staging or lookaside for it; add a file with "docker: {${ref.registry}: {lookaside-staging: file:///DIR}}" or "default-docker" (--registries.d DIR)`);
    }
    if (!base.startsWith('file:')) {
      throw new DsvError('Usage', `registries.d names ${base} for ${ref.registry}/${ref.repository}; signatures can only be written to a file:// lookaside (set lookaside-staging to a file:// URL)`);
    }
    return base;
  };
  const simpleWriteTarget = async (reference: string): Promise<string> => {
    const ref = parseDocker(reference);
    if (await supportsExtension(reference)) return `the signature extension API of ${ref.registry}`;
    return writableLookaside(reference, ref);
  };
  const writeSimple = async (reference: string, manifestDigest: string, signature: Uint8Array): Promise<string> => {
    const ref = parseDocker(reference);
    if (await supportsExtension(reference)) {
      await putExtensionSignature(await extensionTarget(reference, manifestDigest), signature);
      return `the signature extension API of ${ref.registry}`;
    }
    const base = writableLookaside(reference, ref);
    const n = await addLookasideSignature(base, full(reference), manifestDigest, signature);
    return `${base.replace(/\/+$/, '')}/${ref.repository}@${manifestDigest.replace(':', '=')}/signature-${n}`;
  };
  const dockerImage = async (reference: string): Promise<ImageReference> => docker.parseReference(full(reference));
  const tagStore = async (reference: string): Promise<TagStore> => {
    const ref = parseDocker(reference);
    const key = `${ref.registry}/${ref.repository}`;
    let s = tagStores.get(key);
    if (!s) {
      s = tagStoreFor(docker.parseReference(`${key}:latest`), ctx.system);
      tagStores.set(key, s);
    }
    return s;
  };
  // The tag sources ask synchronously for a store: the docker transport is already loaded, so build it here.
  const storeNow = (image: { dockerReference?: string; manifestDigest: string; context?: unknown }): TagStore | undefined => {
    const s = subjectOf(image);
    if (!s) return undefined;
    const ref = parseDocker(s.dockerReference);
    return tagStoreFor(docker.parseReference(`${ref.registry}/${ref.repository}:latest`), ctx.system);
  };
  const withSubject = <T>(read: (image: { dockerReference?: string; manifestDigest: string }) => Promise<T[]>) =>
    async (image: { dockerReference?: string; manifestDigest: string; context?: unknown }): Promise<T[]> => {
      const s = subjectOf(image);
      if (!s) return [];
      return read({ dockerReference: s.dockerReference, manifestDigest: s.manifestDigest });
    };
  return {
    registries,
    parseDocker,
    dockerImage,
    client,
    supportsExtension,
    readSimple,
    simpleWriteTarget,
    writeSimple,
    tagStore,
    simpleSource: withSubject((i) => readSimple(i.dockerReference!, i.manifestDigest)),
    cosignSource: withSubject((i) => tagSchemeSource(() => storeNow(i))(i)),
    bundleSource: withSubject((i) => referrersTagSource(() => storeNow(i), async (img) => {
      // The OCI 1.1 referrers API when the registry answers it; undefined: the referrers tag schema.
      const ref = parseDocker(i.dockerReference!);
      return (await (await client(ref.registry)).listReferrers(ref.repository, img.manifestDigest))?.index;
    })(i)),
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((c) => c.close().catch(() => undefined)));
    },
  };
}
