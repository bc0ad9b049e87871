/**
 * The tags of a repository as fleet commands see them: every tag the registry lists (pagination followed,
 * capped), without the tags signature formats use for attachments (cosign `sha256-<hex>.sig`, `.att`,
 * `.sbom`, and the referrers tag schema's `sha256-<hex>`), sorted so runs are reproducible.
 */
import { DsvError, formatDockerReference, parseDockerReference, type DockerReference } from '@dsv/core/formats';
import type { CliContext } from '../context.js';

export const MAX_TAGS = 50_000;

const ATTACHMENT_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

export function isAttachmentTag(tag: string): boolean {
  return ATTACHMENT_TAG.test(tag);
}

/** `docker://host/repo` or `host/repo` (no tag, no digest) → the parsed repository. */
export function parseRepository(ctx: CliContext, input: string): DockerReference {
  const bare = input.replace(/^docker:\/\//, '');
  const transport = /^([a-z][a-z0-9-]*):(?!\d)/.exec(input);
  if (transport && transport[1] !== 'docker') throw new DsvError('Usage', `${input}: --all-tags takes a registry repository (docker://HOST/REPO), not ${/^[aeiou]/.test(transport[1]) ? 'an' : 'a'} ${transport[1]}: reference`);
  let ref: DockerReference;
  try {
    ref = parseDockerReference(bare, { defaultRegistry: ctx.system.defaultRegistry ?? 'docker.io' });
  } catch (e) {
    throw new DsvError('Usage', `${input}: not a repository (${(e as Error).message})`);
  }
  // The parser defaults the tag to latest: look at what was written.
  if (bare.includes('@') || bare.slice(bare.lastIndexOf('/') + 1).includes(':')) {
    throw new DsvError('Usage', `${input}: --all-tags takes a repository without a tag or digest (docker://${ref.registry}/${ref.repository})`);
  }
  return { registry: ref.registry, repository: ref.repository };
}

/** The repository's image tags (attachment tags left out), sorted; more than MAX_TAGS: LimitExceeded. */
export async function listImageTags(ctx: CliContext, repo: DockerReference): Promise<string[]> {
  const { createDockerTransport } = await import('@dsv/source-registry');
  const docker = createDockerTransport(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {});
  const ref = docker.parseReference(formatDockerReference(repo)) as unknown as { newClient(system: unknown): import('@dsv/source-registry').RegistryClient };
  const client = ref.newClient(ctx.system);
  try {
    const tags = await client.listTags(repo.repository, { pageSize: 1000 });
    if (tags.length > MAX_TAGS) throw new DsvError('LimitExceeded', `${repo.registry}/${repo.repository} lists ${tags.length} tags, more than ${MAX_TAGS}`);
    return [...new Set(tags)].filter((t) => !isAttachmentTag(t)).sort();
  } finally {
    await client.close();
  }
}
