/**
 * Composition root: every transport, every signer plugin, and the SystemContext built from the
 * environment and flags. Apps (dsv, docker-sign, docker-verify, the docker plugin, dsv-copy) start here.
 */
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import {
  DsvError,
  SignerRegistry,
  TransportRegistry,
  knownTransportOf,
  loadSignerPlugins,
  type ImageReference,
  type SystemContext,
  type ProgressEvent,
  type VerificationResult,
} from '@dsv/core';

// The transport and signer packages are imported by createContext / createTransportRegistry, not here:
// importing @dsv/cli (for --version, --help, usage errors, or just its helpers) loads none of them
// (undici, tar-stream, the daemon/storage code). Nothing else in this module depends on them.

export interface ContextOptions {
  /** Environment to read DSV_* / DOCKER_HOST from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** --insecure-registry HOST (added to DSV_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  /** --debug sink; never given secrets. */
  debug?: (message: string) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** Load DSV_SIGNER_PLUGINS / config-file plugins (default true). */
  loadPlugins?: boolean;
  /**
   * The transports the command will use (names such as `docker`, `oci`; core's knownTransportOf gives a
   * reference's): only their packages are loaded (default: all). parseImage() refuses a reference of
   * another transport as a programming error.
   */
  transports?: readonly string[];
  /**
   * false when the command neither signs nor verifies: no signer package or signer plugin is loaded, and
   * `signers` stays empty (default true).
   */
  signers?: boolean;
}

export interface CliContext {
  env: NodeJS.ProcessEnv;
  transports: TransportRegistry;
  signers: SignerRegistry;
  system: SystemContext;
  /** Plugin settings per signature type (gpg: { gpgHome } from DSV_GPG_DATASTORE). */
  signerSettings: Record<string, Record<string, unknown>>;
  /** `transport:ref` or a bare registry reference -> ImageReference (ReferenceInvalid on bad input). */
  parseImage(input: string): ImageReference;
  debug(message: string): void;
}

function list(value: string | undefined, sep: RegExp = /[,\s]+/): string[] {
  return (value ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** SystemContext from the environment (as the original tool read it) plus command-line flags. */
export function systemContextFromEnv(env: NodeJS.ProcessEnv, opts: Omit<ContextOptions, 'env' | 'loadPlugins'> = {}): SystemContext {
  const ctx: SystemContext = {};
  if (env.DSV_CREDENTIALS_STORE) ctx.credentialsStore = env.DSV_CREDENTIALS_STORE;
  const insecure = [...list(env.DSV_INSECURE_REGISTRIES), ...(opts.insecureRegistries ?? [])];
  if (insecure.length) ctx.insecureRegistries = [...new Set(insecure)];
  const certs = list(env.DSV_CERTS_D, /[:,]/);
  if (certs.length) ctx.certsDirs = certs;
  if (env.DSV_DEFAULT_REGISTRY) ctx.defaultRegistry = env.DSV_DEFAULT_REGISTRY;
  if (env.DSV_DOCKERHUB_AUTH) ctx.dockerHubAuth = env.DSV_DOCKERHUB_AUTH;
  if (env.DOCKER_HOST) ctx.dockerHost = env.DOCKER_HOST;
  if (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0') ctx.dockerTlsVerify = true;
  if (env.DOCKER_CERT_PATH) ctx.dockerCertPath = env.DOCKER_CERT_PATH;
  if (env.DSV_DOCKER_ROOT) ctx.dockerRoot = env.DSV_DOCKER_ROOT;
  if (env.SSL_CERT_FILE || env.SSL_CERT_DIR || env.NODE_EXTRA_CA_CERTS) {
    ctx.tlsRoots = { certFile: env.SSL_CERT_FILE || undefined, certDirs: list(env.SSL_CERT_DIR, /:/), extraCaFile: env.NODE_EXTRA_CA_CERTS || undefined };
  }
  ctx.childEnv = env; // docker credential helpers run with the environment dsv was given
  if (opts.onProgress) ctx.onProgress = opts.onProgress;
  if (opts.debug) ctx.debug = opts.debug;
  return ctx;
}

type TransportPackage = 'registry' | 'archive' | 'repository';
const TRANSPORT_PACKAGES: Record<string, TransportPackage> = {
  docker: 'registry',
  'docker-archive': 'archive',
  oci: 'archive',
  'oci-archive': 'archive',
  'docker-daemon': 'repository',
  'docker-storage': 'repository',
};

/**
 * A TransportRegistry with the transports dsv ships (docker:// is the default); imports their packages.
 * With `names`, only the packages those transports need (each costs start-up time).
 */
export async function createTransportRegistry(names?: readonly string[]): Promise<TransportRegistry> {
  const wanted = new Set<TransportPackage>(
    names ? names.map((n) => TRANSPORT_PACKAGES[n]).filter((p): p is TransportPackage => p !== undefined) : Object.values(TRANSPORT_PACKAGES),
  );
  const [registry, archive, repository] = await Promise.all([
    wanted.has('registry') ? import('@dsv/source-registry') : undefined,
    wanted.has('archive') ? import('@dsv/source-archive') : undefined,
    wanted.has('repository') ? import('@dsv/source-repository') : undefined,
  ]);
  const transports = new TransportRegistry({ defaultTransport: 'docker' });
  if (registry) transports.register(registry.dockerTransport);
  if (archive) transports.register(archive.dockerArchiveTransport).register(archive.ociTransport).register(archive.ociArchiveTransport);
  if (repository) transports.register(repository.dockerDaemonTransport).register(repository.dockerStorageTransport);
  return transports;
}

/** A SignerRegistry with the built-in plugins (gpg, pki); each loads its crypto code on first use. */
async function createBuiltinSignerRegistry(): Promise<SignerRegistry> {
  const [gpg, pki] = await Promise.all([import('@dsv/signer-gpg'), import('@dsv/signer-pki')]);
  return new SignerRegistry().register(gpg.gpgPlugin).register(pki.pkiPlugin);
}

/** Plugin settings per type, from the environment. */
export function signerSettingsFromEnv(env: NodeJS.ProcessEnv): Record<string, Record<string, unknown>> {
  const gpg: Record<string, unknown> = {};
  if (env.DSV_GPG_DATASTORE) gpg.gpgHome = env.DSV_GPG_DATASTORE;
  const pki: Record<string, unknown> = {};
  if (env.DSV_PKI_DATASTORE) pki.datastore = env.DSV_PKI_DATASTORE;
  return { gpg, pki };
}

export async function createContext(opts: ContextOptions = {}): Promise<CliContext> {
  // undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles that module a second time with its
  // optimising tier on background threads, and a finishing process waits for them: ≈ 150–200 ms on every
  // registry command (bench/NOTES.md §8). The baseline tier (Liftoff) parses headers fast enough; bodies
  // are not parsed byte by byte. The apps own their process, so the flags are set here, before any connection.
  setFlagsFromString('--liftoff-only');
  // Every blob byte arrives in a fresh ArrayBuffer, and V8 counts those towards the old generation's limit,
  // which it sets at ≈ 4 × a heap of 8–10 MB: an 8-layer copy ran 12 full mark-compacts (a verify 21–25),
  // ≈ 0.25 s of CPU, though the buffers die young and scavenges free them. A growing factor of 5 leaves one;
  // peak RSS does not change (bench/NOTES.md §10).
  setFlagsFromString('--heap-growing-percent=400');
  const env = opts.env ?? process.env;
  const debug = opts.debug ?? (() => {});
  const withSigners = opts.signers !== false;
  const [transports, signers] = await Promise.all([
    createTransportRegistry(opts.transports),
    withSigners ? createBuiltinSignerRegistry() : new SignerRegistry(),
  ]);
  if (withSigners && opts.loadPlugins !== false) await loadSignerPlugins(signers, { env });
  const system = systemContextFromEnv(env, opts);
  return {
    env,
    transports,
    signers,
    system,
    signerSettings: signerSettingsFromEnv(env),
    parseImage: (input) => {
      const wanted = knownTransportOf(input);
      if (opts.transports && !opts.transports.includes(wanted)) {
        throw new DsvError('Usage', `"${input}": transport "${wanted}" was not among those the command loaded (${opts.transports.join(', ')})`);
      }
      return transports.parse(input);
    },
    debug,
  };
}

// ---------------------------------------------------------------------------------------------
// Trust

/**
 * Which signature type a trust file is for: `TYPE:PATH` names it explicitly (TYPE a registered
 * signer type); otherwise it is recognised by content — OpenPGP (armoured or binary) is gpg,
 * PEM / DER X.509 certificates and public keys are pki.
 */
export async function classifyTrustFile(spec: string, knownTypes: string[]): Promise<{ type: string; path: string }> {
  const m = /^([a-z0-9][a-z0-9._-]*):(.+)$/i.exec(spec);
  if (m && knownTypes.includes(m[1]!.toLowerCase())) return { type: m[1]!.toLowerCase(), path: m[2]! };
  let bytes: Buffer;
  try {
    bytes = await readFile(spec);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DsvError(code === 'ENOENT' ? 'NotFound' : 'KeyInvalid', `cannot read trust file ${spec}: ${code}`, { file: spec });
  }
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  if (head.includes('-----BEGIN PGP ')) return { type: 'gpg', path: spec };
  if (/-----BEGIN [A-Z0-9 ]*(CERTIFICATE|PUBLIC KEY)-----/.test(head)) return { type: 'pki', path: spec };
  const first = bytes[0] ?? 0;
  if (first === 0x30) return { type: 'pki', path: spec }; // DER SEQUENCE: an X.509 certificate or SPKI
  if ((first & 0x80) !== 0) return { type: 'gpg', path: spec }; // an OpenPGP packet header
  throw new DsvError('KeyInvalid', `trust file ${spec} is neither an OpenPGP key nor a PEM/DER certificate or public key (prefix it with TYPE: to say which)`, { file: spec });
}

export interface TrustOptions {
  /** --trust FILE (repeatable), optionally `TYPE:FILE`. */
  trust?: string[];
}

/**
 * The routing verify function: trust files from --trust and the environment (DSV_TRUST, DSV_GPG_TRUST,
 * DSV_PKI_TRUST; lists separated by ':' or ','), grouped by type. On top of those, the gpg plugin
 * trusts the public keys in the GnuPG home (DSV_GPG_DATASTORE, default ~/.gnupg) and the pki plugin
 * its trust store (DSV_PKI_DATASTORE, default ~/.dsv.pem), as the original tool did.
 */
export async function createVerifyFunction(
  ctx: CliContext,
  opts: TrustOptions = {},
): Promise<(data: Uint8Array, signature: string) => Promise<VerificationResult>> {
  const env = ctx.env;
  const types = ctx.signers.types();
  const byType: Record<string, string[]> = {};
  const add = (type: string, path: string) => (byType[type] ??= []).includes(path) || byType[type]!.push(path);
  for (const spec of [...list(env.DSV_TRUST, /[:,]/), ...(opts.trust ?? [])]) {
    const { type, path } = await classifyTrustFile(spec, types);
    add(type, path);
  }
  for (const p of list(env.DSV_GPG_TRUST, /[:,]/)) add('gpg', p);
  for (const p of list(env.DSV_PKI_TRUST, /[:,]/)) add('pki', p);
  for (const [type, files] of Object.entries(byType)) ctx.debug(`trusted ${type} key files: ${files.join(', ')}`);
  if (ctx.signerSettings.gpg?.gpgHome) ctx.debug(`GnuPG home: ${String(ctx.signerSettings.gpg.gpgHome)}`);
  return ctx.signers.verifier({ trustByType: byType, settingsByType: ctx.signerSettings });
}
