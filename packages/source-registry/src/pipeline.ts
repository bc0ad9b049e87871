// The request pipeline every registry call goes through: base URL (scheme), auth (with the 401 rounds), retry, redirect, connection; and the checks on its answers.
import { Readable } from 'node:stream';
import { DsvError } from '@dsv/core/formats';
import { Authorizer } from './authorizer.js';
import type { ClientConfig } from './config.js';
import { Connections } from './connection.js';
import { Deadline, transferTimeoutMs } from './deadline.js';
import { following } from './redirect.js';
import { retrying } from './retry.js';
import { Scheme } from './scheme.js';
import type { RawResponse, RoundTrip, SendRequest } from './types.js';
import { header, oneLine, readErrorBody, registryError } from './util.js';

export class Pipeline {
  readonly connections: Connections;
  readonly auth: Authorizer;
  readonly scheme: Scheme;
  private readonly roundTrip: RoundTrip;

  constructor(readonly cfg: ClientConfig) {
    this.connections = new Connections(cfg);
    this.roundTrip = (what, url, method, headers, body, deadline) => this.connections.raw(what, url, method, headers, body, deadline);
    this.auth = new Authorizer(cfg, this.roundTrip);
    this.scheme = new Scheme(cfg, this.connections, (headers) => this.auth.learnChallenge(headers));
  }

  /**
   * Sends a registry request: preemptive auth from the known challenge, retries, redirects, and on
   * 401 a fresh challenge/token — at most twice, then AuthFailed (no 401 loop).
   */
  async send(req: SendRequest): Promise<RawResponse> {
    const deadline = new Deadline(req.timeoutMs ?? this.timeoutFor(req), `${req.method} ${req.what} on ${this.cfg.registry}`, this.cfg.ctx.signal);
    try {
      const res = await this.sendWithin(req, deadline);
      // The deadline covers the answer's body too: it ends when the caller has read (or dropped) it.
      res.body.once('close', () => deadline.clear());
      return { ...res, deadline };
    } catch (e) {
      deadline.clear();
      throw e;
    }
  }

  /** The base deadline, plus the time a body of known size takes at the minimum rate; none for a stream of unknown length. */
  private timeoutFor(req: SendRequest): number {
    const base = this.cfg.requestTimeoutMs;
    if (Buffer.isBuffer(req.body)) return transferTimeoutMs(base, req.body.length);
    if (req.body instanceof Readable) {
      const len = req.headers?.['content-length'];
      return len !== undefined && /^\d+$/.test(len) ? transferTimeoutMs(base, Number(len)) : Number.POSITIVE_INFINITY;
    }
    return base;
  }

  private async sendWithin(req: SendRequest, deadline: Deadline): Promise<RawResponse> {
    const cfg = this.cfg;
    const replayable = !(req.body instanceof Readable);
    let scopes = req.scopes;
    let forceNew = false;
    for (let authRound = 0; ; authRound++) {
      const res = await retrying(
        cfg,
        req.what,
        async () => {
          const auth = await this.auth.authorization(scopes, forceNew);
          forceNew = false;
          return following(cfg, this.roundTrip, req, { ...req.headers, ...(auth ? { authorization: auth } : {}) }, deadline);
        },
        replayable,
        deadline,
      );
      if (res.status !== 401 || res.url.origin !== req.url.origin) return res;
      const before = this.auth.challenge;
      const ch = this.auth.learnChallenge(res.headers);
      await res.body.dump().catch(() => undefined);
      const creds = await this.auth.credentials();
      const canRetry = replayable && authRound < 2 && ch !== undefined && (ch.scheme.toLowerCase() === 'bearer' || (creds?.username !== undefined && before?.scheme.toLowerCase() !== 'basic'));
      if (!canRetry) {
        const err = ch?.params['error'];
        throw new DsvError(
          'AuthFailed',
          `${req.what}: registry ${cfg.registry} refused ${creds ? 'the credentials' : 'anonymous access'}${err ? ` (${oneLine(err, 60)})` : ''} (${this.auth.describeSources()})`,
          { registry: cfg.registry, status: 401, tried: this.auth.describeSources() },
        );
      }
      const extra = ch.params['scope'];
      if (extra) scopes = [...new Set([...scopes, ...extra.split(' ').filter(Boolean)])];
      forceNew = true;
    }
  }

  /** `res` when its status is one of `ok`; otherwise the registry's error, typed. */
  async expect(res: RawResponse, ok: number[], what: string, details: Record<string, unknown> = {}): Promise<RawResponse> {
    if (ok.includes(res.status)) return res;
    const body = await readErrorBody(res.body);
    throw registryError(res.status, body, { what, host: this.cfg.registry, details });
  }

  /** `path` on the registry's base URL (resolving the scheme first). */
  async url(path: string): Promise<URL> {
    return new URL(path, await this.scheme.baseUrl());
  }

  /** An upload session's Location, which must stay on the registry's origin. */
  async sameOriginLocation(res: RawResponse, what: string): Promise<URL> {
    const loc = header(res.headers, 'location');
    if (!loc) throw new DsvError('RemoteError', `${what}: the registry sent no upload Location`, { registry: this.cfg.registry });
    const url = new URL(loc, res.url);
    const base = await this.scheme.baseUrl();
    if (url.origin !== base.origin) {
      throw new DsvError('RemoteError', `${what}: the registry sent an upload Location on another origin (${url.host})`, { registry: this.cfg.registry });
    }
    return url;
  }

  close(): Promise<void> {
    return this.connections.close();
  }
}
