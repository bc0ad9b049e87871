// A response body read with a size limit: refused (and the body cancelled) past it, by header or as it streams.
import { DsvError } from './errors.js';

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
