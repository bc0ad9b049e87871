import { describe, expect, it } from 'vitest';
import { TransportRegistry, knownTransportOf } from './transports.js';

/** The names a set of manifests would announce (dsv's own, here). */
const KNOWN = ['docker', 'docker-archive', 'oci', 'oci-archive', 'docker-daemon', 'docker-storage', 'memory'];
import { memoryTransport } from './memory-transport.js';
import { isDsvError } from './errors.js';
import type { ImageReference, Transport } from './transport.js';

/** A stand-in transport that records what it was asked to parse. */
function fake(name: string, prefix = `${name}:`): Transport {
  const t: Transport = {
    name,
    parseReference(within: string): ImageReference {
      if (within === '') throw new Error('empty');
      return {
        transport: t,
        within,
        digest: undefined,
        toString: () => `${prefix}${within}`,
        newSource: () => Promise.reject(new Error('no')),
        newDestination: () => Promise.reject(new Error('no')),
      };
    },
  };
  return t;
}

describe('TransportRegistry', () => {
  const reg = new TransportRegistry({ known: KNOWN })
    .register(fake('docker', 'docker://'))
    .register(fake('oci'))
    .register(fake('docker-archive'))
    .register(memoryTransport);

  it('lists and gets transports', () => {
    expect(reg.names()).toEqual(['docker', 'docker-archive', 'memory', 'oci']);
    expect(reg.get('oci').name).toBe('oci');
    expect(() => reg.get('nope')).toThrow(/unknown transport "nope"/);
  });

  it('parses prefixed and unprefixed references', () => {
    const d = reg.parse('docker://registry.example:5000/a/b:1');
    expect(d.transport.name).toBe('docker');
    expect(d.within).toBe('registry.example:5000/a/b:1');
    expect(reg.parse('oci:/tmp/layout:tag').within).toBe('/tmp/layout:tag');
    expect(reg.parse('docker-archive:/tmp/x.tar').transport.name).toBe('docker-archive');
    // No registered prefix: the default transport (docker); `localhost:5000/x` is a docker name.
    expect(reg.parse('busybox:latest').transport.name).toBe('docker');
    expect(reg.parse('localhost:5000/x').within).toBe('localhost:5000/x');
    expect(reg.parse('memory:app:1').toString()).toBe('memory:app:1');
  });

  it('round-trips parse(ref.toString())', () => {
    for (const s of ['docker://a/b:c', 'oci:/p:t', 'memory:x/y:2', 'memory:x@sha256:' + 'a'.repeat(64), 'memory:plain']) {
      const r = reg.parse(s);
      const again = reg.parse(r.toString());
      expect(again.transport.name).toBe(r.transport.name);
      expect(again.within).toBe(r.within);
    }
    expect(reg.parse('memory:plain').toString()).toBe('memory:plain:latest');
  });

  it('rejects unknown or unavailable transports and bad input', () => {
    for (const bad of ['', '  x', 'ftp://host/x', 'oci-archive:/x.tar', 'docker-daemon:x:1', 'a b']) {
      let err: unknown;
      try {
        reg.parse(bad);
      } catch (e) {
        err = e;
      }
      expect(isDsvError(err, 'ReferenceInvalid'), bad).toBe(true);
    }
    expect(() => new TransportRegistry().parse('x')).toThrow(/transport "docker" is not available/);
  });
});

describe('knownTransportOf', () => {
  it('names the transport parse() picks when every known transport is registered', () => {
    const all = new TransportRegistry({ transports: KNOWN.map((n) => fake(n)), known: KNOWN });
    const inputs = [
      'busybox',
      'localhost:5000/app:v1',
      'registry.example.com/a/b@sha256:' + 'a'.repeat(64),
      'docker://localhost:5000/app',
      'docker:busybox',
      'oci:/tmp/layout:v1',
      'oci-archive:/tmp/x.tar',
      'docker-archive:/tmp/x.tar:app:v1',
      'docker-daemon:app:v1',
      'docker-storage:app:v1',
      'memory:app:v1',
      'oci://x',
    ];
    for (const input of inputs) {
      expect(knownTransportOf(input, KNOWN), input).toBe(all.parse(input).transport.name);
    }
  });
});
