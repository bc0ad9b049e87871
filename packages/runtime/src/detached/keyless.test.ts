// The keyless flags → the sigstoreSigned requirement they mean: identity and issuer both required, one trust
// material, files checked first; --sign-identity → exactRepository / exactReference.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { firstKeylessFlag, keylessRequirement, signedIdentityMatcher } from './keyless.js';

const FIX = fileURLToPath(new URL('../../../signature-cosign/fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dsv-keyless-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ID = { certificateIdentity: 'mitr@redhat.com', certificateOidcIssuer: 'https://github.com/login/oauth' };
const CA = join(FIX, 'fulcio_v1.crt.pem');
const REKOR = join(FIX, 'rekor.pub');
const M = { type: 'matchRepoDigestOrExact' } as const;

describe('keylessRequirement', () => {
  it('--ca-roots + --rekor-public-key: a fulcio requirement with the CA and the Rekor key as paths', async () => {
    const r = await keylessRequirement({ ...ID, caRoots: CA, rekorPublicKey: REKOR }, M);
    expect(r).toEqual({
      type: 'sigstoreSigned', keys: [], signedIdentity: M,
      fulcio: { subjectEmail: ID.certificateIdentity, oidcIssuer: ID.certificateOidcIssuer, ca: { kind: 'path', path: CA } },
      rekorPublicKeys: [{ kind: 'path', path: REKOR }],
    });
  });

  it('patterns travel as patterns', async () => {
    const r = await keylessRequirement({ certificateIdentityRegexp: '.*@redhat\\.com', certificateOidcIssuerRegexp: 'https://github\\.com/.*', caRoots: CA, rekorPublicKey: REKOR }, M);
    expect(r.fulcio).toMatchObject({ subjectRegExp: '.*@redhat\\.com', oidcIssuerRegExp: 'https://github\\.com/.*' });
  });

  it('a trusted root is parsed before it is used', async () => {
    const p = join(dir, 'root.json');
    writeFileSync(p, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [] }));
    await expect(keylessRequirement({ ...ID, trustedRoot: p }, M)).rejects.toThrow(`--trusted-root ${p}: names no certificateAuthorities`);
  });

  it.each([
    [{ certificateIdentity: 'a@b.c', caRoots: CA, rekorPublicKey: REKOR }, 'needs --certificate-oidc-issuer'],
    [{ certificateOidcIssuer: 'https://i', caRoots: CA, rekorPublicKey: REKOR }, 'needs --certificate-identity'],
    [{ ...ID }, 'needs --trusted-root FILE, or --ca-roots FILE with --rekor-public-key FILE'],
    [{ ...ID, rekorPublicKey: REKOR }, '--rekor-public-key needs --ca-roots'],
    [{ ...ID, caRoots: REKOR, rekorPublicKey: REKOR }, 'no certificate found'],
    [{ ...ID, caRoots: CA, rekorPublicKey: join(dir, 'missing.pub') }, 'missing.pub: no such file'],
    [{ ...ID, certificateOidcIssuerRegexp: 'x', caRoots: CA, rekorPublicKey: REKOR }, '--certificate-oidc-issuer and --certificate-oidc-issuer-regexp cannot be combined'],
    [{ ...ID, certificateIdentity: '', caRoots: CA, rekorPublicKey: REKOR }, '--certificate-identity needs a value'],
  ])('%j: usage error "%s"', async (flags, message) => {
    await expect(keylessRequirement(flags, M)).rejects.toThrow(message);
  });

  it('firstKeylessFlag names the first flag given', () => {
    expect(firstKeylessFlag({})).toBeUndefined();
    expect(firstKeylessFlag({ trustedRoot: 'x', certificateOidcIssuer: 'y' })).toBe('--certificate-oidc-issuer');
  });
});

describe('signedIdentityMatcher (--sign-identity)', () => {
  it.each([
    [undefined, { type: 'matchRepoDigestOrExact' }],
    ['registry.example.com/app', { type: 'exactRepository', dockerRepository: 'registry.example.com/app' }],
    ['localhost:5000/team/app', { type: 'exactRepository', dockerRepository: 'localhost:5000/team/app' }],
    ['registry.example.com/app:1.0', { type: 'exactReference', dockerReference: 'registry.example.com/app:1.0' }],
    ['localhost:5000/app@sha256:' + 'a'.repeat(64), { type: 'exactReference', dockerReference: 'localhost:5000/app@sha256:' + 'a'.repeat(64) }],
  ])('%s → %j', (input, matcher) => {
    expect(signedIdentityMatcher(input)).toEqual(matcher);
  });

  it('a value that is no reference is a usage error', () => {
    expect(() => signedIdentityMatcher('Not A Reference')).toThrow(/^--sign-identity "Not A Reference" is not an image reference/);
  });
});
