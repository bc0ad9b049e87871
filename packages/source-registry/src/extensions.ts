// The registry signature extension API's transport side: whether `GET /v2/` announced it, and fetch-compatible authenticated requests to `/extensions/v2/<repo>/...`.
import { Readable } from 'node:stream';
import { DsvError } from '@dsv/core/formats';
import { checkRepo, pullScope, pushScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import { header } from './util.js';

/** fetch-compatible (what @dsv/signature-simple's extension client takes). */
export type ExtensionRequestFunction = (url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string }) => Promise<Response>;

/** True when the registry's `GET /v2/` answered `X-Registry-Supports-Signatures: 1`. */
export async function supportsSignatures(p: Pipeline): Promise<boolean> {
  await p.scheme.baseUrl();
  const v = p.scheme.pingHeaders ? header(p.scheme.pingHeaders, 'x-registry-supports-signatures') : undefined;
  return v?.trim() === '1';
}

const NULL_BODY = new Set([101, 204, 205, 304]);
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/**
 * Requests to `/extensions/v2/<repository>/...` on the registry, through the client's pipeline (scheme,
 * auth with pull scope for reads and push for writes, retries). Other URLs are refused.
 */
export function extensionRequest(p: Pipeline, repository: string, registry: string): ExtensionRequestFunction {
  const repo = checkRepo(repository);
  return async (url, init) => {
    const base = await p.scheme.baseUrl();
    const u = new URL(url, base);
    if (u.origin !== base.origin || !u.pathname.startsWith(`/extensions/v2/${repo}/`)) {
      throw new DsvError('Usage', `extension request ${u.pathname} is not under /extensions/v2/${repo}/ on ${registry}`);
    }
    const method = init.method.toUpperCase();
    if (!METHODS.has(method)) throw new DsvError('Usage', `extension request method ${method} is not supported`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(init.headers ?? {})) headers[k.toLowerCase()] = v;
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    if (body) headers['content-length'] = String(body.length);
    const res = await p.send({
      what: `signature extension ${u.pathname}`,
      method: method as 'GET' | 'HEAD' | 'PUT' | 'DELETE',
      url: u,
      headers,
      ...(body ? { body } : {}),
      scopes: [method === 'GET' || method === 'HEAD' ? pullScope(repo) : pushScope(repo)],
      followRedirects: method === 'GET',
    });
    const h = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
    }
    if (NULL_BODY.has(res.status) || method === 'HEAD') {
      await res.body.dump().catch(() => undefined);
      return new Response(null, { status: res.status, headers: h });
    }
    return new Response(Readable.toWeb(res.body as unknown as Readable) as ReadableStream<Uint8Array>, { status: res.status, headers: h });
  };
}
