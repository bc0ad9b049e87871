// The OCI 1.1 referrers API: `GET /v2/<name>/referrers/<digest>[?artifactType=]`, an OCI index of the manifests whose subject is the digest.
import { DsvError, parseDigest } from '@dsv/core/formats';
import { checkRepo, pullScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import { header, headerAll, readBody } from './util.js';

/** The referrers index is small; 4 MiB bounds what a hostile registry can make us read. */
export const REFERRERS_LIMIT_BYTES = 4 * 1024 * 1024;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface ReferrersResult {
  /** The OCI index as exact bytes. */
  index: Uint8Array;
  /** The filters the registry applied (`OCI-Filters-Applied`, e.g. `artifactType`); empty: none, filter yourself. */
  filtersApplied: string[];
}

/**
 * The referrers of `digest` through the referrers API. undefined when the registry does not answer with
 * an OCI index (404 and the like: the caller falls back to the referrers tag schema); other failures throw.
 */
export async function listReferrers(p: Pipeline, repository: string, digest: string, opts: { artifactType?: string } = {}): Promise<ReferrersResult | undefined> {
  const repo = checkRepo(repository);
  parseDigest(digest);
  const what = `referrers of ${repo}@${digest}`;
  const query = opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : '';
  const res = await p.send({
    what,
    method: 'GET',
    url: await p.url(`/v2/${repo}/referrers/${digest}${query}`),
    headers: { accept: OCI_INDEX },
    scopes: [pullScope(repo)],
    followRedirects: true,
  });
  if (res.status === 404 || res.status === 400 || res.status === 405) {
    await res.body.dump().catch(() => undefined);
    return undefined;
  }
  await p.expect(res, [200], what, { repository: repo, digest });
  const type = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
  const bytes = await readBody(res, REFERRERS_LIMIT_BYTES, what);
  if (type !== OCI_INDEX) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DsvError('ManifestInvalid', `${what}: the registry answered an index that is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { manifests?: unknown }).manifests)) {
    throw new DsvError('ManifestInvalid', `${what}: the registry answered an index without a manifests array`);
  }
  const filtersApplied = headerAll(res.headers, 'oci-filters-applied').flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  return { index: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), filtersApplied };
}
