// containerd: reference parsing: brackets for namespace and socket, tags, digests, and the errors.
import { describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core';
import { formatContainerdReference, parseContainerdReference } from './reference.js';
import { containerdTransport, createContainerdTransport, ContainerdReference } from './transport.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseContainerdReference', () => {
  it('reads NAME:TAG as the record name, defaulting the tag to latest', () => {
    expect(parseContainerdReference('docker.io/library/app:1')).toEqual({ name: 'docker.io/library/app:1', repository: 'docker.io/library/app', tag: '1', namespace: undefined, address: undefined, digest: undefined });
    expect(parseContainerdReference('docker.io/library/app')).toMatchObject({ name: 'docker.io/library/app:latest', untagged: 'docker.io/library/app' });
    expect(parseContainerdReference('localhost:5000/app').name).toBe('localhost:5000/app:latest');
    expect(parseContainerdReference('localhost:5000/app:v2').tag).toBe('v2');
  });

  it('reads a digest reference (with or without a tag) as the record name given', () => {
    const r = parseContainerdReference(`docker.io/library/app@${D}`);
    expect(r).toMatchObject({ name: `docker.io/library/app@${D}`, repository: 'docker.io/library/app', digest: D, tag: undefined });
    expect(parseContainerdReference(`example.com/x:1@${D}`)).toMatchObject({ tag: '1', digest: D, repository: 'example.com/x' });
  });

  it('reads [NAMESPACE] and [NAMESPACE@ADDRESS]', () => {
    expect(parseContainerdReference('[k8s.io]docker.io/library/app:1')).toMatchObject({ namespace: 'k8s.io', address: undefined, name: 'docker.io/library/app:1' });
    expect(parseContainerdReference('[moby@/run/docker/containerd/containerd.sock]example.com/a:b')).toMatchObject({
      namespace: 'moby',
      address: '/run/docker/containerd/containerd.sock',
      name: 'example.com/a:b',
    });
  });

  it('round-trips through formatContainerdReference', () => {
    expect(formatContainerdReference(parseContainerdReference('[ns]example.com/a'))).toBe('[ns]example.com/a:latest');
    for (const text of ['[ns@/tmp/c.sock]example.com/a:b', '[ns]example.com/a:b', 'example.com/a:b', `example.com/a@${D}`]) {
      expect(formatContainerdReference(parseContainerdReference(text))).toBe(text);
    }
  });

  it.each([
    ['', 'missing'],
    ['[ns', 'missing "]"'],
    ['[]app:1', 'bad namespace'],
    ['[bad ns]app:1', 'bad namespace'],
    ['[ns@relative.sock]app:1', 'absolute path'],
    ['[ns]', 'missing'],
    ['app@sha256:short', 'bad digest'],
    ['app:bad tag', 'malformed'],
    ['app:-x', 'bad tag'],
    ['example.com/:1', 'missing image name'],
  ])('rejects %j (%s)', (text, why) => {
    let err: unknown;
    try {
      parseContainerdReference(text);
    } catch (e) {
      err = e;
    }
    expect(isDsvError(err, 'ReferenceInvalid')).toBe(true);
    expect((err as Error).message).toContain(why);
  });
});

describe('the transport', () => {
  it('takes namespace and socket from the reference, else from its options, else the defaults', () => {
    const plain = containerdTransport.parseReference('example.com/a:1') as ContainerdReference;
    expect([plain.namespace, plain.address]).toEqual(['default', '/run/containerd/containerd.sock']);
    const t = createContainerdTransport({ namespace: 'moby', address: '/tmp/x.sock' });
    const opt = t.parseReference('example.com/a:1') as ContainerdReference;
    expect([opt.namespace, opt.address]).toEqual(['moby', '/tmp/x.sock']);
    const bracket = t.parseReference('[k8s.io]example.com/a:1') as ContainerdReference;
    expect([bracket.namespace, bracket.address]).toEqual(['k8s.io', '/tmp/x.sock']);
    expect(bracket.toString()).toBe('containerd:[k8s.io]example.com/a:1');
    expect(t.name).toBe('containerd');
  });
});
