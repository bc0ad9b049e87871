import { DsvError } from './errors.js';
import type { ImageReference, Transport } from './transport.js';

/** Transport names dsv knows about, whether or not a package providing them is registered. */
export const KnownTransportNames = ['docker', 'docker-archive', 'oci', 'oci-archive', 'docker-daemon', 'docker-storage', 'memory'] as const;

/** `name://` at the start of a reference (`docker://host/repo`). */
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//;

/**
 * The known transport a reference string names, without parsing the rest: `docker` (the default) for a
 * bare registry reference, `oci` for `oci:/dir:tag`, `docker` for `docker://…`. Lets an app load only the
 * transports its references need; TransportRegistry.parse still validates them.
 */
export function knownTransportOf(input: string, defaultTransport = 'docker'): string {
  const known = KnownTransportNames as readonly string[];
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

  constructor(opts: { defaultTransport?: string; transports?: Transport[] } = {}) {
    this.defaultTransport = opts.defaultTransport ?? 'docker';
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
      const known = (KnownTransportNames as readonly string[]).includes(name);
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
      if (name !== 'docker' && (KnownTransportNames as readonly string[]).includes(name)) this.get(name);
    }
    return this.get(this.defaultTransport).parseReference(input);
  }
}
