// Canonical JSON and key ids, the other signature schemes, x509 keys, fetch fallbacks, token auth, and more hostile input.
import { execFileSync } from 'node:child_process';
import { constants, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core';
import { NotaryClient, bearerAuthorizer, canonicalKeyId, keyId, notaryCanonicalJson, parseChallenge, type RequestFunction } from './index.js';
import { loadKey, verifySignature } from './keys.js';
import { buildRepo, makeKey, serve, targetMeta, type RepoSpec } from './__tests__/fixture.js';

const GUN = 'registry.test/team/app';
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'dsv-trust-x-'));
  dirs.push(d);
  return d;
};
const spec = (): RepoSpec => ({ rootKeys: [makeKey()], targetsKey: makeKey(), snapshotKey: makeKey(), timestampKey: makeKey('ed25519'), targets: { latest: targetMeta('{}') } });
async function codeOf(p: Promise<unknown>): Promise<[string, string]> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(DsvError);
  return [(e as DsvError).code, (e as DsvError).message];
}

describe('canonical JSON and key ids', () => {
  it('sorts keys, drops whitespace, escapes like Go without HTML escaping, and refuses non-integers', () => {
    expect(notaryCanonicalJson({ b: [1, 'x'], a: { d: null, c: true }, '<&>': 'a"b\\c\n\u0001\u2028' })).toBe(
      '{"<&>":"a\\"b\\\\c\\n\\u0001\\u2028","a":{"c":true,"d":null},"b":[1,"x"]}',
    );
    expect(() => notaryCanonicalJson({ a: 1.5 })).toThrow(DsvError);
  });

  it('computes the key id over {"keytype","keyval":{"private":null,"public"}} whatever the document holds', () => {
    const k = { keytype: 'ed25519', keyval: { public: 'AAAA' } };
    const want = createHash('sha256').update('{"keytype":"ed25519","keyval":{"private":null,"public":"AAAA"}}').digest('hex');
    expect(keyId(k)).toBe(want);
    expect(keyId({ ...k, keyval: { public: 'AAAA', private: null } })).toBe(want);
  });

  it('gives an x509 key the canonical id of its bare public key (what the notary CLI shows)', () => {
    const d = tmp();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(d, 'k'), '-out', join(d, 'c'), '-days', '1', '-subj', '/CN=x'], { stdio: 'ignore' });
    const pem = readFileSync(join(d, 'c'));
    const x = { keytype: 'ecdsa-x509', keyval: { public: pem.toString('base64') } };
    const spki = loadKey(x, 'x').key.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(canonicalKeyId(x)).toBe(keyId({ keytype: 'ecdsa', keyval: { public: spki } }));
    expect(canonicalKeyId(x)).not.toBe(keyId(x));
  });
});

describe('signature schemes', () => {
  it('verifies rsapkcs1v15 and refuses a method that does not fit the key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = loadKey({ keytype: 'rsa', keyval: { public: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') } }, 'r');
    const data = Buffer.from('payload');
    const sig = sign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    expect(verifySignature(k, 'rsapkcs1v15', data, sig)).toBe(true);
    expect(verifySignature(k, 'rsapss', data, sig)).toBe(false);
    expect(verifySignature(k, 'ecdsa', data, sig)).toBe(false);
    expect(verifySignature(k, 'rsapkcs1v15', Buffer.from('other'), sig)).toBe(false);
  });

  it('refuses an unknown key type and a malformed key', () => {
    expect(() => loadKey({ keytype: 'dsa', keyval: { public: 'AAAA' } }, 'x')).toThrow(/unsupported key type/);
    expect(() => loadKey({ keytype: 'ed25519', keyval: { public: 'AAAA' } }, 'x')).toThrow(/cannot be read/);
  });
});

describe('fetching', () => {
  it('falls back to plain names when the server offers no checksum names', async () => {
    const files = buildRepo(spec());
    const log: string[] = [];
    const plainOnly: RequestFunction = async (url, init) => (/\.[0-9a-f]{64}\.json$/.test(url) ? new Response(null, { status: 404 }) : serve(GUN, () => files, log)(url, init));
    const c = new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: plainOnly });
    expect((await c.verifyTag(GUN, 'latest')).role).toBe('targets');
    expect(log.some((u) => u.endsWith('/snapshot.json'))).toBe(true);
  });

  it('refuses a body over the cap even without a content-length, and a parent declaring an oversized document', async () => {
    const files = buildRepo(spec());
    const inner = serve(GUN, () => files);
    const chunked: RequestFunction = async (url, init) => {
      const r = await inner(url, init);
      return new Response(r.body, { status: r.status });
    };
    const [code, msg] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: chunked, limits: { root: 64 } }).verifyTag(GUN, 'latest'));
    expect([code, msg]).toEqual(['LimitExceeded', `${GUN} root is larger than 64 bytes`]);
    const [code2, msg2] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: inner, limits: { snapshot: 10 } }).verifyTag(GUN, 'latest'));
    expect(code2).toBe('LimitExceeded');
    expect(msg2).toMatch(/snapshot is declared \d+ bytes, over the 10-byte cap/);
  });

  it('refuses a snapshot whose bytes differ from what the timestamp names', async () => {
    const files = buildRepo(spec());
    const tampered = new Map(files);
    tampered.set('snapshot', Buffer.concat([files.get('snapshot')!.subarray(0, -1), Buffer.from(' ')]));
    const [code] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => tampered) }).verifyTag(GUN, 'latest'));
    expect(code).toBe('DigestMismatch');
  });

  it('answers a Bearer challenge through the token service, with the collection as scope', async () => {
    const files = buildRepo(spec());
    const inner = serve(GUN, () => files);
    const seen: string[] = [];
    const request: RequestFunction = async (url, init) => {
      if (url.startsWith('https://auth.test/token')) {
        seen.push(url, init.headers.authorization ?? '');
        return Response.json({ token: 'tok' });
      }
      if (init.headers.authorization !== 'Bearer tok')
        return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.test/token",service="notary"' } });
      return inner(url, init);
    };
    const authorize = bearerAuthorizer({ gun: GUN, request, credentials: async () => ({ username: 'u', password: 'p' }) });
    const c = new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request, authorize });
    expect((await c.verifyTag(GUN, 'latest')).role).toBe('targets');
    expect(new URL(seen[0]!).searchParams.get('scope')).toBe(`repository:${GUN}:pull`);
    expect(new URL(seen[0]!).searchParams.get('service')).toBe('notary');
    expect(seen[1]).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const [code] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request }).verifyTag(GUN, 'latest'));
    expect(code).toBe('AuthFailed');
  });

  it('parses challenges with quoted and bare values', () => {
    expect(parseChallenge('Bearer realm="https://a/t",service=reg,scope="repository:x:pull,push"')).toEqual({
      scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg', scope: 'repository:x:pull,push' },
    });
  });
});

describe('more hostile metadata', () => {
  it('refuses a delegation that is not a child of its delegator, and a nested one widening its parent paths', async () => {
    const s = spec();
    s.delegations = [{ name: 'targets/releases/../x', key: makeKey(), paths: [''], targets: {} }];
    const files = buildRepo(s);
    const [code, msg] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => files) }).verifyTag(GUN, 'latest'));
    expect(code).toBe('Untrusted');
    expect(msg).toMatch(/not its child/);
    const n = spec();
    n.delegations = [
      { name: 'targets/releases', key: makeKey(), paths: ['v1'], targets: {} },
      { name: 'targets/releases/team', key: makeKey(), paths: [''], targets: { latest: targetMeta('{}') }, parent: 'targets/releases' },
    ];
    const nested = buildRepo(n);
    const [code2, msg2] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => nested) }).verifyTag(GUN, 'latest'));
    expect([code2, msg2]).toEqual(['Untrusted', 'delegation targets/releases/team claims paths outside those of targets/releases']);
  });

  it('walks nested delegations within their parent paths', async () => {
    const n = spec();
    n.targets = {};
    const team = makeKey('ed25519');
    n.delegations = [
      { name: 'targets/releases', key: makeKey(), paths: ['v'], targets: { v1: targetMeta('{}') } },
      { name: 'targets/releases/team', key: team, paths: ['v2'], targets: { v2: targetMeta('{"a":1}') }, parent: 'targets/releases' },
    ];
    const files = buildRepo(n);
    const s = await new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => files) }).inspect(GUN);
    expect(s.tags.map((t) => [t.tag, t.role])).toEqual([['v1', 'targets/releases'], ['v2', 'targets/releases/team']]);
    expect(s.delegations.find((d) => d.role === 'targets/releases/team')?.signedBy).toEqual([team.id]);
  });

  it('refuses a GUN that would leave the trust dir', async () => {
    const c = new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve('x/../../y', () => buildRepo(spec())) });
    const [code] = await codeOf(c.verifyTag('x/../../y', 'latest'));
    expect(code).toBe('ReferenceInvalid');
  });

  it('refuses a wrong document type and malformed JSON', async () => {
    const files = buildRepo(spec());
    const swapped = new Map(files);
    swapped.set('timestamp', files.get('snapshot')!);
    const [code, msg] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => swapped) }).verifyTag(GUN, 'latest'));
    expect([code, msg]).toEqual(['SignatureInvalid', 'trust metadata timestamp: _type is "Snapshot", expected Timestamp']);
    swapped.set('root', Buffer.from('{'));
    const [code2] = await codeOf(new NotaryClient({ server: 'https://notary.test', trustDir: tmp(), request: serve(GUN, () => swapped) }).verifyTag(GUN, 'latest'));
    expect(code2).toBe('SignatureInvalid');
  });
});
