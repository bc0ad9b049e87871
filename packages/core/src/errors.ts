/**
 * Every failure dsv reports is a DsvError with a stable `code`. Apps map codes to exit codes
 * and one-line messages; messages never contain secrets (passwords, tokens, passphrases).
 */
export const ErrorCodes = {
  /** Bytes hashed to a different digest than the one that names them. */
  DigestMismatch: 'DigestMismatch',
  /** A blob was shorter or longer than its descriptor says. */
  SizeMismatch: 'SizeMismatch',
  /** A malformed digest string (algorithm, hex length, case). */
  DigestInvalid: 'DigestInvalid',
  /** A malformed image reference. */
  ReferenceInvalid: 'ReferenceInvalid',
  /** A manifest, list or index that cannot be parsed or is ambiguous. */
  ManifestInvalid: 'ManifestInvalid',
  /** An image configuration that cannot be parsed or is inconsistent. */
  ConfigInvalid: 'ConfigInvalid',
  /** A format or feature we recognise but do not support (schema 1, unknown compression, ...). */
  Unsupported: 'Unsupported',
  /** A document or stream went over a size or depth limit. */
  LimitExceeded: 'LimitExceeded',
  /** A signature did not verify. */
  SignatureInvalid: 'SignatureInvalid',
  /** A signature was made by a key we do not know/trust. */
  UnknownKey: 'UnknownKey',
  /** The image carries no signatures. */
  NoSignatures: 'NoSignatures',
  /** The image verified but nothing about it is trusted (policy failure). */
  Untrusted: 'Untrusted',
  /** A key could not be read, parsed, or is unusable (expired, revoked, weak). */
  KeyInvalid: 'KeyInvalid',
  /** A passphrase was wrong or missing. */
  PassphraseInvalid: 'PassphraseInvalid',
  /** Something referenced does not exist (image, tag, blob, file). */
  NotFound: 'NotFound',
  /** Authentication or authorisation failed. */
  AuthFailed: 'AuthFailed',
  /** A network failure: connection refused/reset, timeout, TLS failure. */
  Network: 'Network',
  /** A registry or daemon answered with an error we cannot recover from. */
  RemoteError: 'RemoteError',
  /** An archive or on-disk store is malformed or hostile. */
  ArchiveInvalid: 'ArchiveInvalid',
  /** Bad command-line or API usage. */
  Usage: 'Usage',
  /** A signer plugin could not be loaded or misbehaved. */
  PluginError: 'PluginError',
  /** An I/O failure on local files. */
  IoError: 'IoError',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class DsvError extends Error {
  readonly code: ErrorCode;
  /** Structured context (blob digest, layer index, key id, ...). Never secrets. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DsvError';
    this.code = code;
    this.details = details;
  }
}

export function isDsvError(e: unknown, code?: ErrorCode): e is DsvError {
  return e instanceof DsvError && (code === undefined || e.code === code);
}
