// Retry layer: 429 and 5xx (honouring Retry-After up to a cap) and transient connection failures are tried again with backoff, when the request can be replayed, within the request's deadline.
import { DsvError } from '@dsv/core';
import type { ClientConfig } from './config.js';
import { seconds, type Deadline } from './deadline.js';
import type { RawResponse } from './types.js';
import { backoff, header, isTransientNetworkError, retryAfterMs } from './util.js';

/**
 * Waits `ms` before another try of `what`, shown with --debug and, when the registry asked for the wait
 * (Retry-After), through onProgress too. A wait over the cap or past the deadline fails at once, saying so.
 */
export async function waitToRetry(
  cfg: ClientConfig,
  what: string,
  why: string,
  ms: number,
  asked: boolean,
  attempt: number,
  deadline?: Deadline,
): Promise<void> {
  if (asked && ms > cfg.maxRetryAfterMs) {
    throw new DsvError('RemoteError', `${what}: registry ${cfg.registry} answered ${why} and asks to wait ${seconds(ms)} (Retry-After); dsv waits at most ${seconds(cfg.maxRetryAfterMs)}`, {
      registry: cfg.registry,
      retryAfterMs: ms,
    });
  }
  if (deadline && ms >= deadline.remainingMs()) {
    throw new DsvError('Network', `${deadline.request}: ${why}; waiting ${seconds(ms)} to retry would pass the ${seconds(deadline.ms)} request deadline`, {
      request: deadline.request,
      transient: false,
    });
  }
  cfg.stats.retries++;
  cfg.debug(`${what}: ${why}; retry ${attempt + 1}/${cfg.retryTimes} in ${ms} ms${asked ? ' (Retry-After)' : ''}`);
  if (asked) cfg.ctx.onProgress?.({ id: `${what}: registry asked to wait ${seconds(ms)} (Retry-After)`, done: 0, phase: 'read' });
  await cfg.sleep(ms, deadline?.signal ?? cfg.ctx.signal);
}

/** Runs `op` up to cfg.retryTimes + 1 times; a request with a streamed body (`replayable` false) runs once. */
export async function retrying(cfg: ClientConfig, what: string, op: () => Promise<RawResponse>, replayable: boolean, deadline?: Deadline): Promise<RawResponse> {
  for (let attempt = 0; ; attempt++) {
    let res: RawResponse;
    try {
      res = await op();
    } catch (e) {
      if (replayable && attempt < cfg.retryTimes && isTransientNetworkError(e) && !cfg.ctx.signal?.aborted) {
        await waitToRetry(cfg, what, (e as Error).message, backoff(attempt, cfg.retryBaseDelayMs), false, attempt, deadline);
        continue;
      }
      throw e;
    }
    if (replayable && attempt < cfg.retryTimes && (res.status === 429 || (res.status >= 500 && res.status !== 501 && res.status !== 505))) {
      const asked = retryAfterMs(header(res.headers, 'retry-after'));
      await res.body.dump().catch(() => undefined);
      await waitToRetry(cfg, what, String(res.status), asked ?? backoff(attempt, cfg.retryBaseDelayMs), asked !== undefined, attempt, deadline);
      continue;
    }
    return res;
  }
}
