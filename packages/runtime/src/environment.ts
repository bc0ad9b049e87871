/**
 * The one place dsv turns the process environment into configuration: a typed SystemContext for the
 * transports and per-type settings for the signers. Packages under packages/ read no environment; the
 * apps hand theirs to the runtime once (processIo().env) and everything downstream gets typed values.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DsvError, type DockerEndpoint, type SystemContext, type TlsRootsSource } from '@dsv/core';
import { parseDuration } from './timeout.js';

/** An environment as the runtime reads it (process.env, or a test's). */
export type Environment = Readonly<Record<string, string | undefined>>;

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

function list(value: string | undefined, sep: RegExp = /[,\s]+/): string[] {
  return (value ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function homeOf(env: Environment): string {
  return env.HOME || homedir();
}

/** DOCKER_TLS_VERIFY as the docker CLI reads it: set and non-empty (and not 0 / false) means verify. */
function flag(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH (default ~/.docker) as a typed endpoint. */
export function dockerEndpointFromEnv(env: Environment): DockerEndpoint {
  const host = env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  if (!flag(env.DOCKER_TLS_VERIFY)) return { host };
  const dir = env.DOCKER_CERT_PATH || join(homeOf(env), '.docker');
  return { host, tlsVerify: true, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
}

/** SSL_CERT_FILE, SSL_CERT_DIR (':'-separated) and NODE_EXTRA_CA_CERTS, as registries' TLS roots. */
export function tlsRootsFromEnv(env: Environment): TlsRootsSource {
  const roots: TlsRootsSource = {};
  if (env.SSL_CERT_FILE) roots.certFile = env.SSL_CERT_FILE;
  const dirs = list(env.SSL_CERT_DIR, /:/);
  if (dirs.length) roots.certDirs = dirs;
  if (env.NODE_EXTRA_CA_CERTS) roots.extraCaFile = env.NODE_EXTRA_CA_CERTS;
  return roots;
}

/** The docker config directory: DOCKER_CONFIG, else ~/.docker (as the docker CLI reads it). */
export function dockerConfigDirFromEnv(env: Environment): string {
  return env.DOCKER_CONFIG || join(homeOf(env), '.docker');
}

/** Where `docker login` keeps credentials: DSV_CREDENTIALS_STORE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function credentialsStoreFromEnv(env: Environment): string {
  return env.DSV_CREDENTIALS_STORE || join(dockerConfigDirFromEnv(env), 'config.json');
}

/**
 * The registry auth files asked in order, as skopeo (containers/image) does: a file the user named
 * (--authfile, else REGISTRY_AUTH_FILE) is the only one; otherwise ${XDG_RUNTIME_DIR}/containers/auth.json,
 * ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json, then docker's (credentialsStoreFromEnv).
 */
export function credentialsFilesFromEnv(env: Environment, authfile?: string): string[] {
  if (authfile) return [authfile];
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME || join(homeOf(env), '.config'), 'containers', 'auth.json'));
  files.push(credentialsStoreFromEnv(env));
  return [...new Set(files)];
}

export interface SystemContextOptions {
  /** --insecure-registry HOST (added to DSV_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  debug?: (message: string) => void;
  onProgress?: SystemContext['onProgress'];
}

/**
 * The SystemContext for the environment plus command-line flags:
 * DSV_CREDENTIALS_STORE (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json), the auth files
 * (REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR / XDG_CONFIG_HOME containers/auth.json: credentialsFilesFromEnv), DSV_INSECURE_REGISTRIES, DSV_CERTS_D (':' or
 * ','; default /etc/docker/certs.d and ~/.docker/certs.d), DSV_DEFAULT_REGISTRY, DSV_DOCKERHUB_AUTH,
 * SSL_CERT_FILE / SSL_CERT_DIR / NODE_EXTRA_CA_CERTS, DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH,
 * DSV_DOCKER_ROOT, DSV_DEVICEMAPPER_POOL, CONTAINERD_NAMESPACE / CONTAINERD_ADDRESS (as ctr reads them),
 * DSV_TIMEOUT (a duration, as --timeout; a bad value is a Usage error), and the whole environment for child processes.
 */
export function systemContextFromEnv(env: Environment, opts: SystemContextOptions = {}): SystemContext {
  const home = homeOf(env);
  const ctx: SystemContext = {
    credentialsStore: credentialsStoreFromEnv(env),
    credentialsFiles: credentialsFilesFromEnv(env),
    dockerEndpoint: dockerEndpointFromEnv(env),
    tlsRoots: tlsRootsFromEnv(env),
    childEnv: { ...env },
  };
  const insecure = [...list(env.DSV_INSECURE_REGISTRIES), ...(opts.insecureRegistries ?? [])];
  if (insecure.length) ctx.insecureRegistries = [...new Set(insecure)];
  const certs = list(env.DSV_CERTS_D, /[:,]/);
  ctx.certsDirs = certs.length ? certs : ['/etc/docker/certs.d', join(home, '.docker', 'certs.d')];
  if (env.DSV_DEFAULT_REGISTRY) ctx.defaultRegistry = env.DSV_DEFAULT_REGISTRY;
  if (env.DSV_DOCKERHUB_AUTH) ctx.dockerHubAuth = env.DSV_DOCKERHUB_AUTH;
  if (env.DSV_DOCKER_ROOT) ctx.dockerRoot = env.DSV_DOCKER_ROOT;
  if (env.DSV_DEVICEMAPPER_POOL) ctx.devicemapperPool = env.DSV_DEVICEMAPPER_POOL;
  if (env.CONTAINERD_NAMESPACE) ctx.containerdNamespace = env.CONTAINERD_NAMESPACE;
  if (env.CONTAINERD_ADDRESS) ctx.containerdAddress = containerdSocketPath(env.CONTAINERD_ADDRESS);
  if (env.DSV_TIMEOUT?.trim()) ctx.requestTimeoutMs = parseDuration(env.DSV_TIMEOUT, 'DSV_TIMEOUT');
  if (opts.onProgress) ctx.onProgress = opts.onProgress;
  if (opts.debug) ctx.debug = opts.debug;
  return ctx;
}

/** containerd's socket as ctr takes it: a path, or `unix://` and a path (the scheme dropped). */
export function containerdSocketPath(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

/** --namespace / --address as the commands take them (they win over CONTAINERD_NAMESPACE / CONTAINERD_ADDRESS). */
export interface ContainerdFlags {
  namespace?: string;
  address?: string;
}

const CONTAINERD_NAMESPACE = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

/**
 * The SystemContext settings of --namespace / --address, for `containerd:` references without brackets;
 * a namespace containerd would refuse or a socket that is not an absolute path is a Usage error naming it.
 */
export function containerdFromFlags(flags: ContainerdFlags): Partial<SystemContext> {
  const r: Partial<SystemContext> = {};
  if (flags.namespace !== undefined) {
    if (!CONTAINERD_NAMESPACE.test(flags.namespace)) throw new DsvError('Usage', `invalid --namespace "${flags.namespace}": letters, digits and . _ - inside`);
    r.containerdNamespace = flags.namespace;
  }
  if (flags.address !== undefined) {
    const path = containerdSocketPath(flags.address);
    if (!path.startsWith('/')) throw new DsvError('Usage', `invalid --address "${flags.address}": the absolute path of containerd's socket`);
    r.containerdAddress = path;
  }
  return r;
}

/** The GnuPG home: DSV_GPG_DATASTORE, then GNUPGHOME, then ~/.gnupg. */
export function gpgHomeFromEnv(env: Environment): string {
  return env.DSV_GPG_DATASTORE || env.GNUPGHOME || join(homeOf(env), '.gnupg');
}

export const PKI_FORMATS = ['legacy', 'v2'] as const;
export type PkiFormat = (typeof PKI_FORMATS)[number];

/** A PKI signature format as given (--pki-format, DSV_PKI_FORMAT): legacy or v2, any case; Usage error otherwise. */
export function parsePkiFormat(value: string, from = '--pki-format'): PkiFormat {
  const v = value.trim().toLowerCase();
  if (!(PKI_FORMATS as readonly string[]).includes(v)) throw new DsvError('Usage', `invalid ${from} "${value}": legacy or v2`);
  return v as PkiFormat;
}

/**
 * Signer settings per type: gpg { gpgHome }, pki { datastore } (DSV_PKI_DATASTORE, default ~/.dsv.pem) and
 * { format } from DSV_PKI_FORMAT when set (unset: the pki signer's default, legacy armour for a bare RSA key).
 */
export function signerSettingsFromEnv(env: Environment): Record<string, Record<string, unknown>> {
  const pki: Record<string, unknown> = { datastore: env.DSV_PKI_DATASTORE || join(homeOf(env), '.dsv.pem') };
  // Checked when signing (the pki signer refuses other values), so a bad value never breaks a verify.
  if (env.DSV_PKI_FORMAT?.trim()) pki.format = env.DSV_PKI_FORMAT.trim().toLowerCase();
  return { gpg: { gpgHome: gpgHomeFromEnv(env) }, pki };
}

/** Applies --pki-format (it wins over DSV_PKI_FORMAT) to the pki signer's settings. */
export function applyPkiFormat(settings: Record<string, Record<string, unknown>>, format: string | undefined): void {
  if (format === undefined) return;
  settings.pki = { ...(settings.pki ?? {}), format: parsePkiFormat(format) };
}

/**
 * DSV_TRUST's entries, FILE or TYPE:FILE (so a plugin's trust files can be named: `example:/keys/a.pub`).
 * Separated by ',' (then every entry is taken whole), or by ':' with a bare word (a type name: letters,
 * digits, '-', '_'; no '/' or '.') joined to the file after it.
 */
export function trustEntries(value: string | undefined): string[] {
  if (value?.includes(',')) return list(value, /,/);
  const pieces = list(value, /:/);
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (/^[a-z][a-z0-9_-]*$/i.test(p) && i + 1 < pieces.length) out.push(`${p}:${pieces[++i]!}`);
    else out.push(p);
  }
  return out;
}

/** Trust files named by the environment: DSV_TRUST (any type, or TYPE:FILE), DSV_GPG_TRUST, DSV_PKI_TRUST (':' or ','). */
export function trustFromEnv(env: Environment): { any: string[]; byType: Record<string, string[]> } {
  return { any: trustEntries(env.DSV_TRUST), byType: { gpg: list(env.DSV_GPG_TRUST, /[:,]/), pki: list(env.DSV_PKI_TRUST, /[:,]/) } };
}

/**
 * --signer-opt [TYPE:]KEY=VALUE (repeatable) into the signers' settings: with TYPE, that type's; without,
 * each of `types` (the signing key's type for sign; every loaded type for verify). Usage error otherwise.
 */
export function applySignerOpts(settings: Record<string, Record<string, unknown>>, opts: readonly string[], types: readonly string[]): void {
  for (const opt of opts) {
    const m = /^(?:([a-z0-9][a-z0-9._-]*):)?([A-Za-z_][\w.-]*)=(.*)$/s.exec(opt);
    if (!m) throw new DsvError('Usage', `invalid --signer-opt "${opt}": expected [TYPE:]KEY=VALUE`);
    for (const type of m[1] ? [m[1].toLowerCase()] : types) settings[type] = { ...(settings[type] ?? {}), [m[2]!]: m[3]! };
  }
}

/** Docker Content Trust settings as the docker CLI reads them. */
export interface ContentTrustSettings {
  /** DOCKER_CONTENT_TRUST_SERVER, when set. */
  server?: string;
  /** DOCKER_CONFIG (default ~/.docker): the trust dir is `<dir>/trust`, trust servers' CAs `<dir>/tls/<host:port>/ca.crt`. */
  dockerConfigDir: string;
  /** Registry credentials for the trust server's token auth: DSV_CREDENTIALS_STORE, else `<dockerConfigDir>/config.json` (as docker). */
  credentialsStore: string;
}

/** DOCKER_CONTENT_TRUST_SERVER and DOCKER_CONFIG (default ~/.docker), for `dsv trust` and `dsv verify --dct`. */
export function contentTrustFromEnv(env: Environment): ContentTrustSettings {
  const dockerConfigDir = env.DOCKER_CONFIG || join(homeOf(env), '.docker');
  const s: ContentTrustSettings = { dockerConfigDir, credentialsStore: env.DSV_CREDENTIALS_STORE || join(dockerConfigDir, 'config.json') };
  if (env.DOCKER_CONTENT_TRUST_SERVER) s.server = env.DOCKER_CONTENT_TRUST_SERVER;
  return s;
}

/** DSV_POLICY: a policy file `dsv verify` judges by (--policy wins). /etc/containers/policy.json is never read unless named. */
export function policyFromEnv(env: Environment): string | undefined {
  return env.DSV_POLICY?.trim() || undefined;
}

export const SIGNATURE_FORMATS = ['embedded', 'simple', 'cosign'] as const;
export type SignatureFormatName = (typeof SIGNATURE_FORMATS)[number];

/** A signature format as given (--format, DSV_SIGNATURE_FORMAT): embedded, simple or cosign; Usage error otherwise. */
export function parseSignatureFormat(value: string, from = '--format'): SignatureFormatName {
  const v = value.trim().toLowerCase();
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(v)) throw new DsvError('Usage', `invalid ${from} "${value}": embedded, simple or cosign`);
  return v as SignatureFormatName;
}

/** DSV_SIGNATURE_FORMAT: the default of `dsv sign --format` (unset: embedded). */
export function signatureFormatFromEnv(env: Environment): SignatureFormatName | undefined {
  const v = env.DSV_SIGNATURE_FORMAT?.trim();
  return v ? parseSignatureFormat(v, 'DSV_SIGNATURE_FORMAT') : undefined;
}

/**
 * The shard of a fleet command from the environment: a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (or
 * DSV_SHARD_INDEX) with DSV_SHARD_COUNT, as `INDEX/COUNT`. An index without a count is a usage error.
 */
export function shardFromEnv(env: Environment): { value: string; source: string } | undefined {
  const index = env.DSV_SHARD_INDEX?.trim() || env.JOB_COMPLETION_INDEX?.trim();
  const indexName = env.DSV_SHARD_INDEX?.trim() ? 'DSV_SHARD_INDEX' : 'JOB_COMPLETION_INDEX';
  const count = env.DSV_SHARD_COUNT?.trim();
  if (!index && !count) return undefined;
  if (!index || !count) throw new DsvError('Usage', `${index ? indexName : 'DSV_SHARD_COUNT'} is set but ${index ? 'DSV_SHARD_COUNT' : 'JOB_COMPLETION_INDEX / DSV_SHARD_INDEX'} is not: a shard needs both an index and a count`);
  return { value: `${index}/${count}`, source: `${indexName}/DSV_SHARD_COUNT` };
}

/** COSIGN_PASSWORD (as cosign reads it): the passphrase of a cosign key when none of --passphrase-file / DSV_KEYPASS is given. */
export function cosignPasswordFromEnv(env: Environment): string | undefined {
  return env.COSIGN_PASSWORD;
}

/** DSV_GPG_BINARY: the gpg binary (default `gpg` on PATH). */
export function gpgBinaryFromEnv(env: Environment): string {
  return env.DSV_GPG_BINARY || 'gpg';
}

/** The policy dsv-containerd-verifier judges by when DSV_POLICY is not set (containerd passes it no arguments of ours). */
export const CONTAINERD_VERIFIER_POLICY = '/etc/dsv/policy.json';
/** dsv-containerd-verifier's own deadline, under containerd's default per_verifier_timeout of 10 s. */
export const CONTAINERD_VERIFIER_TIMEOUT_SECONDS = 8;

/**
 * dsv-containerd-verifier's settings from containerd's environment: the policy (DSV_POLICY, else
 * /etc/dsv/policy.json) and its deadline in seconds (DSV_VERIFIER_TIMEOUT, default 8; a bad value is a Usage error).
 */
export function containerdVerifierSettingsFromEnv(env: Environment): { policy: string; policyFrom: 'DSV_POLICY' | 'default'; timeoutSeconds: number } {
  const raw = env.DSV_VERIFIER_TIMEOUT?.trim();
  const timeoutSeconds = raw ? Number(raw) : CONTAINERD_VERIFIER_TIMEOUT_SECONDS;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) {
    throw new DsvError('Usage', `invalid DSV_VERIFIER_TIMEOUT "${raw}": seconds, more than 0 and at most 3600`);
  }
  const policy = policyFromEnv(env);
  return policy ? { policy, policyFrom: 'DSV_POLICY', timeoutSeconds } : { policy: CONTAINERD_VERIFIER_POLICY, policyFrom: 'default', timeoutSeconds };
}
