// Auth layer: the registry's challenge, its credentials, and the Authorization each request carries (Basic, or a Bearer token from the realm, cached per scope set).
import { DsvError } from '@dsv/core/formats';
import { TokenCache, findChallenge, parseAuthChallenge, type AuthChallenge } from './auth.js';
import type { ClientConfig } from './config.js';
import { isDockerHub, resolveCredentialsInFiles, type Credentials } from './credentials.js';
import { retrying } from './retry.js';
import { Deadline } from './deadline.js';
import type { RawResponse, RoundTrip } from './types.js';
import { headerAll, readBody, readErrorBody, registryError, safeUrl, type Headers } from './util.js';

/** Token responses larger than this are refused. */
export const TOKEN_LIMIT_BYTES = 1024 * 1024;

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

export class Authorizer {
  private readonly tokens = new TokenCache();
  private current: AuthChallenge | undefined;
  private creds: Promise<Credentials | undefined> | undefined;
  private source: string | undefined;

  /** `roundTrip`: the connection layer, for token requests (which carry no registry auth and follow no redirects). */
  constructor(
    private readonly cfg: ClientConfig,
    private readonly roundTrip: RoundTrip,
  ) {}

  /** The challenge in force (from the ping or the latest 401). */
  get challenge(): AuthChallenge | undefined {
    return this.current;
  }

  /** Takes the Bearer (else Basic) challenge of a 401's WWW-Authenticate headers, when there is one. */
  learnChallenge(headers: Headers): AuthChallenge | undefined {
    const all = headerAll(headers, 'www-authenticate').flatMap((h) => parseAuthChallenge(h));
    const ch = findChallenge(all, 'bearer') ?? findChallenge(all, 'basic');
    if (ch) this.current = ch;
    return ch;
  }

  /** The options' credentials, else the credentials store's (looked up once). */
  credentials(): Promise<Credentials | undefined> {
    const cfg = this.cfg;
    if (cfg.credentials !== undefined) return Promise.resolve(cfg.credentials ?? undefined);
    this.creds ??= resolveCredentialsInFiles(cfg.registry, {
      files: cfg.credentialsFiles,
      childEnv: cfg.childEnv,
      debug: (m) => cfg.debug(m),
    }).then((found) => {
      this.source = found?.file;
      return found?.credentials;
    });
    return this.creds;
  }

  /** Where the credentials in use came from, or which files had none, for messages (never a secret). */
  describeSources(): string {
    const cfg = this.cfg;
    if (cfg.credentials === null) return 'anonymous by request';
    if (cfg.credentials !== undefined) return `credentials from ${cfg.credentialsSource ?? 'the caller'}`;
    if (this.source) return `credentials from ${this.source}`;
    return `no credentials for ${cfg.registry} in ${cfg.credentialsFiles.join(', ') || 'any auth file'}`;
  }

  /** The Authorization value for a request needing `scopes`; `forceNew` skips the token cache (after a 401). */
  async authorization(scopes: string[], forceNew: boolean): Promise<string | undefined> {
    const ch = this.current;
    if (!ch) return undefined;
    if (ch.scheme.toLowerCase() === 'basic') {
      const c = await this.credentials();
      if (c?.username === undefined || c.password === undefined) return undefined;
      return basic(c);
    }
    return `Bearer ${await this.bearerToken(ch, scopes, forceNew)}`;
  }

  /**
   * The realm's URL when dsv may ask it for a token: Docker Hub's must be its token service; elsewhere HTTPS
   * on any host (Docker Hub and GitLab name another host), plain HTTP only on the registry's own host when
   * that is loopback or listed insecure, and never an address the registry may not send dsv to (addresses.ts).
   */
  private async checkRealm(realm: string): Promise<URL> {
    const cfg = this.cfg;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new DsvError('AuthFailed', `registry ${cfg.registry} named an invalid token realm`, { registry: cfg.registry });
    }
    if (isDockerHub(cfg.registry)) {
      const hubAuth = cfg.dockerHubAuth;
      if (url.protocol !== 'https:' || url.host !== hubAuth) {
        throw new DsvError('AuthFailed', `Docker Hub named token realm ${safeUrl(url)}, expected https://${hubAuth} (DSV_DOCKERHUB_AUTH)`, { registry: cfg.registry });
      }
      return url;
    }
    if (url.protocol === 'http:') {
      const ownHost = url.hostname === new URL(`http://${cfg.endpoint}/`).hostname;
      if (!ownHost || !(cfg.loopback || cfg.insecureListed)) {
        throw new DsvError(
          'AuthFailed',
          `registry ${cfg.registry}: refusing token realm ${safeUrl(url)}: not HTTPS (credentials would travel in clear); plain HTTP only on the registry's own host, when it is loopback or listed insecure`,
          { registry: cfg.registry, realm: safeUrl(url) },
        );
      }
    } else if (url.protocol !== 'https:') {
      throw new DsvError('AuthFailed', `registry ${cfg.registry}: refusing token realm ${safeUrl(url)}: not an HTTPS URL`, { registry: cfg.registry, realm: safeUrl(url) });
    }
    await cfg.addresses.check(url, 'token realm', 'AuthFailed');
    return url;
  }

  private async bearerToken(ch: AuthChallenge, scopes: string[], forceNew: boolean): Promise<string> {
    const cfg = this.cfg;
    const realmRaw = ch.params['realm'];
    if (!realmRaw) throw new DsvError('AuthFailed', `registry ${cfg.registry} sent a Bearer challenge without a realm`, { registry: cfg.registry });
    const realm = await this.checkRealm(realmRaw);
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
    const deadline = new Deadline(cfg.requestTimeoutMs, `${creds?.identityToken ? 'POST' : 'GET'} ${what}`, cfg.ctx.signal);
    try {
      return await this.fetchToken(realm, service, wanted, key, creds, what, deadline);
    } finally {
      deadline.clear();
    }
  }

  private async fetchToken(
    realm: URL,
    service: string | undefined,
    wanted: string[],
    key: string,
    creds: Credentials | undefined,
    what: string,
    deadline: Deadline,
  ): Promise<string> {
    const cfg = this.cfg;
    let res: RawResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.identityToken);
      form.set('client_id', 'dsv');
      if (service) form.set('service', service);
      if (wanted.length) form.set('scope', wanted.join(' '));
      const body = Buffer.from(form.toString(), 'utf8');
      res = await retrying(cfg, what, () => this.roundTrip(what, realm, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, body, deadline), true, deadline);
    } else {
      const url = new URL(realm.href);
      if (service) url.searchParams.set('service', service);
      for (const s of wanted) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined && creds.password !== undefined) {
        headers['authorization'] = basic(creds);
        url.searchParams.set('account', creds.username);
      }
      res = await retrying(cfg, what, () => this.roundTrip(what, url, 'GET', headers, undefined, deadline), true, deadline);
    }
    cfg.stats.tokenFetches++;
    if (res.status !== 200) {
      const body = await readErrorBody(res.body);
      if (res.status === 401 || res.status === 403) {
        throw new DsvError('AuthFailed', `${what}: the token server refused ${creds ? 'the credentials' : 'anonymous access'} (${res.status}; ${this.describeSources()})`, {
          registry: cfg.registry,
          status: res.status,
          tried: this.describeSources(),
        });
      }
      throw registryError(res.status, body, { what, host: realm.host });
    }
    const bytes = await readBody(res, cfg.tokenLimitBytes ?? TOKEN_LIMIT_BYTES, `${what}: token response`, creds?.identityToken ? 'POST' : 'GET');
    const { token, expires } = parseTokenResponse(bytes, what, cfg.registry);
    this.tokens.set(key, token, expires);
    cfg.debug(`got a token for ${wanted.join(' ') || '(no scope)'} valid ${expires}s`);
    return token;
  }
}

/**
 * A token server's answer (`{"token": …}` or `{"access_token": …}`, optional `expires_in` seconds, default
 * 60) as the token and its lifetime; anything else is AuthFailed, and the body is never quoted (it may hold a token).
 */
export function parseTokenResponse(bytes: Uint8Array, what: string, registry: string): { token: string; expires: number } {
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch {
    throw new DsvError('AuthFailed', `${what}: the token response is not JSON`, { registry });
  }
  const token = typeof doc?.token === 'string' && doc.token ? doc.token : typeof doc?.access_token === 'string' ? doc.access_token : '';
  if (!token) throw new DsvError('AuthFailed', `${what}: the token response has no token`, { registry });
  const expires = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
  return { token, expires };
}
