/**
 * The registry manifest an image's detached signatures are stored under. A docker: image is its own.
 * Local images (docker-daemon:, docker-storage:, docker-archive:, oci:) come from a registry manifest the
 * caller names or the store records; that manifest is read from the registry and proved to be this image
 * (its config digest is the local image's ID, its diff_ids are the local ones) before its signatures count.
 */
import type { Manifest } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import type { DetachedStores, SignedSubject } from './stores.js';

/** How a local image was tied to its registry manifest. */
export interface RegistryOrigin {
  /** Where the registry reference came from: RepoDigests, the layout's annotation, ... */
  from: string;
  /** The registry manifest's config digest (= the local image's ID). */
  configDigest: string;
  diffIds: number;
}

export interface FoundSubject {
  subject: SignedSubject;
  manifestBytes: Uint8Array;
  origin?: RegistryOrigin;
}

/** The registry manifest whose signatures judge `ref` (undefined: none known, only embedded signatures apply). */
export async function registrySubject(_ctx: CliContext, stores: DetachedStores, ref: ImageReference, top: Manifest): Promise<FoundSubject | undefined> {
  if (ref.transport.name === 'docker') {
    const parsed = stores.parseDocker(ref.within);
    const { formatDockerReference } = await import('@dsv/core/formats');
    return { subject: { dockerReference: formatDockerReference(parsed), manifestDigest: top.digest }, manifestBytes: top.bytes };
  }
  return undefined;
}
