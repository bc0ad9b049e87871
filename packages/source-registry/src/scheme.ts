// Scheme and ping: HTTPS, or plain HTTP for loopback and listed-insecure registries whose TLS handshake fails, decided once by a TLS probe and `GET /v2/`, which also brings the auth challenge.
import type { DsvError } from '@dsv/core/formats';
import type { ClientConfig } from './config.js';
import type { Connections } from './connection.js';
import { Deadline } from './deadline.js';
import { waitToRetry } from './retry.js';
import { hasCertsDMaterial, probeTls, splitHostPort } from './tls.js';
import type { RawResponse } from './types.js';
import { backoff, header, isTlsProtocolError, isTransientNetworkError, readErrorBody, registryError, retryAfterMs, type Headers } from './util.js';

export class Scheme {
  private base: Promise<URL> | undefined;
  /** The headers of the last `GET /v2/` answer (401 or 2xx): extensions announce themselves there. */
  pingHeaders: Headers | undefined;

  constructor(
    private readonly cfg: ClientConfig,
    private readonly connections: Connections,
    /** Told the headers of a 401 answer to the ping: the registry's challenge. */
    private readonly onChallenge: (headers: Headers) => void,
  ) {}

  /** The registry's base URL: the scheme resolved (once; a failure is not remembered) and the challenge learnt. */
  baseUrl(): Promise<URL> {
    this.base ??= this.ping().catch((e) => {
      this.base = undefined;
      throw e;
    });
    return this.base;
  }

  private async ping(): Promise<URL> {
    const cfg = this.cfg;
    const allowHttp = cfg.loopback || cfg.insecureListed;
    let base = new URL(`https://${cfg.endpoint}/`);
    const usePlainHttp = (codes: unknown): void => {
      cfg.debug(`HTTPS handshake failed (${String(codes ?? '') || 'tls'}); ${cfg.loopback ? 'loopback' : 'insecure'} registry: using plain HTTP`);
      base = new URL(`http://${cfg.endpoint}/`);
    };
    // May it be plain HTTP? A handshake that verifies nothing tells, without building Node's CA store. With
    // certs.d material for the host, its own CAs (and client certificate) make the first request the probe.
    if (allowHttp && !hasCertsDMaterial(this.connections.tlsMaterial(base.host))) {
      const { host, port } = splitHostPort(cfg.endpoint);
      const probe = await probeTls(host, port ?? 443, {
        timeoutMs: cfg.connectTimeoutMs,
        ...(cfg.lookup ? { lookup: cfg.lookup } : {}),
        ...(cfg.ctx.signal ? { signal: cfg.ctx.signal } : {}),
      });
      if (probe.tls === false) usePlainHttp(probe.codes);
    }
    const what = 'registry API check';
    const deadline = new Deadline(cfg.requestTimeoutMs, `GET /v2/ (${what}) on ${cfg.registry}`, cfg.ctx.signal);
    try {
      for (let attempt = 0; ; attempt++) {
        let res: RawResponse;
        try {
          res = await this.connections.raw(what, new URL('/v2/', base), 'GET', {}, undefined, deadline);
        } catch (e) {
          if (base.protocol === 'https:' && allowHttp && isTlsProtocolError(e)) {
            usePlainHttp((e as DsvError).details?.['causeCodes']);
            attempt--;
            continue;
          }
          if (attempt < cfg.retryTimes && isTransientNetworkError(e)) {
            await waitToRetry(cfg, what, (e as Error).message, backoff(attempt, cfg.retryBaseDelayMs), false, attempt, deadline);
            continue;
          }
          throw e;
        }
        if ((res.status === 429 || res.status >= 500) && attempt < cfg.retryTimes) {
          await res.body.dump();
          const asked = retryAfterMs(header(res.headers, 'retry-after'));
          await waitToRetry(cfg, what, String(res.status), asked ?? backoff(attempt, cfg.retryBaseDelayMs), asked !== undefined, attempt, deadline);
          continue;
        }
        if (res.status === 401) {
          this.pingHeaders = res.headers;
          this.onChallenge(res.headers);
          await res.body.dump();
          return base;
        }
        if (res.status >= 200 && res.status < 300) {
          this.pingHeaders = res.headers;
          await res.body.dump();
          return base;
        }
        const body = await readErrorBody(res.body);
        throw registryError(res.status, body, { what: `registry API check (GET /v2/)`, host: cfg.registry });
      }
    } finally {
      deadline.clear();
    }
  }
}
