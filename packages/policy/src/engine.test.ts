import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core';
import { evaluatePolicy, formatVerdict } from './engine.js';
import type { KeyMaterial, PolicyImage, SignatureFact, SignatureFormat, SignatureRequirementType } from './model.js';
import { parsePolicy } from './parse.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'alice.key'), 'alice');
writeFileSync(join(dir, 'bob.key'), 'bob');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const MANIFEST = new TextEncoder().encode('{"schemaVersion":2}');
const DIGEST = digestOf(MANIFEST);
const IMAGE: PolicyImage = { transport: 'docker', dockerReference: 'example.com/ns/app:1', manifestDigest: DIGEST, manifestBytes: MANIFEST };

/** A fake signature: which key "made" it and what it claims; valid when that key is among the requirement's keys. */
interface FakeSig { key: string; identity?: string; digest?: string; expired?: boolean }

function fakeFormat(sigs: FakeSig[], types: SignatureRequirementType[] = ['signedBy'], name = 'fake'): SignatureFormat & { seenKeys: string[][] } {
  const seenKeys: string[][] = [];
  return {
    name,
    requirementTypes: types,
    seenKeys,
    async listSignatures() {
      return sigs.map((s, i) => ({ origin: `${name} ${i + 1}`, data: s }));
    },
    async verifySignature(c, keys: KeyMaterial[]): Promise<SignatureFact> {
      const s = c.data as FakeSig;
      const names = keys.map((k) => new TextDecoder().decode(k.bytes));
      seenKeys.push(names);
      const base = { keyId: s.key, identity: s.identity ?? 'example.com/ns/app:1', manifestDigest: s.digest ?? DIGEST };
      if (s.key === 'boom') throw new Error('verifier crashed\nwith detail');
      if (!names.includes(s.key)) return { ...base, valid: false, code: 'unknown-key', reason: `key ${s.key} is not trusted` };
      if (s.expired) return { ...base, valid: false, code: 'expired', reason: 'the signature is expired' };
      return { ...base, valid: true };
    },
  };
}

const policyWith = (reqs: unknown[]) => parsePolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { 'example.com/ns': reqs } } }));
const signedBy = (extra: Record<string, unknown> = {}) => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'alice.key', ...extra });
const run = (reqs: unknown[], formats: SignatureFormat[], image = IMAGE) => evaluatePolicy(policyWith(reqs), image, { formats, baseDir: dir });

describe('evaluatePolicy', () => {
  it('insecureAcceptAnything accepts, reject rejects, and every requirement of the scope must allow', async () => {
    expect((await run([{ type: 'insecureAcceptAnything' }], [])).allowed).toBe(true);
    const v = await run([{ type: 'insecureAcceptAnything' }, { type: 'reject' }], []);
    expect(v.allowed).toBe(false);
    expect(v.scope).toBe('transports.docker["example.com/ns"]');
    expect(v.requirements.map((r) => r.allowed)).toEqual([true, false]);
    expect((await evaluatePolicy(policyWith([{ type: 'reject' }]), { ...IMAGE, dockerReference: 'other.com/x:1' }, { formats: [] })).scope).toBe('default');
  }, 10_000);

  it('signedBy: one valid signature from an accepted key with a matching identity suffices (relative key paths from the policy dir)', async () => {
    const v = await run([signedBy()], [fakeFormat([{ key: 'mallory' }, { key: 'alice' }])]);
    expect(v.allowed).toBe(true);
    expect(v.requirements[0]!.reason).toMatch(/^fake 2 accepted: signed by key alice/);
    expect(v.requirements[0]!.signatures.map((s) => [s.accepted, s.code])).toEqual([[false, 'unknown-key'], [true, undefined]]);
  });

  it('says why each signature was rejected: wrong key, wrong identity, digest mismatch, expired', async () => {
    const v = await run([signedBy()], [fakeFormat([
      { key: 'bob' },
      { key: 'alice', identity: 'example.com/ns/app:2' },
      { key: 'alice', digest: `sha256:${'0'.repeat(64)}` },
      { key: 'alice', expired: true },
    ])]);
    expect(v.allowed).toBe(false);
    const r = v.requirements[0]!;
    expect(r.signatures.map((s) => s.code)).toEqual(['unknown-key', 'wrong-identity', 'digest-mismatch', 'expired']);
    expect(r.reason).toContain('fake 1: key bob is not trusted');
    expect(r.reason).toContain('fake 2: signed identity example.com/ns/app:2 does not match example.com/ns/app:1');
    expect(r.reason).toContain(`fake 3: the signature is for manifest sha256:${'0'.repeat(64)}`);
    expect(r.reason).toContain('fake 4: the signature is expired');
    expect(formatVerdict(v)).toMatch(/^rejected by transports\.docker\["example\.com\/ns"\]\n {2}signedBy: not satisfied: no signature was accepted/);
  });

  it('a digest of another algorithm is checked over the exact manifest bytes', async () => {
    const sha512 = digestOf(MANIFEST, 'sha512');
    expect((await run([signedBy()], [fakeFormat([{ key: 'alice', digest: sha512 }])])).allowed).toBe(true);
    const noBytes = { ...IMAGE, manifestBytes: undefined };
    expect((await run([signedBy()], [fakeFormat([{ key: 'alice', digest: sha512 }])], noBytes)).allowed).toBe(false);
  });

  it('an image reference without tag or digest is :latest, for identity matching as for scopes', async () => {
    const f = fakeFormat([{ key: 'alice', identity: 'example.com/ns/app:latest' }]);
    expect((await run([signedBy()], [f], { ...IMAGE, dockerReference: 'example.com/ns/app' })).allowed).toBe(true);
  });

  it('signedIdentity is honoured (matchRepository accepts another tag)', async () => {
    const f = fakeFormat([{ key: 'alice', identity: 'example.com/ns/app:other' }]);
    expect((await run([signedBy()], [f])).allowed).toBe(false);
    expect((await run([signedBy({ signedIdentity: { type: 'matchRepository' } })], [f])).allowed).toBe(true);
  });

  it('keyPaths and keyData: all listed keys are offered to the format', async () => {
    const f = fakeFormat([{ key: 'bob' }]);
    expect((await run([signedBy({ keyPath: undefined, keyPaths: ['alice.key', join(dir, 'bob.key')] })], [f])).allowed).toBe(true);
    expect(f.seenKeys[0]).toEqual(['alice', 'bob']);
    expect((await run([{ type: 'signedBy', keyType: 'GPGKeys', keyData: b64('bob') }], [fakeFormat([{ key: 'bob' }])])).allowed).toBe(true);
  });

  it('rejects with a reason: no signatures, no format for the requirement, unsupported keyType, unreadable key file, signedBaseLayer', async () => {
    const reason = async (reqs: unknown[], formats: SignatureFormat[]) => {
      const v = await run(reqs, formats);
      expect(v.allowed).toBe(false);
      return v.requirements[0]!.reason;
    };
    expect(await reason([signedBy()], [fakeFormat([])])).toBe('a signature was required, but the image has none');
    expect(await reason([signedBy()], [])).toBe('no signature format able to check signedBy is available');
    expect(await reason([signedBy({ keyType: 'X509Certificates' })], [fakeFormat([{ key: 'alice' }])])).toMatch(/keyType X509Certificates is not supported/);
    expect(await reason([signedBy({ keyPath: 'missing.key' })], [fakeFormat([{ key: 'alice' }])])).toBe(`key file ${join(dir, 'missing.key')} cannot be read (ENOENT)`);
    expect(await reason([{ type: 'signedBaseLayer', baseLayerIdentity: { type: 'exactRepository', dockerRepository: 'a.com/b' } }], [])).toMatch(/not implemented/);
  });

  it('a format that fails to list or to verify rejects, with its message', async () => {
    const failing: SignatureFormat = { name: 'broken', requirementTypes: ['signedBy'], listSignatures: async () => { throw new Error('store unreachable'); }, verifySignature: async () => ({ valid: true }) };
    const v = await run([signedBy()], [failing]);
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.reason).toContain('signatures could not be read: store unreachable');
    const crash = await run([signedBy({ keyData: b64('boom'), keyPath: undefined })], [fakeFormat([{ key: 'boom' }])]);
    expect(crash.requirements[0]!.signatures[0]!.reason).toBe('verifier crashed');
  });

  it('sigstoreSigned is judged through its plug-in with the same rules; a signedBy format is not used for it', async () => {
    const cosign = fakeFormat([{ key: 'alice' }], ['sigstoreSigned'], 'cosign');
    const req = { type: 'sigstoreSigned', keyPath: 'alice.key' };
    expect((await run([req], [cosign])).allowed).toBe(true);
    expect((await run([req], [fakeFormat([{ key: 'alice' }])])).requirements[0]!.reason).toBe('no signature format able to check sigstoreSigned is available');
  });

  it('dsvSigned: "any" needs one valid signature; "all" needs one per key (no identity to match)', async () => {
    const embedded = (sigs: FakeSig[]) => fakeFormat(sigs.map((s) => ({ ...s, identity: 'ignored.example/x:1' })), ['dsvSigned'], 'embedded');
    const any = { type: 'dsvSigned', keyPaths: ['alice.key', 'bob.key'] };
    const all = { ...any, require: 'all' };
    expect((await run([any], [embedded([{ key: 'alice' }])])).allowed).toBe(true);
    const v = await run([all], [embedded([{ key: 'alice' }])]);
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.reason).toMatch(/^no valid signature for bob\.key/);
    expect((await run([all], [embedded([{ key: 'bob' }, { key: 'alice' }])])).allowed).toBe(true);
  });

  it('signature formats list an image once per evaluation', async () => {
    let listed = 0;
    const f = fakeFormat([{ key: 'alice' }]);
    const counting: SignatureFormat = { ...f, listSignatures: async (i) => { listed++; return f.listSignatures(i); } };
    expect((await run([signedBy(), signedBy({ signedIdentity: { type: 'matchRepository' } })], [counting])).allowed).toBe(true);
    expect(listed).toBe(1);
  });
});
