import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { LookupFunction } from 'node:net';
import { DsvError, Digester, Limits, MediaTypes, digestOf, parseDigest, type Digest, type SystemContext } from '@dsv/core';
import { TokenCache, findChallenge, parseAuthChallenge, type AuthChallenge } from './auth.js';
import { isDockerHub, resolveCredentials, type Credentials } from './credentials.js';
import { Agent, request, type HttpMethod, type ResponseData } from './http.js';
import { defaultCertsDirs, hasCertsDMaterial, isListedInsecure, isLoopbackHost, loadCertsD, probeTls, splitHostPort, trustContext, trustRoots, type TlsMaterial } from './tls.js';
import {
  backoff,
  defaultSleep,
  header,
  headerAll,
  isTlsProtocolError,
  isTransientNetworkError,
  networkError,
  oneLine,
  readCapped,
  readErrorBody,
  registryError,
  retryAfterMs,
  safeUrl,
  type Headers,
} from './util.js';

/** Every manifest type we can read, for the Accept header. */
export const MANIFEST_ACCEPT = [
  MediaTypes.OciIndex,
  MediaTypes.DockerManifestList,
  MediaTypes.OciManifest,
  MediaTypes.DockerManifest,
] as const;

/** Token responses larger than this are refused. */
export const TOKEN_LIMIT_BYTES = 1024 * 1024;

export interface RegistryClientOptions {
  /** The registry as references name it: `host[:port]`; `docker.io` means Docker Hub. */
  registry: string;
  ctx?: SystemContext;
  /** Environment for DSV_* defaults and credential helpers (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Credentials to use instead of the credentials store; `null` = anonymous. */
  credentials?: Credentials | null;
  /** Upload blobs in PATCH chunks of this many bytes (default: one streamed PATCH, or monolithic when small). */
  chunkSize?: number;
  /** Blobs of known size up to this many bytes are buffered, checked, then PUT in one request (default 1 MiB). */
  monolithicMaxBytes?: number;
  /** Base delay of the exponential retry backoff (default 250 ms). */
  retryBaseDelayMs?: number;
  /** Idle timeout for response headers and body data (default 60 s). */
  timeoutMs?: number;
  /** Connect timeout (default 30 s). */
  connectTimeoutMs?: number;
  manifestLimitBytes?: number;
  tokenLimitBytes?: number;
  /** Host name resolution (pinning, tests). Default: the system resolver. */
  lookup?: LookupFunction;
  /** Sleep used between retries (tests inject one that records delays). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Counters for what the client actually did (tests and --debug summaries). */
export interface ClientStats {
  requests: number;
  retries: number;
  resumes: number;
  tokenFetches: number;
  mounts: number;
  mountAttempts: number;
  monolithicUploads: number;
  streamedUploads: number;
  chunkedUploads: number;
  chunks: number;
}

export interface ManifestResult {
  bytes: Uint8Array;
  mediaType: string;
  /** Our own digest of `bytes`. */
  digest: Digest;
}

export interface ManifestHead {
  mediaType?: string;
  size?: number;
  /** The registry's Docker-Content-Digest, as claimed: not verified. */
  registryDigest?: string;
}

interface RawResponse {
  status: number;
  headers: Headers;
  body: ResponseData['body'];
  url: URL;
}

interface SendRequest {
  what: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  scopes: string[];
  followRedirects?: boolean;
}

const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

function checkRepo(repo: string): string {
  if (typeof repo !== 'string' || repo.length > 255 || !REPO_RE.test(repo)) {
    throw new DsvError('ReferenceInvalid', `invalid repository name "${String(repo).slice(0, 100)}"`, { repository: String(repo).slice(0, 100) });
  }
  return repo;
}

/** A tag or a digest, validated before it goes into a URL. */
function checkRef(ref: string): { ref: string; digest?: Digest } {
  if (typeof ref === 'string' && ref.includes(':')) return { ref, digest: parseDigest(ref).digest };
  if (typeof ref !== 'string' || !TAG_RE.test(ref)) {
    throw new DsvError('ReferenceInvalid', `invalid tag "${String(ref).slice(0, 100)}"`, { tag: String(ref).slice(0, 100) });
  }
  return { ref };
}

function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}
function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

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
 * A Docker Registry HTTP API v2 client for one registry, on undici.
 *
 * Scheme: HTTPS with verification; CAs and client certificates from certs.d. Plain HTTP is used only
 * for loopback hosts named as such and for listed insecure registries, and only when the HTTPS
 * handshake itself fails (the server does not speak TLS) — decided once, by a probe before the first request.
 * A listed insecure registry is also reached over HTTPS without certificate verification.
 */
export class RegistryClient {
  /** The registry name as references write it. */
  readonly registry: string;
  /** host[:port] actually contacted (Docker Hub: registry-1.docker.io). */
  readonly endpoint: string;
  readonly stats: ClientStats = {
    requests: 0,
    retries: 0,
    resumes: 0,
    tokenFetches: 0,
    mounts: 0,
    mountAttempts: 0,
    monolithicUploads: 0,
    streamedUploads: 0,
    chunkedUploads: 0,
    chunks: 0,
  };

  private readonly ctx: SystemContext;
  private readonly env: NodeJS.ProcessEnv;
  private readonly opts: RegistryClientOptions;
  private readonly insecureListed: boolean;
  private readonly loopback: boolean;
  private readonly retryTimes: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly agents = new Map<string, Agent>();
  private readonly tlsMaterials = new Map<string, TlsMaterial>();
  private readonly tokens = new TokenCache();
  private base: Promise<URL> | undefined;
  private challenge: AuthChallenge | undefined;
  private creds: Promise<Credentials | undefined> | undefined;
  private closed = false;

  constructor(opts: RegistryClientOptions) {
    this.opts = opts;
    this.ctx = opts.ctx ?? {};
    this.env = opts.env ?? process.env;
    const reg = opts.registry.toLowerCase();
    if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(reg)) {
      throw new DsvError('ReferenceInvalid', `invalid registry "${opts.registry.slice(0, 100)}"`, { registry: opts.registry.slice(0, 100) });
    }
    this.registry = reg;
    this.endpoint = isDockerHub(reg) ? 'registry-1.docker.io' : reg;
    const insecureList = this.ctx.insecureRegistries ?? (this.env['DSV_INSECURE_REGISTRIES'] ?? '').split(/[,\s]+/).filter(Boolean);
    this.insecureListed = isListedInsecure(this.registry, insecureList) || isListedInsecure(this.endpoint, insecureList);
    this.loopback = isLoopbackHost(splitHostPort(this.endpoint).host);
    this.retryTimes = Math.max(0, this.ctx.retryTimes ?? 3);
    this.sleep = opts.sleep ?? defaultSleep;
  }

  private debug(message: string): void {
    this.ctx.debug?.(`registry ${this.registry}: ${message}`);
  }

  // ---------------------------------------------------------------- connections

  private agentFor(url: URL): Agent {
    const key = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const own = url.host === this.endpoint;
    const skipVerify = own ? this.insecureListed : isListedInsecure(url.host, this.ctx.insecureRegistries ?? []);
    const timeout = this.opts.timeoutMs ?? 60_000;
    agent = new Agent({
      connect: {
        ...(url.protocol === 'https:' ? { secureContext: this.secureContext(url.host, skipVerify) } : {}),
        rejectUnauthorized: !skipVerify,
        timeout: this.opts.connectTimeoutMs ?? 30_000,
        ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
      },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    this.agents.set(key, agent);
    return agent;
  }

  /**
   * The TLS context for `host`: the trusted roots (trustRoots: the system's, as docker and skopeo trust them)
   * plus its certs.d CAs and client certificate. Unverified connections (listed insecure) load no roots.
   */
  private secureContext(host: string, skipVerify: boolean): SecureContext {
    const material = this.tlsMaterial(host);
    if (material.dir) this.debug(`TLS material for ${host} from ${material.dir}`);
    const client = material.cert ? { cert: material.cert, key: material.key } : {};
    if (skipVerify) return createSecureContext({ ca: [], ...client });
    const roots = trustRoots(this.env);
    this.debug(`TLS roots for ${host}: ${roots.sources.join(', ')} (${roots.certificates.length} certificates)`);
    if (!hasCertsDMaterial(material)) return trustContext(roots);
    return createSecureContext({ ca: [...roots.certificates, ...material.ca.map((b) => b.toString('utf8'))], ...client });
  }

  /** CAs and client certificate for `host` from certs.d (read once per host). */
  private tlsMaterial(host: string): TlsMaterial {
    let material = this.tlsMaterials.get(host);
    if (!material) {
      material = loadCertsD(host, this.ctx.certsDirs ?? defaultCertsDirs(this.env));
      this.tlsMaterials.set(host, material);
    }
    return material;
  }

  private async raw(what: string, url: URL, method: string, headers: Record<string, string>, body?: Buffer | Readable): Promise<RawResponse> {
    if (this.closed) throw new DsvError('Usage', `registry client for ${this.registry} is closed`);
    this.stats.requests++;
    try {
      const r = await request(this.agentFor(url), url, {
        method: method as HttpMethod,
        headers: { 'user-agent': 'dsv', ...headers },
        body: body ?? null,
        signal: this.ctx.signal ?? null,
        // undici closes the connection after every HEAD (for servers that send a body with one); registries
        // do not, and a blob check per layer would otherwise cost a new connection — a TLS handshake — each.
        ...(method === 'HEAD' ? { reset: false } : {}),
      });
      this.debug(`${method} ${safeUrl(url)} → ${r.statusCode}`);
      return { status: r.statusCode, headers: r.headers as Headers, body: r.body, url };
    } catch (e) {
      if (this.ctx.signal?.aborted) throw e;
      throw networkError(e, what, url);
    }
  }

  /**
   * Starts resolving the scheme and the auth challenge now, without waiting; a failure here is not
   * reported: the first request tries again and reports it.
   */
  prepare(): void {
    this.baseUrl().catch(() => undefined);
  }

  /** Resolves the scheme (once) and learns the auth challenge from `GET /v2/`. */
  private baseUrl(): Promise<URL> {
    this.base ??= this.ping().catch((e) => {
      this.base = undefined;
      throw e;
    });
    return this.base;
  }

  private async ping(): Promise<URL> {
    const allowHttp = this.loopback || this.insecureListed;
    let base = new URL(`https://${this.endpoint}/`);
    const usePlainHttp = (codes: unknown): void => {
      this.debug(`HTTPS handshake failed (${String(codes ?? '') || 'tls'}); ${this.loopback ? 'loopback' : 'insecure'} registry: using plain HTTP`);
      base = new URL(`http://${this.endpoint}/`);
    };
    // May it be plain HTTP? A handshake that verifies nothing tells, without building Node's CA store. With
    // certs.d material for the host, its own CAs (and client certificate) make the first request the probe.
    if (allowHttp && !hasCertsDMaterial(this.tlsMaterial(base.host))) {
      const { host, port } = splitHostPort(this.endpoint);
      const probe = await probeTls(host, port ?? 443, {
        timeoutMs: this.opts.connectTimeoutMs ?? 30_000,
        ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
        ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
      });
      if (probe.tls === false) usePlainHttp(probe.codes);
    }
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse;
      try {
        res = await this.raw('ping', new URL('/v2/', base), 'GET', {});
      } catch (e) {
        if (base.protocol === 'https:' && allowHttp && isTlsProtocolError(e)) {
          usePlainHttp((e as DsvError).details?.['causeCodes']);
          attempt--;
          continue;
        }
        if (attempt < this.retryTimes && isTransientNetworkError(e)) {
          this.stats.retries++;
          await this.sleep(backoff(attempt, this.opts.retryBaseDelayMs ?? 250), this.ctx.signal);
          continue;
        }
        throw e;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < this.retryTimes) {
        await res.body.dump();
        this.stats.retries++;
        await this.sleep(retryAfterMs(header(res.headers, 'retry-after')) ?? backoff(attempt, this.opts.retryBaseDelayMs ?? 250), this.ctx.signal);
        continue;
      }
      if (res.status === 401) {
        this.learnChallenge(res.headers);
        await res.body.dump();
        return base;
      }
      if (res.status >= 200 && res.status < 300) {
        await res.body.dump();
        return base;
      }
      const body = await readErrorBody(res.body);
      throw registryError(res.status, body, { what: `registry API check (GET /v2/)`, host: this.registry });
    }
  }

  private learnChallenge(headers: Headers): AuthChallenge | undefined {
    const all = headerAll(headers, 'www-authenticate').flatMap((h) => parseAuthChallenge(h));
    const ch = findChallenge(all, 'bearer') ?? findChallenge(all, 'basic');
    if (ch) this.challenge = ch;
    return ch;
  }

  private credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials !== undefined) return Promise.resolve(this.opts.credentials ?? undefined);
    this.creds ??= resolveCredentials(this.registry, {
      credentialsStore: this.ctx.credentialsStore,
      env: this.env,
      debug: (m) => this.debug(m),
    });
    return this.creds;
  }

  // ---------------------------------------------------------------- auth

  private async authorization(scopes: string[], forceNew: boolean): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme.toLowerCase() === 'basic') {
      const c = await this.credentials();
      if (c?.username === undefined || c.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
    }
    return `Bearer ${await this.bearerToken(ch, scopes, forceNew)}`;
  }

  private checkRealm(realm: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new DsvError('AuthFailed', `registry ${this.registry} named an invalid token realm`, { registry: this.registry });
    }
    if (isDockerHub(this.registry)) {
      const hubAuth = (this.ctx.dockerHubAuth ?? this.env['DSV_DOCKERHUB_AUTH'] ?? 'auth.docker.io').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
      if (url.protocol !== 'https:' || url.host !== hubAuth) {
        throw new DsvError('AuthFailed', `Docker Hub named token realm ${safeUrl(url)}, expected https://${hubAuth} (DSV_DOCKERHUB_AUTH)`, { registry: this.registry });
      }
      return url;
    }
    if (url.protocol === 'https:') return url;
    if (url.protocol === 'http:' && (isLoopbackHost(url.hostname) || this.insecureListed)) return url;
    throw new DsvError(
      'AuthFailed',
      `registry ${this.registry}: refusing token realm ${safeUrl(url)}: not HTTPS (credentials would travel in clear); list the registry as insecure to allow it`,
      { registry: this.registry, realm: safeUrl(url) },
    );
  }

  private async bearerToken(ch: AuthChallenge, scopes: string[], forceNew: boolean): Promise<string> {
    const realmRaw = ch.params['realm'];
    if (!realmRaw) throw new DsvError('AuthFailed', `registry ${this.registry} sent a Bearer challenge without a realm`, { registry: this.registry });
    const realm = this.checkRealm(realmRaw);
    const service = ch.params['service'];
    const wanted = [...new Set(scopes)].sort();
    const key = TokenCache.key(realm.href, service, wanted);
    if (!forceNew) {
      const cached = this.tokens.get(key);
      if (cached) return cached;
    }
    this.tokens.delete(key);
    const creds = await this.credentials();
    const what = `token for ${wanted.join(' ') || 'registry access'} from ${safeUrl(realm)}`;
    let res: RawResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.identityToken);
      form.set('client_id', 'dsv');
      if (service) form.set('service', service);
      if (wanted.length) form.set('scope', wanted.join(' '));
      const body = Buffer.from(form.toString(), 'utf8');
      res = await this.retrying(what, () => this.raw(what, realm, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, body), true);
    } else {
      const url = new URL(realm.href);
      if (service) url.searchParams.set('service', service);
      for (const s of wanted) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined && creds.password !== undefined) {
        headers['authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
        url.searchParams.set('account', creds.username);
      }
      res = await this.retrying(what, () => this.raw(what, url, 'GET', headers), true);
    }
    this.stats.tokenFetches++;
    if (res.status !== 200) {
      const body = await readErrorBody(res.body);
      if (res.status === 401 || res.status === 403) {
        throw new DsvError('AuthFailed', `${what}: the token server refused ${creds ? 'the credentials' : 'anonymous access'} (${res.status})`, {
          registry: this.registry,
          status: res.status,
        });
      }
      throw registryError(res.status, body, { what, host: realm.host });
    }
    const bytes = await readCapped(res.body, res.headers, this.opts.tokenLimitBytes ?? TOKEN_LIMIT_BYTES, `${what}: token response`);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch {
      throw new DsvError('AuthFailed', `${what}: the token response is not JSON`, { registry: this.registry });
    }
    const token = typeof doc?.token === 'string' && doc.token ? doc.token : typeof doc?.access_token === 'string' ? doc.access_token : '';
    if (!token) throw new DsvError('AuthFailed', `${what}: the token response has no token`, { registry: this.registry });
    const expires = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    this.tokens.set(key, token, expires);
    this.debug(`got a token for ${wanted.join(' ') || '(no scope)'} valid ${expires}s`);
    return token;
  }

  // ---------------------------------------------------------------- request pipeline

  /** Retries 429/5xx (honouring Retry-After) and transient connection failures, when the request can be replayed. */
  private async retrying(what: string, op: () => Promise<RawResponse>, replayable: boolean): Promise<RawResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse;
      try {
        res = await op();
      } catch (e) {
        if (replayable && attempt < this.retryTimes && isTransientNetworkError(e) && !this.ctx.signal?.aborted) {
          this.stats.retries++;
          const d = backoff(attempt, this.opts.retryBaseDelayMs ?? 250);
          this.debug(`${what}: ${(e as Error).message}; retry ${attempt + 1}/${this.retryTimes} in ${d} ms`);
          await this.sleep(d, this.ctx.signal);
          continue;
        }
        throw e;
      }
      if (replayable && attempt < this.retryTimes && (res.status === 429 || (res.status >= 500 && res.status !== 501 && res.status !== 505))) {
        const d = retryAfterMs(header(res.headers, 'retry-after')) ?? backoff(attempt, this.opts.retryBaseDelayMs ?? 250);
        await res.body.dump().catch(() => undefined);
        this.stats.retries++;
        this.debug(`${what}: ${res.status}; retry ${attempt + 1}/${this.retryTimes} in ${d} ms`);
        await this.sleep(d, this.ctx.signal);
        continue;
      }
      return res;
    }
  }

  /** One request with redirects: Authorization is dropped when leaving the registry's origin; https→http is refused. */
  private async following(req: SendRequest, headers: Record<string, string>): Promise<RawResponse> {
    let url = req.url;
    let method: string = req.method;
    let hdrs = headers;
    const origin = url.origin;
    for (let hop = 0; hop <= 5; hop++) {
      const res = await this.raw(req.what, url, method, hdrs, req.body);
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
      if (next.origin !== origin) {
        const { authorization: _dropped, ...rest } = hdrs;
        hdrs = rest;
        this.debug(`${req.what}: redirected to ${next.host}; Authorization not forwarded`);
      }
      if (res.status === 303) method = 'GET';
      url = next;
    }
    throw new DsvError('RemoteError', `${req.what}: too many redirects`, { url: safeUrl(req.url) });
  }

  /**
   * Sends a registry request: preemptive auth from the known challenge, retries, redirects, and on
   * 401 a fresh challenge/token — at most twice, then AuthFailed (no 401 loop).
   */
  private async send(req: SendRequest): Promise<RawResponse> {
    const replayable = !(req.body instanceof Readable);
    let scopes = req.scopes;
    let forceNew = false;
    for (let authRound = 0; ; authRound++) {
      const res = await this.retrying(
        req.what,
        async () => {
          const auth = await this.authorization(scopes, forceNew);
          forceNew = false;
          return this.following(req, { ...req.headers, ...(auth ? { authorization: auth } : {}) });
        },
        replayable,
      );
      if (res.status !== 401 || res.url.origin !== req.url.origin) return res;
      const before = this.challenge;
      const ch = this.learnChallenge(res.headers);
      await res.body.dump().catch(() => undefined);
      const creds = await this.credentials();
      const canRetry = replayable && authRound < 2 && ch !== undefined && (ch.scheme.toLowerCase() === 'bearer' || (creds?.username !== undefined && before?.scheme.toLowerCase() !== 'basic'));
      if (!canRetry) {
        const err = ch?.params['error'];
        throw new DsvError(
          'AuthFailed',
          `${req.what}: registry ${this.registry} refused ${creds ? 'the credentials' : 'anonymous access'}${err ? ` (${oneLine(err, 60)})` : ''}`,
          { registry: this.registry, status: 401 },
        );
      }
      const extra = ch.params['scope'];
      if (extra) scopes = [...new Set([...scopes, ...extra.split(' ').filter(Boolean)])];
      forceNew = true;
    }
  }

  private async expect(res: RawResponse, ok: number[], what: string, details: Record<string, unknown> = {}): Promise<RawResponse> {
    if (ok.includes(res.status)) return res;
    const body = await readErrorBody(res.body);
    throw registryError(res.status, body, { what, host: this.registry, details });
  }

  private async url(path: string): Promise<URL> {
    return new URL(path, await this.baseUrl());
  }

  private async sameOriginLocation(res: RawResponse, what: string): Promise<URL> {
    const loc = header(res.headers, 'location');
    if (!loc) throw new DsvError('RemoteError', `${what}: the registry sent no upload Location`, { registry: this.registry });
    const url = new URL(loc, res.url);
    const base = await this.baseUrl();
    if (url.origin !== base.origin) {
      throw new DsvError('RemoteError', `${what}: the registry sent an upload Location on another origin (${url.host})`, { registry: this.registry });
    }
    return url;
  }

  // ---------------------------------------------------------------- reads

  /**
   * The manifest (or list/index) `reference` (tag or digest) names, as exact bytes. The digest is
   * ours; a digest reference is verified; the registry's Docker-Content-Digest is never trusted.
   */
  async getManifest(repository: string, reference: string): Promise<ManifestResult> {
    const repo = checkRepo(repository);
    const { ref, digest: wanted } = checkRef(reference);
    const what = `manifest ${repo}${wanted ? '@' : ':'}${ref}`;
    const res = await this.send({
      what,
      method: 'GET',
      url: await this.url(`/v2/${repo}/manifests/${ref}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      scopes: [pullScope(repo)],
      followRedirects: true,
    });
    await this.expect(res, [200], what, { repository: repo, reference: ref });
    const bytes = await readCapped(res.body, res.headers, this.opts.manifestLimitBytes ?? Limits.manifestBytes, what);
    const digest = digestOf(bytes, wanted ? parseDigest(wanted).algorithm : 'sha256');
    if (wanted && digest !== wanted) {
      throw new DsvError('DigestMismatch', `${what}: content digest ${digest} does not match`, { digest: wanted, actual: digest, repository: repo });
    }
    const claimed = header(res.headers, 'docker-content-digest');
    if (claimed && claimed.startsWith(`${parseDigest(digest).algorithm}:`) && claimed !== digest) {
      this.debug(`${what}: registry's Docker-Content-Digest ${oneLine(claimed, 80)} differs from our ${digest}; using ours`);
    }
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), mediaType: mediaTypeOf(bytes, header(res.headers, 'content-type')), digest };
  }

  /** HEAD a manifest: undefined when it does not exist. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const repo = checkRepo(repository);
    const { ref, digest } = checkRef(reference);
    const what = `manifest ${repo}${digest ? '@' : ':'}${ref}`;
    const res = await this.send({
      what,
      method: 'HEAD',
      url: await this.url(`/v2/${repo}/manifests/${ref}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      scopes: [pullScope(repo)],
      followRedirects: true,
    });
    if (res.status === 404) {
      await res.body.dump().catch(() => undefined);
      return undefined;
    }
    await this.expect(res, [200], what);
    await res.body.dump().catch(() => undefined);
    const len = header(res.headers, 'content-length');
    return {
      mediaType: header(res.headers, 'content-type')?.split(';')[0]?.trim(),
      size: len && /^\d+$/.test(len) ? Number(len) : undefined,
      registryDigest: header(res.headers, 'docker-content-digest'),
    };
  }

  private async openBlob(repo: string, digest: string, offset: number): Promise<RawResponse> {
    const what = `blob ${digest} in ${repo}`;
    const res = await this.send({
      what,
      method: 'GET',
      url: await this.url(`/v2/${repo}/blobs/${digest}`),
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: [pullScope(repo)],
      followRedirects: true,
    });
    return this.expect(res, offset > 0 ? [200, 206] : [200], what, { digest, repository: repo });
  }

  /**
   * A blob as a stream. Hashes while streaming and fails (instead of ending) when the bytes do not
   * match `digest` (and `size`, when given); a connection that breaks mid-blob is resumed with a
   * Range request (or restarted, skipping what was already delivered), so the caller sees one
   * consistent stream.
   */
  async getBlob(repository: string, digest: string, opts: { size?: number; verify?: boolean } = {}): Promise<Readable> {
    const repo = checkRepo(repository);
    const parsed = parseDigest(digest);
    const first = await this.openBlob(repo, parsed.digest, 0);
    const what = `blob ${parsed.digest}`;
    let resumes = 0;
    return new BlobDownload(first, {
      what,
      digest: parsed.digest,
      repository: repo,
      size: opts.size,
      digester: opts.verify !== false ? new Digester(parsed.algorithm) : undefined,
      onProgress: this.ctx.onProgress,
      resume: async (received, error, url) => {
        if (error instanceof DsvError && error.code !== 'Network') throw error;
        if (!isTransientNetworkError(error) || resumes >= this.retryTimes || this.ctx.signal?.aborted) {
          throw error instanceof DsvError ? error : networkError(error, `${what}: download broke off after ${received} bytes`, url);
        }
        resumes++;
        this.stats.resumes++;
        this.debug(`${what}: connection broke after ${received} bytes; resuming (${resumes}/${this.retryTimes})`);
        await this.sleep(backoff(resumes - 1, this.opts.retryBaseDelayMs ?? 250), this.ctx.signal);
        const res = await this.openBlob(repo, parsed.digest, received);
        if (res.status === 206) {
          const cr = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
          if (cr && Number(cr[1]) === received) return { res, skip: 0 };
          await res.body.dump().catch(() => undefined);
          return { res: await this.openBlob(repo, parsed.digest, 0), skip: received };
        }
        return { res, skip: received };
      },
    });
  }

  /** HEAD a blob: true when the repository has it. */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const repo = checkRepo(repository);
    const d = parseDigest(digest).digest;
    const what = `blob ${d} in ${repo}`;
    const res = await this.send({ what, method: 'HEAD', url: await this.url(`/v2/${repo}/blobs/${d}`), scopes: [pullScope(repo)], followRedirects: true });
    await res.body.dump().catch(() => undefined);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw registryError(res.status, Buffer.alloc(0), { what, host: this.registry, details: { digest: d } });
  }

  /**
   * Tags of a repository, following `Link: <…>; rel="next"` pagination. `pageSize` sets `?n=` (a
   * registry may ignore it and answer in one page: distribution 2.8 does for tags).
   */
  async listTags(repository: string, opts: { pageSize?: number } = {}): Promise<string[]> {
    const repo = checkRepo(repository);
    return this.paginated(`tag list of ${repo}`, `/v2/${repo}/tags/list`, 'tags', [pullScope(repo)], opts.pageSize, { repository: repo });
  }

  /** Repositories in the registry (`/v2/_catalog`, Link pagination), where the registry allows it. */
  async listRepositories(opts: { pageSize?: number } = {}): Promise<string[]> {
    return this.paginated('repository catalog', '/v2/_catalog', 'repositories', ['registry:catalog:*'], opts.pageSize, {});
  }

  private async paginated(what: string, path: string, field: string, scopes: string[], pageSize: number | undefined, details: Record<string, unknown>): Promise<string[]> {
    let url = await this.url(path);
    if (pageSize) url.searchParams.set('n', String(pageSize));
    const items: string[] = [];
    const seen = new Set<string>();
    for (let page = 0; page < 100_000; page++) {
      seen.add(url.href);
      const res = await this.send({ what, method: 'GET', url, scopes, followRedirects: true });
      await this.expect(res, [200], what, details);
      const bytes = await readCapped(res.body, res.headers, this.opts.manifestLimitBytes ?? Limits.manifestBytes, what);
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new DsvError('RemoteError', `${what}: the registry's answer is not JSON`, details);
      }
      const list = doc?.[field];
      if (Array.isArray(list)) for (const t of list) if (typeof t === 'string') items.push(t);
      const next = nextLink(headerAll(res.headers, 'link'), url);
      if (!next) return items;
      if (next.origin !== url.origin) throw new DsvError('RemoteError', `${what}: pagination link to another origin (${next.host}) refused`, details);
      if (seen.has(next.href)) throw new DsvError('RemoteError', `${what}: pagination links loop`, details);
      url = next;
    }
    throw new DsvError('LimitExceeded', `${what}: too many pages`, details);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Cross-repository mount (`POST …/blobs/uploads/?mount=&from=`). True when the registry mounted the
   * blob (201); false when it started an upload instead (that session is cancelled).
   */
  async mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean> {
    const repo = checkRepo(repository);
    const from = checkRepo(fromRepository);
    const d = parseDigest(digest).digest;
    const what = `mount of ${d} from ${from} into ${repo}`;
    this.stats.mountAttempts++;
    const url = await this.url(`/v2/${repo}/blobs/uploads/`);
    url.searchParams.set('mount', d);
    url.searchParams.set('from', from);
    const res = await this.send({ what, method: 'POST', url, headers: { 'content-length': '0' }, body: Buffer.alloc(0), scopes: [pushScope(repo), pullScope(from)] });
    if (res.status === 201) {
      await res.body.dump().catch(() => undefined);
      this.stats.mounts++;
      this.debug(`${what}: mounted (no upload)`);
      return true;
    }
    if (res.status === 202) {
      await res.body.dump().catch(() => undefined);
      const loc = await this.sameOriginLocation(res, what).catch(() => undefined);
      if (loc) await this.cancelUpload(repo, loc);
      this.debug(`${what}: not mounted; will upload`);
      return false;
    }
    await this.expect(res, [201], what, { digest: d, repository: repo, from });
    return false;
  }

  private async startUpload(repo: string, what: string): Promise<URL> {
    const res = await this.send({
      what,
      method: 'POST',
      url: await this.url(`/v2/${repo}/blobs/uploads/`),
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
      scopes: [pushScope(repo)],
    });
    await this.expect(res, [202], what, { repository: repo });
    await res.body.dump().catch(() => undefined);
    return this.sameOriginLocation(res, what);
  }

  private async cancelUpload(repo: string, location: URL): Promise<void> {
    try {
      const res = await this.send({ what: `cancel upload in ${repo}`, method: 'DELETE', url: location, scopes: [pushScope(repo)] });
      await res.body.dump().catch(() => undefined);
      this.debug(`upload in ${repo} cancelled (${res.status})`);
    } catch (e) {
      this.debug(`cancelling upload in ${repo} failed: ${(e as Error).message}`);
    }
  }

  /**
   * Uploads a blob, hashing while it streams; the final PUT (the commit) is sent only when digest and
   * size match — otherwise the upload is cancelled (DELETE) and DigestMismatch/SizeMismatch thrown.
   * Small blobs of known size go monolithically (POST + one PUT with the body), others in one streamed
   * PATCH, or in PATCH chunks of `chunkSize` bytes (option or constructor default).
   */
  async uploadBlob(
    repository: string,
    digest: string,
    stream: Readable | AsyncIterable<Uint8Array>,
    opts: { size?: number; chunkSize?: number; verify?: boolean } = {},
  ): Promise<void> {
    const repo = checkRepo(repository);
    const parsed = parseDigest(digest);
    const size = opts.size;
    const chunkSize = opts.chunkSize ?? this.opts.chunkSize;
    const what = `upload of blob ${parsed.digest} to ${repo}`;
    const label = `blob ${parsed.digest}`;
    let location = await this.startUpload(repo, what);
    let committed = false;
    // verify: false is for streams that check themselves (they error on a mismatch, which cancels the
    // upload, and deliver their last chunk only once checked): the bytes are not hashed a second time.
    const hashing = opts.verify !== false;
    const dig = hashing ? new Digester(parsed.algorithm) : byteCounter();
    const check = (n: number) => {
      if (size !== undefined && n > size) {
        throw new DsvError('SizeMismatch', `${label}: more than the expected ${size} bytes`, { digest: parsed.digest, expectedSize: size });
      }
    };
    const progress = (done: number) => this.ctx.onProgress?.({ id: parsed.digest, done, total: size, phase: 'write' });
    const verify = () => {
      if (size !== undefined && dig.size !== size) {
        throw new DsvError('SizeMismatch', `${label}: expected ${size} bytes, got ${dig.size}; upload cancelled`, { digest: parsed.digest, expectedSize: size, actualSize: dig.size });
      }
      if (!hashing) return;
      const actual = dig.digest();
      if (actual !== parsed.digest) {
        throw new DsvError('DigestMismatch', `${label}: content digest ${actual} does not match; upload cancelled`, { digest: parsed.digest, actual, repository: repo });
      }
    };
    // A request body that counts (and hashes) the bytes on their way; its last chunk is held back until
    // size and digest are checked, so a bad or failing stream never completes a request body.
    const checkedBody = (): { body: Transform; source: Readable } => {
      let held: Buffer | undefined;
      const body = new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          try {
            dig.update(chunk);
            check(dig.size);
            const out = held;
            held = chunk;
            cb(null, out);
          } catch (e) {
            cb(e as Error);
          }
        },
        flush(cb: TransformCallback) {
          try {
            verify();
            cb(null, held);
          } catch (e) {
            cb(e as Error);
          }
        },
      });
      const source = stream instanceof Readable ? stream : Readable.from(stream);
      source.on('error', (e) => body.destroy(e));
      source.pipe(body);
      return { body, source };
    };
    const commitUrl = () => {
      const u = new URL(location.href);
      u.searchParams.set('digest', parsed.digest);
      return u;
    };
    // The final PUT; a streamed body completes only once checked (it holds its last chunk until then). When
    // its answer is lost (a retried PUT then finds the session gone), the blob may be stored all the same:
    // a HEAD decides.
    const commit = async (headers: Record<string, string>, body: Buffer | Readable) => {
      try {
        const res = await this.send({ what, method: 'PUT', url: commitUrl(), headers, body, scopes: [pushScope(repo)] });
        await this.expect(res, [201], what, { digest: parsed.digest, repository: repo });
        await res.body.dump().catch(() => undefined);
      } catch (e) {
        // A failed body (a source error destroys it too) surfaces as a request failure: report its own error.
        if (body instanceof Readable && body.errored) throw body.errored;
        if (e instanceof DsvError && ['NotFound', 'Network', 'RemoteError'].includes(e.code) && (await this.hasBlob(repo, parsed.digest).catch(() => false))) {
          this.debug(`${what}: the commit failed (${e.code}) but the registry has the blob`);
          return;
        }
        throw e;
      }
    };
    try {
      if (!chunkSize && size !== undefined && size <= (this.opts.monolithicMaxBytes ?? 1024 * 1024)) {
        // Monolithic: buffer (bounded by the size), check, then one PUT carrying the bytes.
        const parts: Buffer[] = [];
        for await (const c of stream) {
          const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
          dig.update(b);
          check(dig.size);
          parts.push(b);
        }
        verify();
        const body = Buffer.concat(parts);
        this.stats.monolithicUploads++;
        await commit({ 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body);
        committed = true;
        progress(body.length);
        return;
      }
      if (chunkSize) {
        if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new DsvError('Usage', `chunk size must be a positive integer`);
        this.stats.chunkedUploads++;
        let offset = 0;
        for await (const chunk of rechunk(stream, chunkSize)) {
          dig.update(chunk);
          check(dig.size);
          this.stats.chunks++;
          const res = await this.send({
            what,
            method: 'PATCH',
            url: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(chunk.length),
              'content-range': `${offset}-${offset + chunk.length - 1}`,
            },
            body: chunk,
            scopes: [pushScope(repo)],
          });
          await this.expect(res, [202], `${what} (chunk at ${offset})`, { digest: parsed.digest, repository: repo });
          await res.body.dump().catch(() => undefined);
          location = await this.sameOriginLocation(res, what);
          offset += chunk.length;
          progress(offset);
        }
        verify();
      } else if (size !== undefined) {
        // Size known: the bytes go in the body of the closing PUT (POST + PUT, as the distribution spec's
        // monolithic upload), one request fewer than PATCH + PUT; a bad stream never completes the declared
        // Content-Length, so the registry never commits it.
        this.stats.streamedUploads++;
        // A stream that checks itself delivers its last chunk only once checked: it is the body as it is.
        const body = !hashing && stream instanceof Readable ? stream : checkedBody().body;
        await commit({ 'content-type': 'application/octet-stream', 'content-length': String(size) }, body);
        committed = true;
        progress(size);
        return;
      } else {
        // Size unknown: one streamed PATCH (its body checked before it ends), then the closing PUT.
        this.stats.streamedUploads++;
        const { body, source } = checkedBody();
        let res: RawResponse;
        try {
          res = await this.send({
            what,
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream' },
            body,
            scopes: [pushScope(repo)],
          });
        } catch (e) {
          // A source failure surfaces here as a request failure: report the source's own error.
          throw body.errored ?? source.errored ?? e;
        }
        await this.expect(res, [202], what, { digest: parsed.digest, repository: repo });
        await res.body.dump().catch(() => undefined);
        location = await this.sameOriginLocation(res, what);
        progress(dig.size);
      }
      await commit({ 'content-length': '0' }, Buffer.alloc(0));
      committed = true;
    } finally {
      if (!committed) await this.cancelUpload(repo, location);
    }
  }

  /** PUTs a manifest under a tag or digest with its Content-Type; returns our digest of the bytes. */
  async putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const repo = checkRepo(repository);
    const { ref, digest: wanted } = checkRef(reference);
    const limit = this.opts.manifestLimitBytes ?? Limits.manifestBytes;
    if (bytes.length > limit) throw new DsvError('LimitExceeded', `manifest for ${repo}: ${bytes.length} bytes is over the ${limit}-byte limit`, { limit });
    const digest = digestOf(bytes, wanted ? parseDigest(wanted).algorithm : 'sha256');
    if (wanted && digest !== wanted) {
      throw new DsvError('DigestMismatch', `manifest for ${repo}@${wanted}: content digest ${digest} does not match`, { digest: wanted, actual: digest });
    }
    const what = `manifest ${repo}${wanted ? '@' : ':'}${ref}`;
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const res = await this.send({
      what,
      method: 'PUT',
      url: await this.url(`/v2/${repo}/manifests/${ref}`),
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body,
      scopes: [pushScope(repo)],
    });
    await this.expect(res, [201], what, { repository: repo, reference: ref });
    await res.body.dump().catch(() => undefined);
    return digest;
  }

  /** Deletes a manifest by digest (registries with delete enabled). */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const repo = checkRepo(repository);
    const d = parseDigest(digest).digest;
    const what = `delete of manifest ${repo}@${d}`;
    const res = await this.send({ what, method: 'DELETE', url: await this.url(`/v2/${repo}/manifests/${d}`), scopes: [`repository:${repo}:delete`, pushScope(repo)] });
    await this.expect(res, [202, 200], what);
    await res.body.dump().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const agents = [...this.agents.values()];
    this.agents.clear();
    // Every request the caller waited for has ended; what is still in flight (a prepare() of a
    // registry never used, say towards an unreachable host) is abandoned, not waited for.
    await Promise.all(agents.map((a) => a.destroy().catch(() => undefined)));
  }
}

/**
 * A blob download as one stream. Chunks are pushed as the response delivers them (no per-chunk
 * promises: this is the hot path of every copy and verify), checked against the size and, with a
 * digester, the digest before the stream ends — a mismatch fails it instead. A response that breaks
 * off is replaced by `resume(received)`'s, skipping the bytes already delivered when it starts over.
 */
class BlobDownload extends Readable {
  private res: RawResponse;
  private flowing = false;
  private received = 0;
  private skip = 0;
  private lastProgress = 0;

  constructor(
    first: RawResponse,
    private readonly o: {
      what: string;
      digest: Digest;
      repository: string;
      size: number | undefined;
      digester: Digester | undefined;
      onProgress: SystemContext['onProgress'];
      resume(received: number, error: unknown, url: URL): Promise<{ res: RawResponse; skip: number }>;
    },
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.res = first;
  }

  override _read(): void {
    if (this.flowing) this.res.body.resume();
    else this.listen(this.res);
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.res.body.destroy();
    cb(error);
  }

  private listen(res: RawResponse): void {
    this.res = res;
    this.flowing = true;
    const current = () => this.res === res && !this.destroyed;
    res.body.on('data', (chunk: Buffer) => {
      if (current()) this.deliver(chunk);
    });
    res.body.once('end', () => {
      if (current()) this.finish();
    });
    res.body.once('error', (e: unknown) => {
      if (!current()) return;
      this.o.resume(this.received, e, res.url).then(
        (next) => {
          if (this.destroyed) return void next.res.body.destroy();
          this.skip = next.skip;
          this.listen(next.res);
        },
        (error: Error) => this.destroy(error),
      );
    });
  }

  private deliver(raw: Buffer): void {
    let chunk = raw;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    const { size, what, digest } = this.o;
    this.received += chunk.length;
    if (size !== undefined && this.received > size) {
      this.destroy(new DsvError('SizeMismatch', `${what}: more than the expected ${size} bytes`, { digest, expectedSize: size }));
      return;
    }
    this.o.digester?.update(chunk);
    if (this.o.onProgress && (this.received - this.lastProgress >= 1 << 20 || this.received === size)) {
      this.lastProgress = this.received;
      this.o.onProgress({ id: digest, done: this.received, total: size, phase: 'read' });
    }
    if (!this.push(chunk)) this.res.body.pause();
  }

  private finish(): void {
    const { size, what, digest, digester, repository } = this.o;
    if (size !== undefined && this.received !== size) {
      this.destroy(new DsvError('SizeMismatch', `${what}: expected ${size} bytes, got ${this.received}`, { digest, expectedSize: size, actualSize: this.received }));
      return;
    }
    const actual = digester?.digest();
    if (actual !== undefined && actual !== digest) {
      this.destroy(new DsvError('DigestMismatch', `${what}: content digest ${actual} does not match`, { digest, actual, repository }));
      return;
    }
    this.push(null);
  }
}

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

/** Regroups a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of stream) {
    let b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    while (b.length > 0) {
      const take = Math.min(size - have, b.length);
      parts.push(b.subarray(0, take));
      have += take;
      b = b.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/** Counts bytes with a Digester's shape, for uploads whose stream verifies itself. */
function byteCounter(): { update(chunk: Uint8Array): void; readonly size: number; digest(): Digest } {
  let n = 0;
  return {
    update(chunk) {
      n += chunk.length;
    },
    get size() {
      return n;
    },
    digest() {
      throw new Error('byteCounter has no digest');
    },
  };
}
