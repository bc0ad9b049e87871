/**
 * The one place dsv turns the process environment into configuration: a typed SystemContext for the
 * transports and per-type settings for the signers. Packages under packages/ read no environment; the
 * apps hand theirs to the runtime once (processIo().env) and everything downstream gets typed values.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DsvError, type DockerEndpoint, type SystemContext, type TlsRootsSource } from '@dsv/core';

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
 * and the whole environment for child processes.
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
  if (env.CONTAINERD_ADDRESS) ctx.containerdAddress = env.CONTAINERD_ADDRESS;
  if (opts.onProgress) ctx.onProgress = opts.onProgress;
  if (opts.debug) ctx.debug = opts.debug;
  return ctx;
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

/** Trust files named by the environment: DSV_TRUST (any type), DSV_GPG_TRUST, DSV_PKI_TRUST (':' or ','). */
export function trustFromEnv(env: Environment): { any: string[]; byType: Record<string, string[]> } {
  return { any: list(env.DSV_TRUST, /[:,]/), byType: { gpg: list(env.DSV_GPG_TRUST, /[:,]/), pki: list(env.DSV_PKI_TRUST, /[:,]/) } };
}
