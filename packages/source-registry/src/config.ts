// The client's settings, resolved once from its options and SystemContext: the one place the package reads SystemContext's environment-derived fields and applies their defaults.
import { homedir } from 'node:os';
import { DsvError } from '@dsv/core/formats';
import type { SystemContext, TlsRootsSource } from '@dsv/core/transport';
import { AddressGuard, classifyAddress, resolverFrom } from './addresses.js';
import { defaultChildEnv, defaultCredentialsStore, isDockerHub, type Credentials } from './credentials.js';
import { defaultCertsDirs, isListedInsecure, isLoopbackHost, splitHostPort } from './tls.js';
import { newStats, type ClientStats, type RegistryClientOptions } from './types.js';
import { defaultSleep } from './util.js';

/** Docker Hub's token service when SystemContext.dockerHubAuth does not name another. */
export const DOCKER_HUB_AUTH = 'auth.docker.io';

export interface ClientConfig {
  /** The registry name as references write it (lower case). */
  registry: string;
  /** host[:port] actually contacted (Docker Hub: registry-1.docker.io). */
  endpoint: string;
  ctx: SystemContext;
  /** No SystemContext.insecureRegistries: none (loopback hosts may still fall back to plain HTTP). */
  insecureRegistries: readonly string[];
  /** The registry itself is listed insecure. */
  insecureListed: boolean;
  /** The endpoint is loopback by name. */
  loopback: boolean;
  /** No SystemContext.certsDirs: /etc/docker/certs.d, ~/.docker/certs.d. */
  certsDirs: readonly string[];
  /** SystemContext.registryCertDirs: this registry's own certificate directory (instead of certs.d). */
  certDir: string | undefined;
  /** No SystemContext.tlsRoots: the system bundle from the well-known paths. */
  tlsRoots: TlsRootsSource;
  /** No SystemContext.credentialsStore: ~/.docker/config.json. */
  credentialsStore: string;
  /** The auth files asked in order (SystemContext.credentialsFiles, else [credentialsStore]). */
  credentialsFiles: readonly string[];
  /** Where `credentials` came from, for messages (never the secret). */
  credentialsSource: string | undefined;
  /** No SystemContext.childEnv: PATH=/usr/local/bin:/usr/bin:/bin and HOME only. */
  childEnv: Readonly<Record<string, string | undefined>>;
  /** Host of Docker Hub's token realm (SystemContext.dockerHubAuth, default auth.docker.io). */
  dockerHubAuth: string;
  /** Options.credentials: given credentials (`null` anonymous) instead of the store. */
  credentials: Credentials | null | undefined;
  retryTimes: number;
  retryBaseDelayMs: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Total deadline of one request (options, else SystemContext.requestTimeoutMs, else 120 s). */
  requestTimeoutMs: number;
  /** Longest Retry-After honoured (default 30 s). */
  maxRetryAfterMs: number;
  /** Which hosts named by the registry (realms, redirects) may be contacted. */
  addresses: AddressGuard;
  manifestLimitBytes: number | undefined;
  tokenLimitBytes: number | undefined;
  chunkSize: number | undefined;
  monolithicMaxBytes: number;
  lookup: RegistryClientOptions['lookup'];
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  stats: ClientStats;
  debug(message: string): void;
}

export function clientConfig(opts: RegistryClientOptions): ClientConfig {
  const ctx = opts.ctx ?? {};
  const reg = opts.registry.toLowerCase();
  if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(reg)) {
    throw new DsvError('ReferenceInvalid', `invalid registry "${opts.registry.slice(0, 100)}"`, { registry: opts.registry.slice(0, 100) });
  }
  const endpoint = isDockerHub(reg) ? 'registry-1.docker.io' : reg;
  const insecureRegistries = ctx.insecureRegistries ?? [];
  let home: string | undefined;
  const homeDir = () => (home ??= homedir());
  // This registry's own auth settings (SystemContext.registryAuth) replace the context-wide ones.
  const auth = ctx.registryAuth?.[reg];
  const given = auth ? auth.registryCredentials : ctx.registryCredentials;
  return {
    registry: reg,
    endpoint,
    ctx,
    insecureRegistries,
    insecureListed: isListedInsecure(reg, insecureRegistries) || isListedInsecure(endpoint, insecureRegistries),
    loopback: isLoopbackHost(splitHostPort(endpoint).host),
    certsDirs: ctx.certsDirs ?? defaultCertsDirs(homeDir()),
    certDir: ctx.registryCertDirs?.[reg],
    tlsRoots: ctx.tlsRoots ?? {},
    credentialsStore: ctx.credentialsStore ?? defaultCredentialsStore(homeDir()),
    childEnv: ctx.childEnv ?? defaultChildEnv(homeDir()),
    dockerHubAuth: (ctx.dockerHubAuth ?? DOCKER_HUB_AUTH).replace(/^https?:\/\//, '').replace(/\/.*$/, ''),
    credentialsFiles: auth?.credentialsFiles ?? ctx.credentialsFiles ?? [ctx.credentialsStore ?? defaultCredentialsStore(homeDir())],
    credentials: opts.credentials !== undefined ? opts.credentials : given ? { username: given.username, password: given.password } : undefined,
    credentialsSource: opts.credentials !== undefined ? undefined : given ? (given.source ?? 'the command line') : undefined,
    retryTimes: Math.max(0, ctx.retryTimes ?? 3),
    retryBaseDelayMs: opts.retryBaseDelayMs ?? 250,
    timeoutMs: opts.timeoutMs ?? 60_000,
    connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    requestTimeoutMs: positive(opts.requestTimeoutMs ?? ctx.requestTimeoutMs, 120_000, 'request timeout'),
    maxRetryAfterMs: opts.maxRetryAfterMs ?? 30_000,
    addresses: new AddressGuard(reg, endpoint, resolverFrom(opts.lookup), opts.classifyAddress ?? classifyAddress),
    manifestLimitBytes: opts.manifestLimitBytes,
    tokenLimitBytes: opts.tokenLimitBytes,
    chunkSize: opts.chunkSize,
    monolithicMaxBytes: opts.monolithicMaxBytes ?? 1024 * 1024,
    lookup: opts.lookup,
    sleep: opts.sleep ?? defaultSleep,
    stats: newStats(),
    debug: (message) => ctx.debug?.(`registry ${reg}: ${message}`),
  };
}

function positive(ms: number | undefined, fallback: number, what: string): number {
  if (ms === undefined) return fallback;
  if (!Number.isFinite(ms) || ms <= 0) throw new DsvError('Usage', `${what} must be a positive number of milliseconds`);
  return ms;
}
