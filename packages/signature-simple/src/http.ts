/** The injected HTTP request function (fetch-compatible, so a registry client's authenticated fetch fits) and bounded body reads. */
import { DsvError } from '@dsv/core/formats';

/** fetch-compatible: the default is Node's global fetch (undici). */
export type RequestFunction = (url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string }) => Promise<Response>;

/** Reads a response body, refusing (and cancelling) past `limit` bytes. */
export async function readBounded(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw new DsvError('LimitExceeded', `${what} is larger than ${limit} bytes`, { limit });
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new DsvError('LimitExceeded', `${what} is larger than ${limit} bytes`, { limit });
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
