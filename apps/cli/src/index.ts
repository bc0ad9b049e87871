/**
 * @dsv/cli: the command lines `dsv`, `docker-sign`, `docker-verify`, and the pieces other apps
 * (the docker plugin, dsv-copy) reuse: context composition, the sign/verify/inspect jobs, key and
 * passphrase resolution, exit codes and report formatting.
 */
export {
  createContext,
  createTransportRegistry,
  createVerifyFunction,
  classifyTrustFile,
  signerSettingsFromEnv,
  systemContextFromEnv,
  type CliContext,
  type ContextOptions,
  type TrustOptions,
} from './context.js';
export { runInspect, runSign, runVerify, type InspectResult, type SignOptions, type VerifyOptions } from './commands.js';
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
export * from './report.js';
export { createProgress, formatBytes, renderProgress, type Progress } from './progress.js';
export { Output, isInteractive, processIo, secretsInArgs, type CliIo } from './io.js';
export {
  dockerSignMain,
  dockerVerifyMain,
  dockerSignParser,
  dockerVerifyParser,
  dockerStoreReadable,
  legacyReference,
  parseDockerSignArgs,
  parseDockerVerifyArgs,
  type LegacySignArgs,
  type LegacyVerifyArgs,
  type SourceKind,
} from './legacy.js';
export { dsvMain, dsvParser, parseDsvArgs, type DsvArgs } from './dsv.js';
export { VERSION } from './version.js';
export { signatureTypeOption } from './options.js';
export { newYargs } from './parser.js';
