// Connections and TLS: one undici Agent per origin with its TLS context (trusted roots, certs.d CAs and client certificate), and the single raw request every layer ends in.
import type { Readable } from 'node:stream';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DsvError } from '@dsv/core/formats';
import type { ClientConfig } from './config.js';
import type { Deadline } from './deadline.js';
import { Agent, request, type HttpMethod } from './http.js';
import { hasCertsDMaterial, isListedInsecure, loadCertsD, readCertDir, trustContext, trustRoots, type TlsMaterial } from './tls.js';
import type { RawResponse } from './types.js';
import { networkError, safeUrl, type Headers } from './util.js';

export class Connections {
  private readonly agents = new Map<string, Agent>();
  private readonly tlsMaterials = new Map<string, TlsMaterial>();
  private closed = false;

  constructor(private readonly cfg: ClientConfig) {}

  private agentFor(url: URL): Agent {
    const key = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const cfg = this.cfg;
    const own = url.host === cfg.endpoint;
    const ownHost = url.hostname === new URL(`http://${cfg.endpoint}/`).hostname;
    const lookup = ownHost ? cfg.lookup : cfg.addresses.lookupFor(cfg.lookup);
    const skipVerify = own ? cfg.insecureListed : isListedInsecure(url.host, cfg.insecureRegistries);
    agent = new Agent({
      connect: {
        ...(url.protocol === 'https:' ? { secureContext: this.secureContext(url.host, skipVerify) } : {}),
        rejectUnauthorized: !skipVerify,
        timeout: cfg.connectTimeoutMs,
        ...(lookup ? { lookup } : {}),
      },
      headersTimeout: cfg.timeoutMs,
      bodyTimeout: cfg.timeoutMs,
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
    if (material.dir) this.cfg.debug(`TLS material for ${host} from ${material.dir}`);
    const client = material.cert ? { cert: material.cert, key: material.key } : {};
    if (skipVerify) return createSecureContext({ ca: [], ...client });
    const roots = trustRoots(this.cfg.tlsRoots);
    this.cfg.debug(`TLS roots for ${host}: ${roots.sources.join(', ')} (${roots.certificates.length} certificates)`);
    if (!hasCertsDMaterial(material)) return trustContext(roots);
    return createSecureContext({ ca: [...roots.certificates, ...material.ca.map((b) => b.toString('utf8'))], ...client });
  }

  /** CAs and client certificate for `host` from certs.d, or the registry's own certificate directory (read once per host). */
  tlsMaterial(host: string): TlsMaterial {
    let material = this.tlsMaterials.get(host);
    if (!material) {
      material = this.ownCertDir(host) ?? loadCertsD(host, this.cfg.certsDirs);
      this.tlsMaterials.set(host, material);
    }
    return material;
  }

  /** The registry's own certificate directory (--cert-dir), for the registry's endpoint only (not a blob redirect's host). */
  private ownCertDir(host: string): TlsMaterial | undefined {
    const dir = this.cfg.certDir;
    if (dir === undefined || host.toLowerCase() !== this.cfg.endpoint) return undefined;
    const material = readCertDir(dir, `certificate directory ${dir}`);
    if (!material) throw new DsvError('NotFound', `certificate directory ${dir} (for ${this.cfg.registry}): no such directory`, { path: dir, registry: this.cfg.registry });
    return material;
  }

  /** One request, no retries, no redirects, no auth; connection failures become Network errors. */
  async raw(what: string, url: URL, method: string, headers: Record<string, string>, body?: Buffer | Readable, deadline?: Deadline): Promise<RawResponse> {
    const cfg = this.cfg;
    if (this.closed) throw new DsvError('Usage', `registry client for ${cfg.registry} is closed`);
    cfg.stats.requests++;
    try {
      const r = await request(this.agentFor(url), url, {
        method: method as HttpMethod,
        headers: { 'user-agent': 'dsv', ...headers },
        body: body ?? null,
        // The deadline's signal aborts the answer's body too, with the error naming the request as reason.
        signal: deadline?.signal ?? cfg.ctx.signal ?? null,
        // undici closes the connection after every HEAD (for servers that send a body with one); registries
        // do not, and a blob check per layer would otherwise cost a new connection — a TLS handshake — each.
        ...(method === 'HEAD' ? { reset: false } : {}),
      });
      cfg.debug(`${method} ${safeUrl(url)} → ${r.statusCode}`);
      return { status: r.statusCode, headers: r.headers as Headers, body: r.body, url };
    } catch (e) {
      if (deadline?.expired) throw deadline.error();
      if (cfg.ctx.signal?.aborted) throw e;
      throw networkError(e, what, url, method);
    }
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
