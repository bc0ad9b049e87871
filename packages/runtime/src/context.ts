/**
 * Composition root: the transports (from their manifests), the signer plugins, and the SystemContext built
 * from the environment and flags. Every command (dsv, docker-sign, docker-verify, dsv copy, the docker
 * plugin) starts here.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { DsvError, SignerRegistry, parseDockerReference, type VerificationResult } from '@dsv/core/formats';
import {
  knownTransportOf,
  type ImageReference,
  type SystemContext,
  type ProgressEvent,
  type TransportManifest,
  type TransportRegistry,
} from '@dsv/core/transport';
import { signerSettingsFromEnv, systemContextFromEnv, trustFromEnv, type Environment } from './environment.js';
import { loadSignerPlugins } from './plugins.js';
import { createTransportRegistry, loadTransportManifests, transportNames } from './transports.js';

// The transport and signer packages are imported by createContext, not here: importing the runtime (for
// --version, --help, usage errors, or just its helpers) loads none of them (undici, tar-stream, the
// daemon/storage code, openpgp). Only the transport manifests are imported eagerly; they are tiny.

export interface ContextOptions {
  /** The environment (the app's process.env, given once; tests pass their own). */
  env?: Environment;
  /** --insecure-registry HOST (added to DSV_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  /**
   * References whose registries may be reached over plain HTTP or unverified TLS: skopeo's --tls-verify=false
   * (and --src-/--dest-tls-verify=false) as an insecure registry per reference; other transports are ignored.
   */
  tlsUnverified?: readonly string[];
  /**
   * Certificate directories per reference (skopeo's --cert-dir, --src-/--dest-cert-dir): each docker reference's
   * registry reads its CAs and client certificate from that directory instead of certs.d; other transports are ignored.
   */
  certDirs?: readonly (readonly [reference: string, dir: string])[];
  /** --debug sink; never given secrets. */
  debug?: (message: string) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** Load DSV_SIGNER_PLUGINS / config-file plugins (default true). */
  loadPlugins?: boolean;
  /**
   * The transports the command will use (names such as `docker`, `oci`): only their packages are loaded
   * (default: those of `references`, else all). parseImage() refuses a reference of another transport as a
   * programming error.
   */
  transports?: readonly string[];
  /** The references the command will use; their transports are loaded (when `transports` is not given). */
  references?: readonly string[];
  /**
   * false when the command neither signs nor verifies: no signer package or signer plugin is loaded, and
   * `signers` stays empty (default true).
   */
  signers?: boolean;
  /** Typed settings that win over the environment's (the Docker plugin's endpoint from its docker context). */
  system?: Partial<SystemContext>;
}

export interface CliContext {
  env: Environment;
  transports: TransportRegistry;
  /** Every transport manifest known (built-in and plugins), loaded or not. */
  manifests: readonly TransportManifest[];
  signers: SignerRegistry;
  system: SystemContext;
  /** Plugin settings per signature type (gpg: { gpgHome }, pki: { datastore }). */
  signerSettings: Record<string, Record<string, unknown>>;
  /** `transport:ref` or a bare registry reference -> ImageReference (ReferenceInvalid on bad input). */
  parseImage(input: string): ImageReference;
  debug(message: string): void;
}

/** The same context, by the runtime's name. */
export type RuntimeContext = CliContext;

export { createTransportRegistry, signerSettingsFromEnv, systemContextFromEnv };

/** A SignerRegistry with the built-in plugins (gpg, pki); each loads its crypto code on first use. */
async function createBuiltinSignerRegistry(env: Environment, system: SystemContext): Promise<SignerRegistry> {
  const [gpg, pki] = await Promise.all([import('@dsv/signer-gpg'), import('@dsv/signer-pki')]);
  gpg.configureGpgProcess({ ...(env.DSV_GPG_BINARY ? { binary: env.DSV_GPG_BINARY } : {}), ...(system.childEnv ? { env: system.childEnv } : {}) });
  return new SignerRegistry().register(gpg.gpgPlugin).register(pki.pkiPlugin);
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
  const env = opts.env ?? {};
  const debug = opts.debug ?? (() => {});
  const withSigners = opts.signers !== false;
  const system: SystemContext = { ...systemContextFromEnv(env, opts), ...(opts.system ?? {}) };
  const manifests = await loadTransportManifests({ env });
  const known = transportNames(manifests);
  const registryOf = (input: string) => dockerRegistryOf(input, known, system.defaultRegistry);
  const unverified = (opts.tlsUnverified ?? []).map(registryOf).filter((r): r is string => r !== undefined);
  if (unverified.length) system.insecureRegistries = [...new Set([...(system.insecureRegistries ?? []), ...unverified])];
  for (const [input, dir] of opts.certDirs ?? []) {
    const registry = registryOf(input);
    if (registry !== undefined) system.registryCertDirs = { ...system.registryCertDirs, [registry]: resolvePath(dir) };
  }
  const names = opts.transports ?? (opts.references ? opts.references.map((r) => knownTransportOf(r, known)) : undefined);
  const [transports, signers] = await Promise.all([
    createTransportRegistry(names, { manifests, system }),
    withSigners ? createBuiltinSignerRegistry(env, system) : new SignerRegistry(),
  ]);
  if (withSigners && opts.loadPlugins !== false) await loadSignerPlugins(signers, { env: { ...env } });
  return {
    env,
    transports,
    manifests,
    signers,
    system,
    signerSettings: signerSettingsFromEnv(env),
    parseImage: (input) => {
      const wanted = knownTransportOf(input, known);
      if (names && !names.includes(wanted)) {
        throw new DsvError('Usage', `"${input}": transport "${wanted}" was not among those the command loaded (${names.join(', ')})`);
      }
      return transports.parse(input);
    },
    debug,
  };
}

/** The registry of a docker reference, undefined for another transport's (ReferenceInvalid for a malformed one). */
function dockerRegistryOf(input: string, known: readonly string[], defaultRegistry: string | undefined): string | undefined {
  if (knownTransportOf(input, known) !== 'docker') return undefined;
  return parseDockerReference(input.replace(/^docker:\/\//, ''), defaultRegistry ? { defaultRegistry } : {}).registry;
}

// ---------------------------------------------------------------------------------------------
// Trust

const exists = (path: string) => stat(path).then(() => true, () => false);

/**
 * Which signature type a trust file is for: `TYPE:PATH` names it explicitly (TYPE a registered
 * signer type); otherwise it is recognised by content — OpenPGP (armoured or binary) is gpg,
 * PEM / DER X.509 certificates and public keys are pki.
 */
export async function classifyTrustFile(spec: string, knownTypes: string[]): Promise<{ type: string; path: string }> {
  const m = /^([a-z0-9][a-z0-9._-]*):(.+)$/i.exec(spec);
  if (m && knownTypes.includes(m[1]!.toLowerCase())) return { type: m[1]!.toLowerCase(), path: m[2]! };
  // TYPE:FILE for a type no plugin provides (the file itself exists): say so, and where plugins are found.
  if (m && !(await exists(spec)) && (await exists(m[2]!))) {
    const type = m[1]!.toLowerCase();
    throw new DsvError('Usage', `trust file ${spec}: no signer plugin provides type "${type}" (known: ${knownTypes.join(', ')}); plugins are found as dsv-signer-${type} in ~/.dsv/plugins or on PATH`, { file: spec, type });
  }
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
 * its trust store (DSV_PKI_DATASTORE, default ~/.dsv.pem), as the original tool did; GNUPGHOME is honoured
 * after DSV_GPG_DATASTORE.
 */
export async function createVerifyFunction(
  ctx: CliContext,
  opts: TrustOptions = {},
): Promise<(data: Uint8Array, signature: string) => Promise<VerificationResult>> {
  const fromEnv = trustFromEnv(ctx.env);
  const types = ctx.signers.types();
  const byType: Record<string, string[]> = {};
  const add = (type: string, path: string) => (byType[type] ??= []).includes(path) || byType[type]!.push(path);
  for (const spec of [...fromEnv.any, ...(opts.trust ?? [])]) {
    const { type, path } = await classifyTrustFile(spec, types);
    add(type, path);
  }
  for (const [type, files] of Object.entries(fromEnv.byType)) for (const p of files) add(type, p);
  for (const [type, files] of Object.entries(byType)) ctx.debug(`trusted ${type} key files: ${files.join(', ')}`);
  if (ctx.signerSettings.gpg?.gpgHome) ctx.debug(`GnuPG home: ${String(ctx.signerSettings.gpg.gpgHome)}`);
  return ctx.signers.verifier({ trustByType: byType, settingsByType: ctx.signerSettings });
}
