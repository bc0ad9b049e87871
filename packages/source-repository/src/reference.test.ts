import { describe, expect, test } from 'vitest';
import { isDsvError } from '@dsv/core/formats';
import { familiarName, formatLocalImageRef, parseLocalImageRef } from './reference.js';
import { dockerDaemonTransport, dockerStorageTransport } from './index.js';

describe('local image references', () => {
  test('names, tags, digests and ids', () => {
    expect(parseLocalImageRef('busybox', 't')).toEqual({ kind: 'name', repository: 'busybox', tag: 'latest', digest: undefined });
    expect(parseLocalImageRef('docker.io/library/busybox:1.36', 't')).toEqual({ kind: 'name', repository: 'busybox', tag: '1.36', digest: undefined });
    expect(parseLocalImageRef('localhost:5000/team/app:v1', 't')).toMatchObject({ repository: 'localhost:5000/team/app', tag: 'v1' });
    const dg = `sha256:${'a'.repeat(64)}`;
    expect(parseLocalImageRef(`app@${dg}`, 't')).toEqual({ kind: 'name', repository: 'app', tag: undefined, digest: dg });
    expect(parseLocalImageRef(dg, 't')).toEqual({ kind: 'id', id: dg });
    expect(parseLocalImageRef('0123abcd', 't')).toEqual({ kind: 'id', id: '0123abcd' });
    expect(formatLocalImageRef(parseLocalImageRef('docker.io/me/app', 't'))).toBe('me/app:latest');
    expect(familiarName('library/alpine')).toBe('alpine');
    expect(familiarName('example.com/library/alpine')).toBe('example.com/library/alpine');
  });

  test('invalid references are ReferenceInvalid naming the problem', () => {
    for (const bad of ['', 'app/UPPER', 'a b', 'app:bad tag', 'app@sha256:123', 'sha256:xyz', 'app:', 'a//b', `x:${'t'.repeat(200)}`]) {
      let err: unknown;
      try {
        parseLocalImageRef(bad, 'docker-daemon');
      } catch (e) {
        err = e;
      }
      expect(isDsvError(err, 'ReferenceInvalid'), bad).toBe(true);
    }
  });

  test('transports round-trip their references', () => {
    for (const t of [dockerDaemonTransport, dockerStorageTransport]) {
      const r = t.parseReference('team/app:1');
      expect(r.toString()).toBe(`${t.name}:team/app:1`);
      expect(t.parseReference(r.within).toString()).toBe(r.toString());
    }
  });
});
