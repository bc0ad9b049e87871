/**
 * Fetching Notary documents: an injected fetch-like request function (the default is undici with the
 * given CA files beside the system roots), an injected token-auth hook for 401s, same-host redirects only,
 * and a size cap on every body.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { DsvError } from '@dsv/core';
import { readBounded } from '@dsv/core/transport';

export { readBounded };

export interface RequestInit {
  method: 'GET';
  headers: Record<string, string>;
  redirect: 'manual';
}
/** fetch-compatible; must not follow redirects itself (the caller checks where they lead). */
export type RequestFunction = (url: string, init: RequestInit) => Promise<Response>;
/**
 * Called on a 401 with the server's `WWW-Authenticate` header (e.g. a registry token challenge for
 * `repository:<gun>:pull`); returns an `Authorization` header value, or undefined to give up.
 */
export type AuthorizeFunction = (challenge: string, url: string) => Promise<string | undefined>;

/** undici with the system roots plus `caFiles` (e.g. `$DOCKER_CONFIG/tls/<host:port>/ca.crt`). */
export function defaultRequest(caFiles: readonly string[] = []): RequestFunction & { close(): Promise<void> } {
  const ca = [...rootCertificates];
  for (const f of caFiles) {
    try {
      ca.push(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new DsvError('IoError', `cannot read CA file ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const dispatcher = new Agent({ connect: { ca }, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const request = (url: string, init: RequestInit) => undiciFetch(url, { ...init, dispatcher }) as unknown as Promise<Response>;
  return Object.assign(request, { close: () => dispatcher.close() });
}

export interface Fetcher {
  /** The body, or undefined on 404. */
  get(url: string, limit: number, what: string): Promise<Uint8Array | undefined>;
}

export function makeFetcher(request: RequestFunction, authorize: AuthorizeFunction | undefined, maxRedirects: number): Fetcher {
  let authorization: string | undefined;
  return {
    async get(url, limit, what) {
      const origin = new URL(url).origin;
      let current = url;
      let triedAuth = false;
      for (let hops = 0; ; ) {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (authorization) headers.authorization = authorization;
        let res: Response;
        try {
          res = await request(current, { method: 'GET', headers, redirect: 'manual' });
        } catch (e) {
          if (e instanceof DsvError) throw e;
          const cause = (e as { cause?: { code?: string; message?: string } }).cause;
          throw new DsvError('Network', `cannot reach the trust server for ${what}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, {}, { cause: e });
        }
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          const loc = res.headers.get('location');
          if (!loc) throw new DsvError('RemoteError', `trust server redirected ${what} without a location`);
          const next = new URL(loc, current);
          // Not trusted (exit 1), not an outage: trust data is served by the server the user named, or not at all.
          if (next.origin !== origin) throw new DsvError('Untrusted', `trust server redirected ${what} to another host (${next.host}); refused`, { host: next.host });
          if (++hops > maxRedirects) throw new DsvError('RemoteError', `trust server redirected ${what} more than ${maxRedirects} times`);
          current = next.href;
          continue;
        }
        if (res.status === 401 && authorize && !triedAuth) {
          await res.body?.cancel();
          triedAuth = true;
          authorization = await authorize(res.headers.get('www-authenticate') ?? '', current);
          if (authorization) continue;
        }
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        if (res.status === 401 || res.status === 403) {
          await res.body?.cancel();
          throw new DsvError('AuthFailed', `trust server refused ${what} (HTTP ${res.status})`);
        }
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new DsvError('RemoteError', `trust server answered HTTP ${res.status} for ${what}`, { status: res.status });
        }
        return readBounded(res, limit, what);
      }
    },
  };
}
