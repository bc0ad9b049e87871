// The registry client's options, its counters, what its reads return, and the request/response shapes its layers pass along.
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import type { Digest } from '@dsv/core/formats';
import type { SystemContext } from '@dsv/core/transport';
import type { AddressClass } from './addresses.js';
import type { Credentials } from './credentials.js';
import type { Deadline } from './deadline.js';
import type { ResponseData } from './http.js';
import type { Headers } from './util.js';

export interface RegistryClientOptions {
  /** The registry as references name it: `host[:port]`; `docker.io` means Docker Hub. */
  registry: string;
  /** Everything environment-derived comes from here (README: "What it reads from SystemContext"). */
  ctx?: SystemContext;
  /** Credentials to use instead of the credentials store; `null` = anonymous. */
  credentials?: Credentials | null;
  /** Upload blobs in PATCH chunks of this many bytes (default: one streamed PATCH, or monolithic when small). */
  chunkSize?: number;
  /** Blobs of known size up to this many bytes are buffered, checked, then PUT in one request (default 1 MiB). */
  monolithicMaxBytes?: number;
  /** Base delay of the exponential retry backoff (default 250 ms). */
  retryBaseDelayMs?: number;
  /** Idle timeout for response headers and body data (default 60 s). */
  timeoutMs?: number;
  /** Connect timeout (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Total deadline of a request, answer included (default SystemContext.requestTimeoutMs, else 120 s).
   * Blob transfers of known size get this plus the time the size takes at 64 KiB/s.
   */
  requestTimeoutMs?: number;
  /** Longest Retry-After dsv waits (default 30 s); a registry asking for more fails the request at once. */
  maxRetryAfterMs?: number;
  /** Classifies an IP address for the realm/redirect rules (tests declare a loopback fake "public"). Default: classifyAddress. */
  classifyAddress?: (ip: string) => AddressClass;
  manifestLimitBytes?: number;
  tokenLimitBytes?: number;
  /** Host name resolution (pinning, tests). Default: the system resolver. */
  lookup?: LookupFunction;
  /** Sleep used between retries (tests inject one that records delays). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Counters for what the client actually did (tests and --debug summaries). */
export interface ClientStats {
  requests: number;
  retries: number;
  resumes: number;
  tokenFetches: number;
  mounts: number;
  mountAttempts: number;
  monolithicUploads: number;
  streamedUploads: number;
  chunkedUploads: number;
  chunks: number;
}

export function newStats(): ClientStats {
  return {
    requests: 0,
    retries: 0,
    resumes: 0,
    tokenFetches: 0,
    mounts: 0,
    mountAttempts: 0,
    monolithicUploads: 0,
    streamedUploads: 0,
    chunkedUploads: 0,
    chunks: 0,
  };
}

export interface ManifestResult {
  bytes: Uint8Array;
  mediaType: string;
  /** Our own digest of `bytes`. */
  digest: Digest;
}

export interface ManifestHead {
  mediaType?: string;
  size?: number;
  /** The registry's Docker-Content-Digest, as claimed: not verified. */
  registryDigest?: string;
}

/** A response as the connection layer hands it up. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: ResponseData['body'];
  url: URL;
  /** The request's deadline (Pipeline.send), still running while the body is read. */
  deadline?: Deadline;
}

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** A registry request as the operations describe it to the pipeline. */
export interface SendRequest {
  /** What it is about, for messages ("manifest app:1"). */
  what: string;
  method: Method;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Token scopes it needs. */
  scopes: string[];
  followRedirects?: boolean;
  /** Its total deadline in ms (default: the client's requestTimeoutMs, scaled by a known body size). */
  timeoutMs?: number;
}

/** One request on the wire: the signature of the connection layer, which retry and redirect wrap. */
export type RoundTrip = (
  what: string,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: Buffer | Readable,
  deadline?: Deadline,
) => Promise<RawResponse>;
