import { describe, expect, it } from 'vitest';
import { matchIdentity } from './identity.js';
import type { IdentityMatcher } from './model.js';

const D = `sha256:${'1'.repeat(64)}`;
const E = `sha256:${'2'.repeat(64)}`;
const ok = (m: IdentityMatcher, image: string | undefined, signed: string) => matchIdentity(m, image, signed).ok;

describe('identity matchers', () => {
  it('matchExact: the same tagged or digested reference, nothing else', () => {
    const m: IdentityMatcher = { type: 'matchExact' };
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app:1')).toBe(true);
    expect(ok(m, 'busybox:latest', 'docker.io/library/busybox:latest')).toBe(true);
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app:2')).toBe(false);
    expect(ok(m, `example.com/ns/app@${D}`, `example.com/ns/app@${D}`)).toBe(true);
    expect(ok(m, `example.com/ns/app@${D}`, 'example.com/ns/app:1')).toBe(false);
    expect(ok(m, 'example.com/ns/app', 'example.com/ns/app')).toBe(false);
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app')).toBe(false);
  });

  it('matchRepoDigestOrExact: exact for a tagged image, any identity in the repository for a digested one', () => {
    const m: IdentityMatcher = { type: 'matchRepoDigestOrExact' };
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app:1')).toBe(true);
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app:2')).toBe(false);
    expect(ok(m, `example.com/ns/app@${D}`, 'example.com/ns/app:7')).toBe(true);
    expect(ok(m, `example.com/ns/app@${D}`, `example.com/ns/app@${E}`)).toBe(true);
    expect(ok(m, `example.com/ns/app@${D}`, 'example.com/ns/other:7')).toBe(false);
    expect(ok(m, `example.com/ns/app:1@${D}`, 'example.com/ns/app:1')).toBe(false);
    expect(ok(m, `example.com/ns/app:1@${D}`, `example.com/ns/app:1@${D}`)).toBe(true);
    expect(ok(m, 'example.com/ns/app', 'example.com/ns/app:latest')).toBe(false);
  });

  it('matchRepository: the same repository whatever tag or digest', () => {
    const m: IdentityMatcher = { type: 'matchRepository' };
    expect(ok(m, 'example.com/ns/app:1', `example.com/ns/app@${D}`)).toBe(true);
    expect(ok(m, 'busybox:1', 'docker.io/library/busybox')).toBe(true);
    expect(ok(m, 'example.com/ns/app:1', 'example.com/ns/app2:1')).toBe(false);
  });

  it('exactReference and exactRepository ignore the image reference (usable for path transports)', () => {
    expect(ok({ type: 'exactReference', dockerReference: 'example.com/a:1' }, undefined, 'example.com/a:1')).toBe(true);
    expect(ok({ type: 'exactReference', dockerReference: 'example.com/a:1' }, 'other.com/b:2', 'example.com/a:2')).toBe(false);
    expect(ok({ type: 'exactReference', dockerReference: 'example.com/a:1' }, undefined, 'example.com/a')).toBe(false);
    expect(ok({ type: 'exactRepository', dockerRepository: 'example.com/a' }, undefined, `example.com/a@${D}`)).toBe(true);
    expect(ok({ type: 'exactRepository', dockerRepository: 'example.com/a' }, undefined, 'example.com/b:1')).toBe(false);
  });

  it('remapIdentity: rewrites the image prefix, then matchRepoDigestOrExact; prefixes stop at component boundaries', () => {
    const m: IdentityMatcher = { type: 'remapIdentity', prefix: 'private-mirror:5000/vendor-mirror', signedPrefix: 'vendor.example.com' };
    expect(ok(m, 'private-mirror:5000/vendor-mirror/app:1', 'vendor.example.com/app:1')).toBe(true);
    expect(ok(m, 'private-mirror:5000/vendor-mirror/app:1', 'private-mirror:5000/vendor-mirror/app:1')).toBe(false);
    expect(ok(m, `private-mirror:5000/vendor-mirror/ns/app@${D}`, 'vendor.example.com/ns/app:9')).toBe(true);
    expect(ok(m, 'private-mirror:5000/vendor-mirrorx/app:1', 'vendor.example.comx/app:1')).toBe(false);
    expect(ok(m, 'private-mirror:5000/vendor-mirrorx/app:1', 'private-mirror:5000/vendor-mirrorx/app:1')).toBe(true);
    const repo: IdentityMatcher = { type: 'remapIdentity', prefix: 'mirror.example/app', signedPrefix: 'upstream.example/app' };
    expect(ok(repo, 'mirror.example/app:3', 'upstream.example/app:3')).toBe(true);
  });

  it('an invalid signed identity or no image reference is a reasoned rejection', () => {
    expect(matchIdentity({ type: 'matchRepository' }, 'a.com/b:1', 'UPPERCASEISINVALID')).toEqual({ ok: false, reason: expect.stringContaining('not a valid docker reference') });
    expect(matchIdentity({ type: 'matchRepoDigestOrExact' }, undefined, 'a.com/b:1').reason).toContain('no docker reference');
  });
});
