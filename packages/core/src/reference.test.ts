import { afterEach, describe, expect, it } from 'vitest';
import { isDsvError } from './errors.js';
import { dockerNamespaces, familiarName, formatDockerReference, parseDockerReference, type DockerReference } from './reference.js';

const D = 'sha256:8f1196ff19e7b5c5861de192ae77e8d7a692fcbca2dd3174d324980f72ab49bf';

function expectInvalid(input: string, message?: RegExp, options?: { defaultRegistry?: string }): void {
  try {
    parseDockerReference(input, options);
    expect.unreachable(`${input} should be rejected`);
  } catch (e) {
    expect(isDsvError(e, 'ReferenceInvalid'), String(e)).toBe(true);
    if (message) expect((e as Error).message).toMatch(message);
  }
}

describe('parseDockerReference', () => {
  const saved = process.env.DSV_DEFAULT_REGISTRY;
  afterEach(() => {
    if (saved === undefined) delete process.env.DSV_DEFAULT_REGISTRY;
    else process.env.DSV_DEFAULT_REGISTRY = saved;
  });

  it('normalises Docker Hub names', () => {
    delete process.env.DSV_DEFAULT_REGISTRY;
    const cases: [string, DockerReference][] = [
      ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
      ['busybox:1.36', { registry: 'docker.io', repository: 'library/busybox', tag: '1.36' }],
      ['library/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
      ['crashvb/dsv:v1', { registry: 'docker.io', repository: 'crashvb/dsv', tag: 'v1' }],
      ['docker.io/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
      ['index.docker.io/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
      ['registry-1.docker.io/a/b', { registry: 'docker.io', repository: 'a/b', tag: 'latest' }],
      [`busybox@${D}`, { registry: 'docker.io', repository: 'library/busybox', digest: D as never }],
      [`busybox:1@${D}`, { registry: 'docker.io', repository: 'library/busybox', tag: '1', digest: D as never }],
      ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
    ];
    for (const [input, want] of cases) expect(parseDockerReference(input), input).toEqual(want);
  });

  it('recognises hosts: a dot, a port, localhost, IPv6', () => {
    const cases: [string, DockerReference][] = [
      ['localhost/foo', { registry: 'localhost', repository: 'foo', tag: 'latest' }],
      ['localhost:5000/foo/bar:t', { registry: 'localhost:5000', repository: 'foo/bar', tag: 't' }],
      ['quay.io/org/app', { registry: 'quay.io', repository: 'org/app', tag: 'latest' }],
      ['127.0.0.1:5000/x', { registry: '127.0.0.1:5000', repository: 'x', tag: 'latest' }],
      ['[::1]:5000/x:y', { registry: '[::1]:5000', repository: 'x', tag: 'y' }],
      ['[fe80::1]/x', { registry: '[fe80::1]', repository: 'x', tag: 'latest' }],
      ['Registry.Example.com/x', { registry: 'Registry.Example.com', repository: 'x', tag: 'latest' }],
      ['myhost:443/a', { registry: 'myhost:443', repository: 'a', tag: 'latest' }],
    ];
    for (const [input, want] of cases) expect(parseDockerReference(input), input).toEqual(want);
  });

  it('uses the default registry option, else docker.io; the environment is the runtime\'s to read', () => {
    process.env.DSV_DEFAULT_REGISTRY = 'registry.local:5000';
    expect(parseDockerReference('app')).toEqual({ registry: 'docker.io', repository: 'library/app', tag: 'latest' });
    expect(parseDockerReference('app', { defaultRegistry: 'registry.local:5000' })).toEqual({ registry: 'registry.local:5000', repository: 'app', tag: 'latest' });
    expect(parseDockerReference('app', { defaultRegistry: 'localhost' })).toEqual({ registry: 'localhost', repository: 'app', tag: 'latest' });
    expect(parseDockerReference('app', { defaultRegistry: 'index.docker.io' })).toEqual({
      registry: 'docker.io',
      repository: 'library/app',
      tag: 'latest',
    });
    // a dotless default would print as a Docker Hub namespace
    expectInvalid('app', /must contain/, { defaultRegistry: 'myhost' });
  });

  it('rejects malformed references with a message naming the input', () => {
    expectInvalid('', /empty/);
    expectInvalid('Busybox', /repository name must be lowercase/);
    expectInvalid('MyOrg/app', /repository name must be lowercase/);
    expectInvalid('quay.io/Org/app', /"quay\.io\/Org\/app".*must be lowercase/);
    expectInvalid('busybox:-bad', /tag "-bad"/);
    expectInvalid('busybox:.bad', /tag/);
    expectInvalid(`busybox:${'a'.repeat(129)}`, /tag/);
    expectInvalid('busybox:a:b', /tag/);
    expectInvalid('busybox:', /tag/);
    expectInvalid('busybox:bad/tag', /host/);
    expectInvalid('bad name', /whitespace/);
    expectInvalid('a//b', /empty path component/);
    expectInvalid('a/', /empty path component/);
    expectInvalid('/a');
    expectInvalid('quay.io/', /missing repository/);
    expectInvalid('a..b', /component/);
    expectInvalid('a-', /component/);
    expectInvalid('-a', /component/);
    expectInvalid('a___b', /component/);
    expectInvalid('a@sha256:abc', /sha256 needs 64/);
    expectInvalid(`a@sha256:${'A'.repeat(64)}`, /lower-case hex/);
    expectInvalid(`a@md5:${'a'.repeat(32)}`, /unsupported algorithm/);
    expectInvalid('a@sha256:../../x', /invalid digest/);
    expectInvalid(`a@${D}@${D}`, /more than one "@"/);
    expectInvalid('exa_mple.com/a', /host/);
    expectInvalid('example.com:99999/a', /port/);
    expectInvalid('-example.com/a', /host/);
    expectInvalid(`example.com/${'a'.repeat(250)}`, /longer than 255/);
    expectInvalid('a'.repeat(250), /longer than 255/); // docker.io/library/ pushes it over
  });

  it('accepts the separators the grammar allows', () => {
    for (const repo of ['a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a0/b1.c2_d3__e4-f5']) {
      expect(parseDockerReference(`example.com/${repo}`).repository).toBe(repo);
    }
    expect(parseDockerReference(`busybox:${'A'.repeat(128)}`).tag).toHaveLength(128);
    expect(parseDockerReference('busybox:_x.Y-z').tag).toBe('_x.Y-z');
  });
});

describe('formatDockerReference / familiarName', () => {
  it('round-trips', () => {
    for (const input of ['busybox', 'a/b:c', `x.io:5000/p/q@${D}`, `[::1]:5000/x:y@${D}`, 'localhost/foo:bar']) {
      const ref = parseDockerReference(input);
      expect(parseDockerReference(formatDockerReference(ref))).toEqual(ref);
    }
    expect(formatDockerReference(parseDockerReference('busybox'))).toBe('docker.io/library/busybox:latest');
  });

  it('gives docker-style short names', () => {
    expect(familiarName(parseDockerReference('busybox'))).toBe('busybox:latest');
    expect(familiarName(parseDockerReference('docker.io/library/busybox:1'))).toBe('busybox:1');
    expect(familiarName(parseDockerReference('org/app:1'))).toBe('org/app:1');
    expect(familiarName(parseDockerReference(`busybox@${D}`))).toBe(`busybox@${D}`);
    expect(familiarName(parseDockerReference('quay.io/org/app:1'))).toBe('quay.io/org/app:1');
    expect(familiarName({ registry: 'docker.io', repository: 'library/a/b', tag: 'x' })).toBe('library/a/b:x');
  });
});

describe('dockerNamespaces', () => {
  it('the name, each parent namespace, the host, then its parent domains with the port dropped', () => {
    expect(dockerNamespaces('reg.example.com:5000/team/app')).toEqual([
      'reg.example.com:5000/team/app', 'reg.example.com:5000/team', 'reg.example.com:5000', '*.example.com', '*.com',
    ]);
  });
  it('no wildcard domains for a host without dots or an IP literal', () => {
    expect(dockerNamespaces('localhost:5000/a')).toEqual(['localhost:5000/a', 'localhost:5000']);
    expect(dockerNamespaces('[::1]:5000/a')).toEqual(['[::1]:5000/a', '[::1]:5000']);
  });
});
