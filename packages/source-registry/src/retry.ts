// Retry layer: 429 and 5xx (honouring Retry-After) and transient connection failures are tried again with backoff, when the request can be replayed.
import type { ClientConfig } from './config.js';
import type { RawResponse } from './types.js';
import { backoff, header, isTransientNetworkError, retryAfterMs } from './util.js';

/** Runs `op` up to cfg.retryTimes + 1 times; a request with a streamed body (`replayable` false) runs once. */
export async function retrying(cfg: ClientConfig, what: string, op: () => Promise<RawResponse>, replayable: boolean): Promise<RawResponse> {
  for (let attempt = 0; ; attempt++) {
    let res: RawResponse;
    try {
      res = await op();
    } catch (e) {
      if (replayable && attempt < cfg.retryTimes && isTransientNetworkError(e) && !cfg.ctx.signal?.aborted) {
        cfg.stats.retries++;
        const d = backoff(attempt, cfg.retryBaseDelayMs);
        cfg.debug(`${what}: ${(e as Error).message}; retry ${attempt + 1}/${cfg.retryTimes} in ${d} ms`);
        await cfg.sleep(d, cfg.ctx.signal);
        continue;
      }
      throw e;
    }
    if (replayable && attempt < cfg.retryTimes && (res.status === 429 || (res.status >= 500 && res.status !== 501 && res.status !== 505))) {
      const d = retryAfterMs(header(res.headers, 'retry-after')) ?? backoff(attempt, cfg.retryBaseDelayMs);
      await res.body.dump().catch(() => undefined);
      cfg.stats.retries++;
      cfg.debug(`${what}: ${res.status}; retry ${attempt + 1}/${cfg.retryTimes} in ${d} ms`);
      await cfg.sleep(d, cfg.ctx.signal);
      continue;
    }
    return res;
  }
}
