// The size and digest checks of a blob against what its descriptor expects, and their errors: one wording for a streamed blob (DigestingStream) and one a source hashed where it is stored (ImageSource.digestBlob).
import type { Digest } from './digest.js';
import { DsvError } from './errors.js';

export interface ExpectedBlob {
  digest?: string;
  size?: number;
  /** How messages name the blob (else its digest). */
  name?: string;
}

/** `size` bytes seen against `expected.size`: more than expected at any point, or (`atEnd`) any other size. */
export function blobSizeError(expected: ExpectedBlob, size: number, atEnd: boolean): DsvError | undefined {
  const { size: want, name, digest } = expected;
  if (want === undefined) return undefined;
  const label = name ?? digest ?? 'blob';
  if (size > want) return new DsvError('SizeMismatch', `${label}: more than the expected ${want} bytes`, { digest, expectedSize: want, name });
  if (atEnd && size !== want) return new DsvError('SizeMismatch', `${label}: expected ${want} bytes, got ${size}`, { digest, expectedSize: want, actualSize: size, name });
  return undefined;
}

/** The content digest `actual` against `expected.digest`. */
export function blobDigestError(expected: ExpectedBlob, actual: Digest): DsvError | undefined {
  const { name, digest } = expected;
  if (digest === undefined || actual === digest) return undefined;
  return new DsvError('DigestMismatch', `${name ?? digest}: content digest ${actual} does not match ${digest}`, { digest, actual, name });
}
