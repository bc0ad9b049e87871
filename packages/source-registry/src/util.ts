// Helpers shared by the layers: headers, safe URLs for messages, capped bodies, registry error mapping, network error classes, backoff.
import { DsvError, type ErrorCode } from '@dsv/core/formats';

/** Cap for error bodies we read to build a message. */
export const ERROR_BODY_LIMIT = 64 * 1024;

export type Headers = Record<string, string | string[] | undefined>;

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) return v[0];
  return v;
}

export function headerAll(headers: Headers, name: string): string[] {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** A URL as it may appear in messages: origin and path, never the query (upload state, tokens). */
export function safeUrl(u: URL | string): string {
  try {
    const url = typeof u === 'string' ? new URL(u) : u;
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/** One line, bounded, printable: registry-supplied text going into an error message. */
export function oneLine(text: string, max = 200): string {
  const t = text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/**
 * Reads a body into memory with a cap, checking Content-Length first so an announced oversize body
 * is refused before a byte is read. Over the cap: LimitExceeded (the body is destroyed).
 */
export async function readCapped(
  body: AsyncIterable<Buffer> & { destroy?: (e?: Error) => void },
  headers: Headers,
  cap: number,
  what: string,
): Promise<Buffer> {
  const cl = header(headers, 'content-length');
  if (cl !== undefined && /^\d+$/.test(cl) && Number(cl) > cap) {
    body.destroy?.();
    throw new DsvError('LimitExceeded', `${what}: ${cl} bytes is over the ${cap}-byte limit`, { limit: cap, size: Number(cl) });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > cap) {
      body.destroy?.();
      throw new DsvError('LimitExceeded', `${what}: more than the ${cap}-byte limit`, { limit: cap });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * readCapped on a response's body; a connection that breaks off (or a request deadline) while it is read
 * becomes a Network error naming the request (`what`, `method`, the response's URL) rather than undici's bare message.
 */
export async function readBody(
  res: { body: AsyncIterable<Buffer> & { destroy?: (e?: Error) => void }; headers: Headers; url: URL },
  cap: number,
  what: string,
  method = 'GET',
): Promise<Buffer> {
  try {
    return await readCapped(res.body, res.headers, cap, what);
  } catch (e) {
    throw networkError(e, what, res.url, method);
  }
}

/** Reads at most `cap` bytes of an error body, silently dropping the rest. */
export async function readErrorBody(body: AsyncIterable<Buffer> & { destroy?: (e?: Error) => void }, cap = ERROR_BODY_LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const room = cap - total;
      if (room <= 0) break;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      total += part.length;
      if (total >= cap) break;
    }
  } catch {
    /* an error body that breaks off is still an error */
  } finally {
    body.destroy?.();
  }
  return Buffer.concat(chunks, total);
}

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'BLOB_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UPLOAD_UNKNOWN', 'NOT_FOUND']);
const AUTH_CODES = new Set(['UNAUTHORIZED', 'DENIED']);
const DIGEST_CODES = new Set(['DIGEST_INVALID']);

/**
 * Turns a registry error response into a typed DsvError. The registry's own error codes decide:
 * MANIFEST_UNKNOWN/BLOB_UNKNOWN/NAME_UNKNOWN → NotFound, UNAUTHORIZED/DENIED → AuthFailed,
 * anything else → RemoteError; without a code, the status does (404, 401/403).
 */
export function registryError(status: number, body: Buffer, context: { what: string; host: string; details?: Record<string, unknown> }): DsvError {
  let codes: string[] = [];
  let messages: string[] = [];
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(doc?.errors)) {
      codes = doc.errors.map((e) => (typeof e?.code === 'string' ? e.code : '')).filter(Boolean);
      messages = doc.errors.map((e) => (typeof e?.message === 'string' ? e.message : '')).filter(Boolean);
    }
  } catch {
    /* not JSON */
  }
  let code: ErrorCode;
  if (codes.some((c) => NOT_FOUND_CODES.has(c))) code = 'NotFound';
  else if (codes.some((c) => AUTH_CODES.has(c))) code = 'AuthFailed';
  else if (codes.some((c) => DIGEST_CODES.has(c))) code = 'DigestMismatch';
  else if (codes.length === 0 && status === 404) code = 'NotFound';
  else if (codes.length === 0 && (status === 401 || status === 403)) code = 'AuthFailed';
  else code = 'RemoteError';
  const reason = codes.length
    ? `${codes.join(', ')}${messages.length ? ` (${oneLine(messages.join('; '))})` : ''}`
    : oneLine(body.toString('utf8'), 120) || 'no details';
  return new DsvError(code, `${context.what}: registry ${context.host} answered ${status}: ${reason}`, {
    status,
    registry: context.host,
    registryCodes: codes,
    ...context.details,
  });
}

/** Error codes (anywhere in the cause chain) that mean the connection, not the request, failed. */
const TRANSIENT_NET = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function errorCodes(e: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

export function isTransientNetworkError(e: unknown): boolean {
  if (e instanceof DsvError) return e.code === 'Network' && e.details['transient'] === true;
  return errorCodes(e).some((c) => TRANSIENT_NET.has(c));
}

/** TLS failed at the protocol level (the peer does not speak TLS), as opposed to a verification failure. */
export function isTlsProtocolError(e: unknown): boolean {
  const codes = e instanceof DsvError ? ((e.details['causeCodes'] as string[] | undefined) ?? []) : errorCodes(e);
  return codes.some(
    (c) =>
      c === 'EPROTO' ||
      c.startsWith('ERR_SSL_') ||
      c === 'ECONNRESET' ||
      c === 'UND_ERR_SOCKET' ||
      c === 'ERR_TLS_HANDSHAKE_TIMEOUT',
  );
}

/** A failure of `method` `url` (about `what`) as a Network error naming the request: what, method, host and path. */
export function networkError(e: unknown, what: string, url: URL, method?: string): DsvError {
  if (e instanceof DsvError) return e;
  const codes = errorCodes(e);
  const first = codes.find((c) => c !== 'UND_ERR_SOCKET' && c !== 'UND_ERR_CONNECT') ?? codes[0] ?? 'ERROR';
  const msg = e instanceof Error ? oneLine(e.message, 160) : 'failed';
  const transient = codes.some((c) => TRANSIENT_NET.has(c));
  const certProblem = codes.some((c) => /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ISSUER/.test(c));
  const hint = certProblem ? `; the certificate did not verify: put its CA in <certs.d>/${url.host}/ca.crt or the system CA bundle (SSL_CERT_FILE)` : '';
  return new DsvError(
    'Network',
    `${what}: ${method ? `${method} ` : ''}${safeUrl(url)}: ${first}${msg && !msg.includes(first) ? ` (${msg})` : ''}${hint}`,
    { url: safeUrl(url), causeCodes: codes, transient },
    { cause: e },
  );
}

/** Delay before retry `attempt` (0-based): exponential with jitter, capped. */
export function backoff(attempt: number, baseMs: number, maxMs = 10_000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

/** Retry-After as milliseconds (delay-seconds or HTTP-date), as asked (callers cap it); undefined when absent/invalid. */
export function retryAfterMs(value: string | undefined, capMs = Number.POSITIVE_INFINITY, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.min(capMs, Math.round(Number(v) * 1000));
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.min(capMs, Math.max(0, t - now));
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
