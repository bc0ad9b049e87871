import { isDsvError, type ErrorCode } from '@dsv/core/formats';
import type { VerifyResult } from '@dsv/core/operations';

/** Process exit codes shared by `dsv`, `docker-sign` and `docker-verify` (and the apps that reuse them). */
export const ExitCodes = {
  /** Everything checked out / the image was written. */
  Ok: 0,
  /** The image is not trusted: integrity or signature failure, unsigned, unknown signer. */
  NotTrusted: 1,
  /** Usage or input error: bad reference, unreadable key, wrong passphrase, missing file. */
  Usage: 2,
  /** Operational failure: network, authentication, registry or daemon error, local I/O. */
  Operational: 3,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** How each stable DsvError code maps to an exit code: the one place this is decided. */
export const ExitCodeByErrorCode: Record<ErrorCode, ExitCode> = {
  // The image (or a blob of it) is not what it claims to be, or is not signed by anyone trusted.
  DigestMismatch: ExitCodes.NotTrusted,
  SizeMismatch: ExitCodes.NotTrusted,
  ManifestInvalid: ExitCodes.NotTrusted,
  ConfigInvalid: ExitCodes.NotTrusted,
  SignatureInvalid: ExitCodes.NotTrusted,
  UnknownKey: ExitCodes.NotTrusted,
  NoSignatures: ExitCodes.NotTrusted,
  Untrusted: ExitCodes.NotTrusted,
  // What the user gave us is wrong or unusable.
  DigestInvalid: ExitCodes.Usage,
  ReferenceInvalid: ExitCodes.Usage,
  Unsupported: ExitCodes.Usage,
  KeyInvalid: ExitCodes.Usage,
  PassphraseInvalid: ExitCodes.Usage,
  NotFound: ExitCodes.Usage,
  ArchiveInvalid: ExitCodes.Usage,
  Usage: ExitCodes.Usage,
  // The environment failed us, or a limit stopped dsv before it could judge the image (a response,
  // document or layer over its cap: raising the cap may let the same command finish; nothing was found
  // untrue about the image, so this is not "not trusted").
  LimitExceeded: ExitCodes.Operational,
  AuthFailed: ExitCodes.Operational,
  Network: ExitCodes.Operational,
  RemoteError: ExitCodes.Operational,
  PluginError: ExitCodes.Operational,
  IoError: ExitCodes.Operational,
};

/** The exit code for anything thrown: DsvErrors by code, anything else is an operational failure. */
export function exitCodeFor(error: unknown): ExitCode {
  if (isDsvError(error)) return ExitCodeByErrorCode[error.code] ?? ExitCodes.Operational;
  return ExitCodes.Operational;
}

/**
 * The exit code of a verify result: 0 when it holds; else 1 (not trusted), unless reading the image failed
 * (a blob that could not be fetched, a refused redirect, a limit): then that error's code, as the same error
 * thrown by any other command would give. The integrity report keeps each blob's error, typed.
 */
export function exitCodeForVerify(result: VerifyResult): ExitCode {
  if (result.ok) return ExitCodes.Ok;
  const codes: number[] = [ExitCodes.NotTrusted];
  for (const image of result.images) {
    const check = image.integrity;
    if (check.configError) codes.push(exitCodeFor(check.configError));
    for (const layer of check.layers) if (layer.error) codes.push(exitCodeFor(layer.error));
  }
  return worstExitCode(codes);
}

/** The worst of several outcomes (operational > usage > not trusted > ok). */
export function worstExitCode(codes: Iterable<number>): ExitCode {
  let worst: ExitCode = ExitCodes.Ok;
  for (const c of codes) if (c > worst) worst = c as ExitCode;
  return worst;
}
