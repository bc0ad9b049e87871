/** The injected HTTP request function (fetch-compatible, so a registry client's authenticated fetch fits) and bounded body reads. */
export { readBounded } from '@dsv/core/transport';

/** fetch-compatible: the default is Node's global fetch (undici). */
export type RequestFunction = (url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string }) => Promise<Response>;
