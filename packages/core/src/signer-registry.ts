/**
 * The signer registry: validates SignerPlugins, guards what they throw (every failure surfaces as a
 * DsvError) and routes signatures to the plugin that recognises them. Core knows no concrete signer;
 * discovery (modules and executables named by the environment or a config file) is @dsv/runtime's.
 */
import { DsvError, ErrorCodes, isDsvError, type ErrorCode } from './errors.js';
import type { Signer, SignerOptions, SignerPlugin, VerificationResult, Verifier, VerifierOptions } from './signer.js';

const TYPE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const STATUSES = new Set(['valid', 'invalid', 'unknown-key']);

/** Options of SignerRegistry.verifier(). */
export interface RoutingVerifierOptions extends VerifierOptions {
  /** Plugin-specific settings, keyed by signature type; used instead of `settings` for that type. */
  settingsByType?: Record<string, Record<string, unknown>>;
  /** Trust files per signature type; used instead of `trust` for that type. */
  trustByType?: Record<string, string[]>;
}

/**
 * Checks that `value` has the SignerPlugin shape; returns it typed, or throws
 * DsvError('PluginError') naming `origin` (a module name, path or executable).
 */
export function validateSignerPlugin(value: unknown, origin: string): SignerPlugin {
  const bad = (why: string): never => {
    throw new DsvError('PluginError', `signer plugin ${origin} is invalid: ${why}`, { plugin: origin });
  };
  if (value === null || typeof value !== 'object') bad('it is not an object');
  const p = value as Record<string, unknown>;
  if (typeof p.type !== 'string' || !TYPE_RE.test(p.type)) bad('"type" must be a short name like "gpg" or "pki"');
  for (const fn of ['recognizes', 'createSigner', 'createVerifier']) {
    if (typeof p[fn] !== 'function') bad(`"${fn}" is not a function`);
  }
  return value as SignerPlugin;
}

/**
 * Turns whatever a third-party plugin threw into a DsvError: DsvErrors pass through; an error whose
 * `code` is one of the stable DsvError codes keeps that code (so a plugin need not import @dsv/core);
 * anything else becomes a PluginError naming the plugin.
 */
export function pluginFailure(e: unknown, type: string, doing: string): DsvError {
  if (isDsvError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(ErrorCodes, code)) {
    return new DsvError(code as ErrorCode, oneLineError(e), { type }, { cause: e });
  }
  return new DsvError('PluginError', `signer plugin "${type}" failed to ${doing}: ${oneLineError(e)}`, { type }, { cause: e });
}

async function guarded<T>(type: string, doing: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw pluginFailure(e, type, doing);
  }
}

/** The plugin as the registry hands it out: every failure surfaces as a DsvError. */
function guardPlugin(p: SignerPlugin): SignerPlugin {
  const type = p.type;
  return {
    type,
    recognizes: (signature: string) => {
      try {
        return p.recognizes(signature) === true;
      } catch {
        return false;
      }
    },
    async createSigner(options: SignerOptions): Promise<Signer> {
      const s = await guarded(type, 'create a signer', () => p.createSigner(options));
      if (!s || typeof s.sign !== 'function' || typeof s.describeKey !== 'function') {
        throw new DsvError('PluginError', `signer plugin "${type}" returned no usable signer`, { type });
      }
      return {
        type: s.type ?? type,
        describeKey: () => guarded(type, 'describe its key', () => s.describeKey()),
        sign: async (data: Uint8Array) => {
          const sig = await guarded(type, 'sign', () => s.sign(data));
          if (typeof sig !== 'string' || !sig) throw new DsvError('PluginError', `signer plugin "${type}" returned no signature text`, { type });
          return sig;
        },
      };
    },
    async createVerifier(options: VerifierOptions): Promise<Verifier> {
      const v = await guarded(type, 'create a verifier', () => p.createVerifier(options));
      if (!v || typeof v.verify !== 'function') {
        throw new DsvError('PluginError', `signer plugin "${type}" returned no usable verifier`, { type });
      }
      return {
        type: v.type ?? type,
        recognizes: (signature: string) => {
          try {
            return (typeof v.recognizes === 'function' ? v.recognizes(signature) : p.recognizes(signature)) === true;
          } catch {
            return false;
          }
        },
        verify: async (data: Uint8Array, signature: string) => {
          const r = await guarded(type, 'verify', () => v.verify(data, signature));
          if (!r || typeof r !== 'object' || !STATUSES.has(r.status)) {
            throw new DsvError('PluginError', `signer plugin "${type}" returned a malformed verification result`, { type });
          }
          return r.type ? r : { ...r, type };
        },
      };
    },
  };
}

export class SignerRegistry {
  readonly #plugins = new Map<string, { original: SignerPlugin; guarded: SignerPlugin }>();

  /**
   * Adds a plugin. Registering the same plugin object again is a no-op; a different plugin for an
   * already registered type is a PluginError (a third-party module cannot silently replace `gpg`).
   */
  register(plugin: SignerPlugin): this {
    validateSignerPlugin(plugin, typeof plugin?.type === 'string' ? `"${plugin.type}"` : '(unnamed)');
    const existing = this.#plugins.get(plugin.type);
    if (existing) {
      if (existing.original === plugin) return this;
      throw new DsvError('PluginError', `signer type "${plugin.type}" is registered twice by different plugins`, {
        type: plugin.type,
      });
    }
    this.#plugins.set(plugin.type, { original: plugin, guarded: guardPlugin(plugin) });
    return this;
  }

  /** True when exactly this plugin object is registered. */
  isRegistered(plugin: SignerPlugin): boolean {
    return this.#plugins.get(plugin.type)?.original === plugin;
  }

  has(type: string): boolean {
    return this.#plugins.has(type);
  }

  get(type: string): SignerPlugin {
    const p = this.#plugins.get(type)?.guarded;
    if (!p) {
      const known = this.types();
      throw new DsvError(
        'Usage',
        `unknown signature type "${type}" (known: ${known.length ? known.join(', ') : 'none'})`,
        { type, known },
      );
    }
    return p;
  }

  /** Registered types, sorted. */
  types(): string[] {
    return [...this.#plugins.keys()].sort();
  }

  /** The first registered plugin (in registration order) that recognises `signature`. */
  forSignature(signature: string): SignerPlugin | undefined {
    for (const { guarded: p } of this.#plugins.values()) {
      if (p.recognizes(signature)) return p;
    }
    return undefined;
  }

  /**
   * A verify function that routes each signature to the plugin that recognises it. Unrecognised
   * signatures come back as status 'invalid' with reason 'unrecognised signature format'. Each type's
   * verifier is created lazily, once. Errors creating a verifier (e.g. an unreadable trust file) are
   * thrown; a plugin's verify() that throws something other than a DsvError becomes a PluginError.
   */
  verifier(options: RoutingVerifierOptions): (data: Uint8Array, signature: string) => Promise<VerificationResult> {
    const verifiers = new Map<string, Promise<Verifier>>();
    const verifierFor = (plugin: SignerPlugin): Promise<Verifier> => {
      let v = verifiers.get(plugin.type);
      if (!v) {
        const opts: VerifierOptions = {};
        const trust = options.trustByType?.[plugin.type] ?? options.trust;
        if (trust) opts.trust = trust;
        const settings = options.settingsByType?.[plugin.type] ?? options.settings;
        if (settings) opts.settings = settings;
        v = plugin.createVerifier(opts);
        // A failed creation is not cached: the next call retries (and reports) it again.
        v.catch(() => verifiers.delete(plugin.type));
        verifiers.set(plugin.type, v);
      }
      return v;
    };
    return async (data, signature) => {
      const plugin = typeof signature === 'string' ? this.forSignature(signature) : undefined;
      if (!plugin) return { status: 'invalid', type: 'unknown', reason: 'unrecognised signature format' };
      const verifier = await verifierFor(plugin);
      return verifier.verify(data, signature);
    };
  }
}

export function oneLineError(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split(/\r?\n/)[0]!.slice(0, 300);
}
