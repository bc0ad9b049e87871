// Redirect layer: follows up to 5 hops where the request allows it, dropping Authorization when leaving the registry's origin, refusing HTTPS → HTTP and targets the address rules forbid.
import { DsvError } from '@dsv/core/formats';
import type { ClientConfig } from './config.js';
import type { Deadline } from './deadline.js';
import type { RawResponse, RoundTrip, SendRequest } from './types.js';
import { header, safeUrl } from './util.js';

const MAX_HOPS = 5;

/** One request through `roundTrip`, with `headers` (the request's own plus its Authorization), following redirects. */
export async function following(cfg: ClientConfig, roundTrip: RoundTrip, req: SendRequest, headers: Record<string, string>, deadline?: Deadline): Promise<RawResponse> {
  let url = req.url;
  let method: string = req.method;
  let hdrs = headers;
  const origin = url.origin;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const res = await roundTrip(req.what, url, method, hdrs, req.body, deadline);
    const isRedirect = [301, 302, 303, 307, 308].includes(res.status);
    if (!isRedirect || !req.followRedirects) return res;
    const loc = header(res.headers, 'location');
    await res.body.dump().catch(() => undefined);
    if (!loc) throw new DsvError('RemoteError', `${req.what}: redirect ${res.status} without a Location`, { url: safeUrl(url) });
    let next: URL;
    try {
      next = new URL(loc, url);
    } catch {
      throw new DsvError('RemoteError', `${req.what}: redirect to an invalid location`, { url: safeUrl(url) });
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw new DsvError('RemoteError', `${req.what}: refusing redirect to a ${next.protocol} URL`, { url: safeUrl(url) });
    }
    if (url.protocol === 'https:' && next.protocol === 'http:') {
      throw new DsvError('RemoteError', `${req.what}: refusing redirect from HTTPS to plain HTTP (${safeUrl(next)})`, { url: safeUrl(url), location: safeUrl(next) });
    }
    // A registry that is not itself loopback/private must not send dsv to such addresses (a cloud metadata
    // service, a local admin port): checked before the target is contacted.
    await cfg.addresses.check(next, `redirect of ${req.what}`, 'RemoteError');
    if (next.origin !== origin) {
      const { authorization: _dropped, ...rest } = hdrs;
      hdrs = rest;
      cfg.debug(`${req.what}: redirected to ${next.host}; Authorization not forwarded`);
    }
    if (res.status === 303) method = 'GET';
    url = next;
  }
  throw new DsvError('RemoteError', `${req.what}: too many redirects`, { url: safeUrl(req.url) });
}
