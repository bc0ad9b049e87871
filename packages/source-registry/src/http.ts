// The two undici modules the client uses (its connection pool and request API), loaded without the rest of undici.
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

// undici's index loads fetch, WebSocket, EventSource, the cache and mock layers (112 modules; through its
// cookie code even Node's own bundled copy of undici): ≈ 120 ms and 10 MB at every start-up. We use only its
// connection pool (Agent) and its request API, so we load just those two modules. http.test.ts checks that
// they are the very objects undici's index exports, so an undici release that moves them fails the tests.
const require = createRequire(import.meta.url);

/** undici's Agent (a keep-alive pool per origin). */
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export type Agent = UndiciAgent;

const requestApi = require('undici/lib/api/api-request.js') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export type HttpMethod = Dispatcher.HttpMethod;
export type ResponseData = Dispatcher.ResponseData;

/** One HTTP request on `dispatcher` (undici's `request`, without its global-dispatcher plumbing). */
export function request(
  dispatcher: Dispatcher,
  url: URL,
  opts: Omit<Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Dispatcher.ResponseData> {
  return requestApi.call(dispatcher, { ...opts, origin: url.origin, path: `${url.pathname}${url.search}` });
}
