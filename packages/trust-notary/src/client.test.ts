// NotaryClient against crafted collections: the happy paths, and hostile metadata that must fail with a clear DsvError and pin nothing.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core';
import { NotaryClient, assertManifestMatches, type NotaryClientOptions } from './index.js';
import { buildRepo, makeKey, serve, targetMeta, type RepoSpec } from './__tests__/fixture.js';

const GUN = '127.0.0.1:5000/library/app';
const MANIFEST = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}';
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const rootKey = makeKey('ecdsa');
const base = (): RepoSpec => ({
  rootKeys: [rootKey],
  targetsKey: makeKey('ed25519'),
  snapshotKey: makeKey('rsa'),
  timestampKey: makeKey('ecdsa'),
  targets: { latest: targetMeta(MANIFEST) },
});
const pinned = (trustDir: string, role = 'root') => join(trustDir, 'tuf', GUN, 'metadata', `${role}.json`);

function client(files: () => Map<string, Uint8Array>, extra: Partial<NotaryClientOptions> = {}, log?: string[]) {
  const trustDir = mkdtempSync(join(tmpdir(), 'dsv-trust-'));
  dirs.push(trustDir);
  return { trustDir, c: new NotaryClient({ server: 'https://notary.test', trustDir, request: serve(GUN, files, log), ...extra }) };
}

async function failsWith(p: Promise<unknown>, code: string, msg: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(DsvError);
  expect((e as DsvError).code).toBe(code);
  expect((e as DsvError).message).toMatch(msg);
}

describe('NotaryClient', () => {
  it('verifies a tag signed by the targets role (ecdsa, ed25519, rsapss) and pins the root on first use', async () => {
    const spec = base();
    const files = buildRepo(spec);
    const log: string[] = [];
    const { c, trustDir } = client(() => files, {}, log);
    const v = await c.verifyTag(GUN, 'latest');
    expect(v.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(v.length).toBe(MANIFEST.length);
    expect(v.role).toBe('targets');
    expect(v.keyIds).toEqual([spec.targetsKey.id]);
    expect(Object.keys(v.expiries).sort()).toEqual(['root', 'snapshot', 'targets', 'timestamp']);
    assertManifestMatches(v, Buffer.from(MANIFEST));
    expect(() => assertManifestMatches(v, Buffer.from(MANIFEST + ' '))).toThrow(/serves sha256:/);
    expect(readFileSync(pinned(trustDir))).toEqual(Buffer.from(files.get('root')!));
    // Documents named by a parent are fetched by checksum (consistent names).
    expect(log.some((u) => /snapshot\.[0-9a-f]{64}\.json$/.test(u))).toBe(true);
    expect(log.some((u) => /targets\.[0-9a-f]{64}\.json$/.test(u))).toBe(true);
  });

  it('attributes a tag to the delegation that signs it, and inspect lists roles and keys', async () => {
    const spec = base();
    const alice = makeKey('ecdsa');
    const releases = makeKey('ecdsa');
    spec.targets = {};
    spec.delegations = [
      { name: 'targets/releases', key: releases, paths: [''], targets: { v1: targetMeta(MANIFEST) } },
      { name: 'targets/alice', key: alice, paths: [''], targets: { v1: targetMeta(MANIFEST) } },
    ];
    const files = buildRepo(spec);
    const { c } = client(() => files);
    const v = await c.verifyTag(GUN, 'v1');
    expect(v.role).toBe('targets/releases');
    expect(v.keyIds).toEqual([releases.id]);
    expect(v.signers).toEqual(['targets/releases', 'targets/alice']);
    const s = await c.inspect(GUN);
    expect(s.root.keyIds).toEqual([rootKey.id]);
    expect(s.targets.keyIds).toEqual([spec.targetsKey.id]);
    expect(s.delegations.map((d) => [d.role, d.keyIds])).toEqual([['targets/releases', [releases.id]], ['targets/alice', [alice.id]]]);
    expect(s.tags).toEqual([{ tag: 'v1', digest: v.digest, length: MANIFEST.length, role: 'targets/releases', signers: ['targets/releases', 'targets/alice'] }]);
  });

  it('refuses an unsigned tag', async () => {
    const files = buildRepo(base());
    await failsWith(client(() => files).c.verifyTag(GUN, 'nope'), 'NoSignatures', /no signed trust data for .*:nope/);
  });

  it('refuses an expired timestamp (judged by the given clock) and pins nothing', async () => {
    const files = buildRepo({ ...base(), timestampExpires: '2029-01-01T00:00:00Z' });
    const { c, trustDir } = client(() => files, { now: () => new Date('2029-06-01T00:00:00Z') });
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /timestamp expired/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('refuses a document over its size cap', async () => {
    const files = buildRepo(base());
    const { c, trustDir } = client(() => files, { limits: { timestamp: 100 } });
    await failsWith(c.verifyTag(GUN, 'latest'), 'LimitExceeded', /timestamp is larger than 100 bytes/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('refuses a root whose threshold is not met', async () => {
    const files = buildRepo({ ...base(), rootKeys: [rootKey, makeKey('ecdsa')], rootThreshold: 2, rootSignedBy: [rootKey] });
    const { c, trustDir } = client(() => files);
    await failsWith(c.verifyTag(GUN, 'latest'), 'SignatureInvalid', /root: 1 valid signature\(s\), threshold is 2/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('refuses a key id that does not match its key', async () => {
    const liar = { ...makeKey('ecdsa'), id: 'ab'.repeat(32) };
    const files = buildRepo({ ...base(), rootKeys: [liar] });
    const { c, trustDir } = client(() => files);
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /key id abab.* does not match its key/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('refuses a snapshot naming a targets version lower than the cached one, keeping the cache', async () => {
    const spec = base();
    let files = buildRepo({ ...spec, version: 2, snapshotMetaExtra: { targets: { version: 2 } } });
    const { c, trustDir } = client(() => files);
    await c.verifyTag(GUN, 'latest');
    const cachedTs = readFileSync(pinned(trustDir, 'timestamp'));
    files = buildRepo({ ...spec, version: 3, snapshotMetaExtra: { targets: { version: 1 } } });
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /snapshot names targets version 1, lower than the cached version 2/);
    expect(readFileSync(pinned(trustDir, 'timestamp'))).toEqual(cachedTs);
  });

  it('refuses metadata going back in version (timestamp rollback)', async () => {
    const spec = base();
    let files = buildRepo({ ...spec, version: 5 });
    const { c } = client(() => files);
    await c.verifyTag(GUN, 'latest');
    files = buildRepo({ ...spec, version: 4 });
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /timestamp went back from version 5 to 4/);
  });

  it('refuses a delegation signing a target outside its paths', async () => {
    const spec = base();
    spec.delegations = [{ name: 'targets/releases', key: makeKey('ecdsa'), paths: ['v1'], targets: { latest: targetMeta(MANIFEST) } }];
    const files = buildRepo(spec);
    const { c, trustDir } = client(() => files);
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /delegation targets\/releases signs "latest", outside its paths/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('refuses a delegation signed by a key it does not delegate to', async () => {
    const spec = base();
    spec.delegations = [{ name: 'targets/releases', key: makeKey('ecdsa'), paths: [''], targets: { latest: targetMeta(MANIFEST) }, signWith: [makeKey('ecdsa')] }];
    const files = buildRepo(spec);
    await failsWith(client(() => files).c.verifyTag(GUN, 'latest'), 'SignatureInvalid', /targets\/releases: 0 valid/);
  });

  it('refuses a redirect to another host', async () => {
    const { c, trustDir } = client(() => new Map(), {
      request: async () => new Response(null, { status: 307, headers: { location: 'https://evil.test/v2/x/_trust/tuf/root.json' } }),
    });
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /redirected .* to another host \(evil\.test\)/);
    expect(existsSync(pinned(trustDir))).toBe(false);
  });

  it('follows a root rotation only when the pinned root signs it', async () => {
    const spec = base();
    let files = buildRepo(spec);
    const { c, trustDir } = client(() => files);
    await c.verifyTag(GUN, 'latest');
    const newRoot = makeKey('ecdsa');
    files = buildRepo({ ...spec, rootKeys: [newRoot], rootVersion: 2 });
    await failsWith(c.verifyTag(GUN, 'latest'), 'SignatureInvalid', /root \(by the pinned root\): 0 valid/);
    // Signed by both the old and the new root key: followed, and pinned.
    files = buildRepo({ ...spec, rootKeys: [newRoot], rootVersion: 2, rootSignedBy: [newRoot, rootKey] });
    const v = await c.verifyTag(GUN, 'latest');
    expect(v.role).toBe('targets');
    expect(readFileSync(pinned(trustDir))).toEqual(Buffer.from(files.get('root')!));
    files = buildRepo(spec);
    await failsWith(c.verifyTag(GUN, 'latest'), 'Untrusted', /root went back from version 2 to 1/);
  });

  it('walks a rotation through the intermediate root versions the server keeps', async () => {
    const spec = base();
    let files = buildRepo(spec);
    const { c, trustDir } = client(() => files);
    await c.verifyTag(GUN, 'latest');
    const k2 = makeKey('ecdsa');
    const k3 = makeKey('ecdsa');
    const v2 = buildRepo({ ...spec, rootKeys: [k2], rootVersion: 2, rootSignedBy: [rootKey, k2] }).get('root')!;
    const v3 = buildRepo({ ...spec, rootKeys: [k3], rootVersion: 3, rootSignedBy: [k2, k3] });
    files = v3;
    // Without version 2, version 3 is not signed by the pinned root.
    await failsWith(c.verifyTag(GUN, 'latest'), 'SignatureInvalid', /root \(by the pinned root\): 0 valid/);
    files = new Map(v3).set('2.root', v2);
    expect((await c.verifyTag(GUN, 'latest')).role).toBe('targets');
    expect(readFileSync(pinned(trustDir))).toEqual(Buffer.from(v3.get('root')!));
    // A version 2 not signed by version 1 breaks the chain.
    const forged = buildRepo({ ...spec, rootKeys: [k2], rootVersion: 2, rootSignedBy: [k2] }).get('root')!;
    const { c: c2 } = client(() => files);
    files = buildRepo(spec);
    await c2.verifyTag(GUN, 'latest');
    files = new Map(v3).set('2.root', forged);
    await failsWith(c2.verifyTag(GUN, 'latest'), 'SignatureInvalid', /root version 2 \(by version 1\): 0 valid/);
  });
});
