/**
 * @dsv/runtime: the composition layer every dsv command line is built from. It reads the environment
 * (once), resolves keys, loads transports (from their packages' manifests) and signers (built-in and
 * plugins), and runs the jobs — sign, verify, inspect, copy, the Docker CLI plugin and its installer —
 * through one command shell (secret-scrubbing output, progress, text and JSON reports, exit codes).
 * The apps (apps/cli, apps/copy, apps/docker-plugin) are entry points and launchers over it.
 *
 * The apps' entry points import their job from its own subpath (`@dsv/runtime/dsv`, `/copy`, `/legacy`,
 * `/docker-plugin`, `/containerd-verifier`; src/entry/), not from here. esbuild's code splitting puts every module
 * this index re-exports, used or not, into the chunks an entry imports statically when the bundle uses it anywhere
 * — lazily included — so importing `dsvMain` from here loaded openpgp, yaml and the cosign code on `dsv --version`
 * (bench/NOTES.md, start-up inventory).
 */
export {
  createContext,
  createVerifyFunction,
  classifyTrustFile,
  type CliContext,
  type RuntimeContext,
  type ContextOptions,
  type TrustOptions,
} from './context.js';
export {
  DEFAULT_DOCKER_HOST,
  dockerEndpointFromEnv,
  applyPkiFormat,
  gpgHomeFromEnv,
  parsePkiFormat,
  PKI_FORMATS,
  signerSettingsFromEnv,
  systemContextFromEnv,
  tlsRootsFromEnv,
  trustFromEnv,
  type Environment,
  type PkiFormat,
  type SystemContextOptions,
} from './environment.js';
export {
  BUILTIN_TRANSPORT_MANIFESTS,
  createTransportRegistry,
  loadTransportManifests,
  referencesHelp,
  transportNames,
  transportOf,
  validateTransportManifest,
  type TransportManifestOptions,
} from './transports.js';
export { loadSignerPlugins, signerPluginSpecs, importPluginModule, type LoadSignerPluginsOptions } from './plugins.js';
export { executableSignerPlugin, findSignerExecutable, EXEC_PLUGIN_PROTOCOL_VERSION, type ExecutableSignerPluginOptions } from './plugin-exec.js';
export { runInspect, runSign, runVerify, verifyLocalImage, type InspectResult, type SignOptions, type VerifyOptions } from './commands.js';
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
export { CommandShell, type ShellOptions } from './shell.js';
export {
  dockerSignMain,
  dockerVerifyMain,
  dockerSignParser,
  dockerVerifyParser,
  legacyReference,
  parseDockerSignArgs,
  parseDockerVerifyArgs,
  type LegacySignArgs,
  type LegacyVerifyArgs,
  type SourceKind,
} from './legacy.js';
export { dsvMain, dsvParser, parseDsvArgs, type DsvArgs, type DsvOptions } from './dsv.js';
export { copyMain, copyParser, parseCopyArgs, DEFAULT_JOBS, type CopyArgs, type VerifySameArgs, type ParsedCopy } from './copy.js';
export * from './docker-plugin/index.js';
export * from './containerd-verifier/index.js';
export { VERSION } from './version.js';
export { signatureTypeOption } from './options.js';
export { newYargs } from './parser.js';
export * from './detached/index.js';
