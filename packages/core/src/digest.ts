/** Digests: parsing and validation, hashing exact bytes, and streams that hash (and check) what flows through them. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DsvError } from './errors.js';
import { blobDigestError, blobSizeError, type ExpectedBlob } from './blob-checks.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

/** A validated digest string such as `sha256:<64 lower-case hex>`. */
export type Digest = string & { readonly __brand: 'Digest' };

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+):([0-9a-f]+)$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: Digest;
}

/**
 * Parses and validates a digest before it is ever used in a path or URL: a known algorithm,
 * lower-case hex of exactly the algorithm's length, nothing else.
 */
export function parseDigest(value: string): ParsedDigest {
  if (typeof value !== 'string') throw new DsvError('DigestInvalid', 'digest must be a string');
  const m = DIGEST_RE.exec(value);
  const shown = value.length > 140 ? `${value.slice(0, 140)}…` : value;
  if (!m) throw new DsvError('DigestInvalid', `invalid digest "${shown}": expected <algorithm>:<lower-case hex>`, { digest: shown });
  const algorithm = m[1] as DigestAlgorithm;
  const hex = m[2]!;
  if (!(algorithm in HEX_LENGTH)) {
    throw new DsvError('DigestInvalid', `invalid digest "${shown}": unsupported algorithm "${m[1]}" (sha256, sha512)`, { digest: shown });
  }
  if (hex.length !== HEX_LENGTH[algorithm]) {
    throw new DsvError('DigestInvalid', `invalid digest "${shown}": ${algorithm} needs ${HEX_LENGTH[algorithm]} hex characters, got ${hex.length}`, { digest: shown });
  }
  return { algorithm, hex, digest: value as Digest };
}

export function isDigest(value: unknown): value is Digest {
  try {
    parseDigest(value as string);
    return true;
  } catch {
    return false;
  }
}

export function asDigest(value: string): Digest {
  return parseDigest(value).digest;
}

/** sha256 (or another algorithm) of exact bytes. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Incremental digester: feed chunks, read the digest and the byte count. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private count = 0;
  private done: Digest | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    if (this.done) throw new Error('Digester already finalised');
    this.hash.update(chunk);
    this.count += chunk.length;
  }

  get size(): number {
    return this.count;
  }

  digest(): Digest {
    this.done ??= `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
    return this.done;
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it. When `expected` is given
 * it fails the stream on a size overrun, a short stream, or a digest mismatch, and it holds back
 * its last chunk until those checks pass: a consumer never receives the final byte of bad bytes
 * (an HTTP upload of it never completes its body).
 */
export class DigestingStream extends Transform {
  readonly digester: Digester;
  private readonly expected: ExpectedBlob;
  private held: Buffer | undefined;

  constructor(expected: ExpectedBlob = {}) {
    super();
    this.expected = expected;
    const algorithm = expected.digest ? parseDigest(expected.digest).algorithm : 'sha256';
    this.digester = new Digester(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    const over = blobSizeError(this.expected, this.digester.size, false);
    if (over) {
      cb(over);
      return;
    }
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }

  override _flush(cb: TransformCallback): void {
    const error = blobSizeError(this.expected, this.digester.size, true) ?? blobDigestError(this.expected, this.digester.digest());
    if (error) {
      cb(error);
      return;
    }
    cb(null, this.held);
  }
}

/**
 * A blob stream that checks itself against one descriptor: a DigestingStream whose digest and size are
 * required. It fails on a mismatch and holds back its last chunk until both match, so a destination
 * handed one for the same descriptor (see verifiedFor) may store what it reads without hashing it again;
 * it must still never make a blob visible from a stream that errored.
 */
export class VerifiedBlob extends DigestingStream {
  // Private fields: what the stream checks cannot be changed after it is made.
  readonly #digest: Digest;
  readonly #size: number;

  constructor(descriptor: { digest: string; size: number }, name = `blob ${descriptor.digest}`) {
    super({ digest: descriptor.digest, size: descriptor.size, name });
    this.#digest = parseDigest(descriptor.digest).digest;
    this.#size = descriptor.size;
  }

  get digest(): Digest {
    return this.#digest;
  }

  get size(): number {
    return this.#size;
  }
}

/** True when `stream` is a VerifiedBlob checking exactly this descriptor's digest and size. */
export function verifiedFor(stream: unknown, descriptor: { digest: string; size: number }): stream is VerifiedBlob {
  return stream instanceof VerifiedBlob && stream.digest === descriptor.digest && stream.size === descriptor.size;
}
