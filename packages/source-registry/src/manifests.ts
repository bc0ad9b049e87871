// Manifests: GET (exact bytes, our own digest), HEAD, PUT with their media type, DELETE.
import { DsvError, Limits, MediaTypes, digestOf, parseDigest, type Digest } from '@dsv/core/formats';
import { checkRef, checkRepo, pullScope, pushScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import type { ManifestHead, ManifestResult } from './types.js';
import { header, oneLine, readBody } from './util.js';

/** Every manifest type we can read, for the Accept header. */
export const MANIFEST_ACCEPT = [
  MediaTypes.OciIndex,
  MediaTypes.DockerManifestList,
  MediaTypes.OciManifest,
  MediaTypes.DockerManifest,
] as const;

function mediaTypeOf(bytes: Uint8Array, contentType: string | undefined): string {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown };
    if (doc && typeof doc === 'object' && typeof doc.mediaType === 'string' && doc.mediaType) return doc.mediaType;
  } catch {
    /* not JSON: the caller's parser reports that */
  }
  return (contentType ?? '').split(';')[0]!.trim() || 'application/octet-stream';
}

/**
 * The manifest (or list/index) `reference` (tag or digest) names, as exact bytes. The digest is
 * ours; a digest reference is verified; the registry's Docker-Content-Digest is never trusted.
 */
export async function getManifest(p: Pipeline, repository: string, reference: string): Promise<ManifestResult> {
  const repo = checkRepo(repository);
  const { ref, digest: wanted } = checkRef(reference);
  const what = `manifest ${repo}${wanted ? '@' : ':'}${ref}`;
  const res = await p.send({
    what,
    method: 'GET',
    url: await p.url(`/v2/${repo}/manifests/${ref}`),
    headers: { accept: MANIFEST_ACCEPT.join(', ') },
    scopes: [pullScope(repo)],
    followRedirects: true,
  });
  await p.expect(res, [200], what, { repository: repo, reference: ref });
  const bytes = await readBody(res, p.cfg.manifestLimitBytes ?? Limits.manifestBytes, what);
  const digest = digestOf(bytes, wanted ? parseDigest(wanted).algorithm : 'sha256');
  if (wanted && digest !== wanted) {
    throw new DsvError('DigestMismatch', `${what}: content digest ${digest} does not match`, { digest: wanted, actual: digest, repository: repo });
  }
  const claimed = header(res.headers, 'docker-content-digest');
  if (claimed && claimed.startsWith(`${parseDigest(digest).algorithm}:`) && claimed !== digest) {
    p.cfg.debug(`${what}: registry's Docker-Content-Digest ${oneLine(claimed, 80)} differs from our ${digest}; using ours`);
  }
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), mediaType: mediaTypeOf(bytes, header(res.headers, 'content-type')), digest };
}

/** HEAD a manifest: undefined when it does not exist. */
export async function headManifest(p: Pipeline, repository: string, reference: string): Promise<ManifestHead | undefined> {
  const repo = checkRepo(repository);
  const { ref, digest } = checkRef(reference);
  const what = `manifest ${repo}${digest ? '@' : ':'}${ref}`;
  const res = await p.send({
    what,
    method: 'HEAD',
    url: await p.url(`/v2/${repo}/manifests/${ref}`),
    headers: { accept: MANIFEST_ACCEPT.join(', ') },
    scopes: [pullScope(repo)],
    followRedirects: true,
  });
  if (res.status === 404) {
    await res.body.dump().catch(() => undefined);
    return undefined;
  }
  await p.expect(res, [200], what);
  await res.body.dump().catch(() => undefined);
  const len = header(res.headers, 'content-length');
  return {
    mediaType: header(res.headers, 'content-type')?.split(';')[0]?.trim(),
    size: len && /^\d+$/.test(len) ? Number(len) : undefined,
    registryDigest: header(res.headers, 'docker-content-digest'),
  };
}

/** PUTs a manifest under a tag or digest with its Content-Type; returns our digest of the bytes. */
export async function putManifest(p: Pipeline, repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
  const repo = checkRepo(repository);
  const { ref, digest: wanted } = checkRef(reference);
  const limit = p.cfg.manifestLimitBytes ?? Limits.manifestBytes;
  if (bytes.length > limit) throw new DsvError('LimitExceeded', `manifest for ${repo}: ${bytes.length} bytes is over the ${limit}-byte limit`, { limit });
  const digest = digestOf(bytes, wanted ? parseDigest(wanted).algorithm : 'sha256');
  if (wanted && digest !== wanted) {
    throw new DsvError('DigestMismatch', `manifest for ${repo}@${wanted}: content digest ${digest} does not match`, { digest: wanted, actual: digest });
  }
  const what = `manifest ${repo}${wanted ? '@' : ':'}${ref}`;
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const res = await p.send({
    what,
    method: 'PUT',
    url: await p.url(`/v2/${repo}/manifests/${ref}`),
    headers: { 'content-type': mediaType, 'content-length': String(body.length) },
    body,
    scopes: [pushScope(repo)],
  });
  await p.expect(res, [201], what, { repository: repo, reference: ref });
  await res.body.dump().catch(() => undefined);
  return digest;
}

/** Deletes a manifest by digest (registries with delete enabled). */
export async function deleteManifest(p: Pipeline, repository: string, digest: string): Promise<void> {
  const repo = checkRepo(repository);
  const d = parseDigest(digest).digest;
  const what = `delete of manifest ${repo}@${d}`;
  const res = await p.send({ what, method: 'DELETE', url: await p.url(`/v2/${repo}/manifests/${d}`), scopes: [`repository:${repo}:delete`, pushScope(repo)] });
  await p.expect(res, [202, 200], what);
  await res.body.dump().catch(() => undefined);
}
