/**
 * The one Docker Engine API client of dsv, on node:http / node:https: unix:// sockets and tcp:// (plain, or
 * TLS with the endpoint's CA / client certificate, as the docker CLI). The endpoint is typed
 * (SystemContext.dockerEndpoint, filled by the runtime from DOCKER_HOST / DOCKER_TLS_VERIFY /
 * DOCKER_CERT_PATH or from a docker CLI context); nothing here reads the environment. Paths are
 * unversioned: the daemon serves its own API version, and we only use endpoints that exist since API 1.24.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { DsvError } from '@dsv/core/formats';
import type { DockerEndpoint, SystemContext } from '@dsv/core/transport';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/**
 * Where and how to reach the daemon. tcp:// speaks TLS when `tlsVerify` is set (the daemon's certificate
 * is verified) or when TLS files are given without it (`docker --tls`: encrypted, not verified); else plain.
 */
export interface EngineOptions extends Partial<DockerEndpoint> {
  signal?: AbortSignal;
  /**
   * SystemContext.requestTimeoutMs (--timeout): a request without a streamed body must get the daemon's
   * answer (its headers) within this many ms. Unset: no deadline (an image load or export may take long).
   */
  requestTimeoutMs?: number;
  debug?: (message: string) => void;
}

export function engineOptionsFrom(ctx?: SystemContext): EngineOptions {
  return {
    ...(ctx?.dockerEndpoint ?? {}),
    host: ctx?.dockerEndpoint?.host || DEFAULT_DOCKER_HOST,
    ...(ctx?.signal ? { signal: ctx.signal } : {}),
    ...(ctx?.debug ? { debug: ctx.debug } : {}),
    ...(ctx?.requestTimeoutMs ? { requestTimeoutMs: ctx.requestTimeoutMs } : {}),
  };
}

interface Endpoint {
  display: string;
  base: RequestOptions;
  tls: boolean;
}

function parseHost(opts: EngineOptions): Endpoint {
  const host = opts.host ?? DEFAULT_DOCKER_HOST;
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new DsvError('Usage', `DOCKER_HOST ${host}: the socket path must be absolute`, { host });
    return { display: host, base: { socketPath }, tls: false };
  }
  const wantTls = opts.tlsVerify === true || Boolean(opts.caFile || opts.certFile);
  let url: URL;
  try {
    url = new URL(host.replace(/^tcp:\/\//, wantTls ? 'https://' : 'http://'));
  } catch {
    throw new DsvError('Usage', `DOCKER_HOST ${host} is not unix:///path or tcp://host:port`, { host });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DsvError('Unsupported', `DOCKER_HOST ${host}: only unix:// and tcp:// are supported`, { host });
  }
  const tls = url.protocol === 'https:';
  const base: RequestOptions & Record<string, unknown> = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : tls ? 2376 : 2375,
  };
  if (tls) {
    const read = (file: string | undefined, what: string) => {
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (e) {
        throw new DsvError('KeyInvalid', `Docker endpoint ${host}: cannot read the TLS ${what} ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { path: file });
      }
    };
    const ca = read(opts.caFile, 'CA');
    const cert = read(opts.certFile, 'certificate');
    const key = read(opts.keyFile, 'key');
    if (ca) base.ca = ca;
    if (cert && key) {
      base.cert = cert;
      base.key = key;
    }
    base.rejectUnauthorized = opts.tlsVerify === true;
  }
  return { display: host, base, tls };
}

/** Reads a response body up to `limit` bytes. */
export async function readBody(res: Readable, limit = 4 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    n += b.length;
    if (n > limit) {
      res.destroy();
      throw new DsvError('LimitExceeded', `Docker daemon response over ${limit} bytes`, { limit });
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

function daemonMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const j = JSON.parse(text) as { message?: string };
    if (typeof j.message === 'string') return j.message;
  } catch {
    /* plain text */
  }
  return text.slice(0, 300).replace(/\s+/g, ' ');
}

export class EngineClient {
  readonly endpoint: Endpoint;
  private readonly opts: EngineOptions;

  constructor(opts: EngineOptions = {}) {
    this.opts = opts;
    this.endpoint = parseHost(opts);
  }

  get display(): string {
    return this.endpoint.display;
  }

  /**
   * Sends a request; resolves with the response once its headers arrive, for any status < 400.
   * A status ≥ 400 becomes NotFound (404), Usage/RemoteError (others) with the daemon's message.
   * `body` streams (chunked) when it is a Readable.
   */
  request(method: string, path: string, opts: { body?: Buffer | NodeJS.ReadableStream; headers?: OutgoingHttpHeaders; what?: string } = {}): Promise<IncomingMessage> {
    const what = opts.what ?? `${method} ${path}`;
    this.opts.debug?.(`docker-daemon: ${method} ${path} on ${this.display}`);
    return new Promise<IncomingMessage>((resolve, reject) => {
      // Over a unix socket the Host header is arbitrary; over TCP leave it to node (it also names the
      // server for TLS verification).
      const headers: OutgoingHttpHeaders = { ...(this.endpoint.base.socketPath ? { Host: 'docker' } : {}), ...opts.headers };
      if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = opts.body.length;
      const reqOpts: RequestOptions = { ...this.endpoint.base, method, path, headers, signal: this.opts.signal };
      // --timeout: the answer must begin in time (not for an upload, whose answer waits for the whole body).
      const limit = this.opts.requestTimeoutMs;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const req = (this.endpoint.tls ? httpsRequest : httpRequest)(reqOpts, (res) => {
        if (timer) clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status < 400) {
          resolve(res);
          return;
        }
        readBody(res, 1024 * 1024).then(
          (body) => {
            const msg = daemonMessage(body);
            const code = status === 404 ? 'NotFound' : status === 401 || status === 403 ? 'AuthFailed' : status === 400 || status === 409 ? 'Usage' : 'RemoteError';
            reject(new DsvError(code, `Docker daemon at ${this.display}: ${what}: ${msg || `HTTP ${status}`}`, { status, host: this.display }));
          },
          reject,
        );
      });
      if (limit && (opts.body === undefined || Buffer.isBuffer(opts.body))) {
        timer = setTimeout(() => {
          const secs = limit % 1000 === 0 ? `${limit / 1000} s` : `${(limit / 1000).toFixed(1)} s`;
          req.destroy(new DsvError('Network', `Docker daemon at ${this.display}: ${what}: no answer within ${secs} (request deadline; --timeout)`, { host: this.display, timeoutMs: limit }));
        }, limit);
        timer.unref?.();
      }
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        if (e instanceof DsvError) return reject(e);
        if (e.name === 'AbortError') return reject(e);
        const code = e.code ?? e.message;
        const hint = code === 'EACCES' ? ' (permission denied on the socket)' : code === 'ENOENT' || code === 'ECONNREFUSED' ? ' (is dockerd running? set DOCKER_HOST)' : '';
        reject(new DsvError('Network', `cannot reach the Docker daemon at ${this.display}: ${code}${hint}`, { host: this.display, code: e.code }, { cause: e }));
      });
      const body = opts.body;
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        // Node and streamx (tar-stream) readables alike.
        body.on('error', (e: Error) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  async json<T>(method: string, path: string, what?: string): Promise<T> {
    const res = await this.request(method, path, { what });
    const body = await readBody(res, 16 * 1024 * 1024);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new DsvError('RemoteError', `Docker daemon at ${this.display}: ${what ?? path} returned invalid JSON`, { host: this.display });
    }
  }
}

/** `/images/<name>/…` with each path segment escaped (slashes kept, as the docker CLI sends them). */
export function imagePath(name: string, suffix: string): string {
  return `/images/${name.split('/').map(encodeURIComponent).join('/')}/${suffix}`;
}

/** Parses a JSON-lines progress stream (load/push/pull) and throws the first error it reports. */
export async function readJsonMessages(res: Readable, what: string, host: string): Promise<Array<Record<string, unknown>>> {
  const body = await readBody(res, 16 * 1024 * 1024);
  const out: Array<Record<string, unknown>> = [];
  for (const line of body.toString('utf8').split(/\r?\n/)) {
    if (!line.trim()) continue;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const err = (msg.errorDetail as { message?: string } | undefined)?.message ?? (typeof msg.error === 'string' ? msg.error : undefined);
    if (err) throw new DsvError('RemoteError', `Docker daemon at ${host}: ${what} failed: ${err.slice(0, 500)}`, { host });
    out.push(msg);
  }
  return out;
}

/** What `GET /info` says about the daemon's store (the fields dsv reads). */
export interface DaemonInfo {
  DockerRootDir?: string;
  Driver?: string;
  DriverStatus?: Array<[string, string]>;
  ServerVersion?: string;
}

/** GET /info; undefined when the daemon cannot be asked (callers then fall back to the Engine API). */
export async function daemonInfo(opts: EngineOptions): Promise<DaemonInfo | undefined> {
  try {
    return await new EngineClient(opts).json<DaemonInfo>('GET', '/info', 'GET /info');
  } catch {
    return undefined;
  }
}
