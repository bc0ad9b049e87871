/**
 * Transport registration: a package announces its transports in a small manifest (names and a lazy
 * loader), an app registers what it loads in a TransportRegistry, which maps `transport:reference`
 * strings to them. Core names no concrete transport (PLUGINS.md, "Transport packages").
 */
import { DsvError } from './errors.js';
import type { ImageReference, SystemContext, Transport } from './transport.js';

/** One transport a manifest announces, for --help. */
export interface TransportInfo {
  name: string;
  /** How its references are written, e.g. `docker://HOST/REPO[:TAG]`. */
  syntax: string;
  /** One short line. */
  description?: string;
  /** Read-only transports say so (help lists them as sources only). */
  readOnly?: boolean;
}

/**
 * What a transport package exports (as `transportManifest`, or as the default export of a module named in
 * DSV_TRANSPORT_PLUGINS): its transports' names, known without loading them, and a loader that imports the
 * package's code only when one of them is used.
 */
export interface TransportManifest {
  /** The package (or module) that provides them, for messages. */
  package: string;
  transports: readonly TransportInfo[];
  /** Imports the implementation; `system` carries what parsing needs (e.g. defaultRegistry). */
  load(system?: SystemContext): Promise<Transport[]>;
}

/** `name://` at the start of a reference (`docker://host/repo`). */
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//;

/**
 * The transport a reference string names, among `known` (the names of the manifests an app has), without
 * parsing the rest: `docker` (the default) for a bare registry reference, `oci` for `oci:/dir:tag`,
 * `docker` for `docker://…`. Lets an app load only the transports its references need;
 * TransportRegistry.parse still validates them.
 */
export function knownTransportOf(input: string, known: readonly string[], defaultTransport = 'docker'): string {
  const scheme = SCHEME.exec(input);
  if (scheme) return scheme[1]!;
  const colon = input.indexOf(':');
  const name = colon > 0 ? input.slice(0, colon) : '';
  return known.includes(name) ? name : defaultTransport;
}

function shown(input: string): string {
  return input.length > 200 ? `${input.slice(0, 200)}…` : input;
}

/**
 * Maps `transport:reference` strings to transports, like containers/image's alltransports:
 * `docker://host/repo:tag`, `oci:/path:tag`, `docker-archive:/file.tar`, `memory:name:tag`, ...
 * Input without a registered transport prefix goes to the default transport (`docker`).
 */
export class TransportRegistry {
  private readonly transports = new Map<string, Transport>();
  readonly defaultTransport: string;
  /** Names that exist (some manifest announces them) though they may not be registered here. */
  private readonly known: Set<string>;

  constructor(opts: { defaultTransport?: string; transports?: Transport[]; known?: readonly string[] } = {}) {
    this.defaultTransport = opts.defaultTransport ?? 'docker';
    this.known = new Set([...(opts.known ?? []), this.defaultTransport]);
    for (const t of opts.transports ?? []) this.register(t);
  }

  register(t: Transport): this {
    if (!/^[a-z][a-z0-9-]*$/.test(t.name)) throw new DsvError('Usage', `invalid transport name "${t.name}"`);
    this.transports.set(t.name, t);
    return this;
  }

  has(name: string): boolean {
    return this.transports.has(name);
  }

  get(name: string): Transport {
    const t = this.transports.get(name);
    if (!t) {
      const known = this.known.has(name);
      throw new DsvError(
        'ReferenceInvalid',
        known
          ? `transport "${name}" is not available here (available: ${this.names().join(', ') || 'none'})`
          : `unknown transport "${name}" (available: ${this.names().join(', ') || 'none'})`,
        { transport: name },
      );
    }
    return t;
  }

  names(): string[] {
    return [...this.transports.keys()].sort();
  }

  /** Parses `transport:rest` (or `docker://rest`); without a registered prefix, the default transport. */
  parse(input: string): ImageReference {
    if (typeof input !== 'string' || input.trim() === '') throw new DsvError('ReferenceInvalid', 'empty image reference');
    if (input !== input.trim() || /[\s\0]/.test(input)) {
      throw new DsvError('ReferenceInvalid', `invalid image reference "${shown(input)}": contains whitespace or control characters`, { reference: shown(input) });
    }
    const scheme = SCHEME.exec(input);
    if (scheme) {
      const name = scheme[1]!;
      if (name === 'docker') return this.get('docker').parseReference(input.slice('docker://'.length));
      // `oci:///abs/path` style: a registered transport written with `//`.
      if (this.transports.has(name)) return this.get(name).parseReference(input.slice(name.length + 1));
      throw new DsvError('ReferenceInvalid', `invalid image reference "${shown(input)}": unknown transport "${name}"`, { reference: shown(input), transport: name });
    }
    const colon = input.indexOf(':');
    if (colon > 0) {
      const name = input.slice(0, colon);
      if (name !== 'docker' && this.transports.has(name)) return this.get(name).parseReference(input.slice(colon + 1));
      // A known transport that is not registered must not silently become a docker reference.
      if (name !== 'docker' && this.known.has(name)) this.get(name);
    }
    return this.get(this.defaultTransport).parseReference(input);
  }
}
