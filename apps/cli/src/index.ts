/**
 * @dsv/cli: the command lines `dsv`, `docker-sign`, `docker-verify`, and the pieces other apps reuse.
 * (First increment: exit codes, key resolution, progress; the commands land with core's operations.)
 */
export { ExitCodes, ExitCodeByErrorCode, exitCodeFor, worstExitCode, type ExitCode } from './exit-codes.js';
export {
  promptSecretOnTty,
  readPassphraseFile,
  resolveKey,
  resolveKeyName,
  resolveKeyType,
  resolvePassphrase,
  type KeyOptions,
  type ResolvedKey,
  type TerminalIo,
} from './keys.js';
export { createProgress, formatBytes, renderProgress, type Progress } from './progress.js';
export { VERSION } from './version.js';
