// Paginated lists: tags and the catalog, following `Link: <…>; rel="next"` on the same origin.
import { DsvError, Limits } from '@dsv/core/formats';
import { checkRepo, pullScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import { headerAll, readBody } from './util.js';

/** `Link: </v2/…?last=x&n=2>; rel="next"` → absolute URL. */
export function nextLink(values: string[], base: URL): URL | undefined {
  for (const v of values) {
    for (const part of v.split(/,(?=\s*<)/)) {
      const m = /^\s*<([^>]*)>\s*((?:;[^;]*)*)$/.exec(part);
      if (!m) continue;
      if (!/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) continue;
      try {
        return new URL(m[1]!, base);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * Tags of a repository, following the pagination links. `pageSize` sets `?n=` (a registry may ignore it
 * and answer in one page: distribution 2.8 does for tags).
 */
export function listTags(p: Pipeline, repository: string, pageSize?: number, maxItems?: number): Promise<string[]> {
  const repo = checkRepo(repository);
  return paginated(p, `tag list of ${repo}`, `/v2/${repo}/tags/list`, 'tags', [pullScope(repo)], pageSize, { repository: repo }, maxItems);
}

/** Repositories in the registry (`/v2/_catalog`), where the registry allows it. */
export function listRepositories(p: Pipeline, pageSize?: number): Promise<string[]> {
  return paginated(p, 'repository catalog', '/v2/_catalog', 'repositories', ['registry:catalog:*'], pageSize, {});
}

/** Follows the pages until the last, or until `maxItems` items are in hand (the list is then cut there). */
async function paginated(
  p: Pipeline,
  what: string,
  path: string,
  field: string,
  scopes: string[],
  pageSize: number | undefined,
  details: Record<string, unknown>,
  maxItems = Number.POSITIVE_INFINITY,
): Promise<string[]> {
  let url = await p.url(path);
  if (pageSize) url.searchParams.set('n', String(pageSize));
  const items: string[] = [];
  const seen = new Set<string>();
  for (let page = 0; page < 100_000; page++) {
    seen.add(url.href);
    const res = await p.send({ what, method: 'GET', url, scopes, followRedirects: true });
    await p.expect(res, [200], what, details);
    const bytes = await readBody(res, p.cfg.manifestLimitBytes ?? Limits.manifestBytes, what);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new DsvError('RemoteError', `${what}: the registry's answer is not JSON`, details);
    }
    const list = doc?.[field];
    if (Array.isArray(list)) for (const t of list) if (typeof t === 'string') items.push(t);
    if (items.length >= maxItems) return items.slice(0, maxItems);
    const next = nextLink(headerAll(res.headers, 'link'), url);
    if (!next) return items;
    if (next.origin !== url.origin) throw new DsvError('RemoteError', `${what}: pagination link to another origin (${next.host}) refused`, details);
    if (seen.has(next.href)) throw new DsvError('RemoteError', `${what}: pagination links loop`, details);
    url = next;
  }
  throw new DsvError('LimitExceeded', `${what}: too many pages`, details);
}
