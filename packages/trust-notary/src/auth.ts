/**
 * Token auth for a trust server behind a registry's token service: answers a `Bearer` challenge by
 * asking the realm for a token (`service`, `scope` — `repository:<gun>:pull` when the challenge names
 * none), with Basic credentials when given; answers a `Basic` challenge with the credentials.
 */
import { DsvError } from '@dsv/core';
import type { AuthorizeFunction, RequestFunction } from './http.js';
import { defaultRequest, readBounded } from './http.js';

export interface BearerAuthOptions {
  /** The collection, for the default scope. */
  gun: string;
  /** Looked up only when a challenge arrives; never logged. */
  credentials?: () => Promise<{ username: string; password: string } | undefined>;
  request?: RequestFunction;
  /** Cap on the token response (default 1 MiB). */
  limit?: number;
}

/** `Bearer realm="…",service="…"` → { scheme: 'bearer', params }. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export function bearerAuthorizer(opts: BearerAuthOptions): AuthorizeFunction {
  const request = opts.request ?? defaultRequest();
  const limit = opts.limit ?? 1024 * 1024;
  return async (header) => {
    const { scheme, params } = parseChallenge(header);
    const creds = await opts.credentials?.();
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') return basic;
    if (scheme !== 'bearer' || !params.realm) return undefined;
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new DsvError('AuthFailed', 'the trust server sent a token realm that is not a URL');
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && /^(localhost|127\.[0-9.]+|\[::1\])$/.test(realm.hostname)))
      throw new DsvError('AuthFailed', `refusing a token realm over plain HTTP: ${realm.host}`);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${opts.gun}:pull`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (basic) headers.authorization = basic;
    let res: Response;
    try {
      res = await request(realm.href, { method: 'GET', headers, redirect: 'manual' });
    } catch (e) {
      throw new DsvError('Network', `cannot reach the token service ${realm.host}`, {}, { cause: e });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new DsvError('AuthFailed', `the token service ${realm.host} answered HTTP ${res.status}`);
    }
    const text = Buffer.from(await readBounded(res, limit, 'the token response')).toString('utf8');
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new DsvError('AuthFailed', `the token service ${realm.host} sent no JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new DsvError('AuthFailed', `the token service ${realm.host} sent no token`);
    return `Bearer ${token}`;
  };
}
