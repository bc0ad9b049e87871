import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pythonJsonDumps } from './canonical-json.js';
import { ImageConfig } from './config.js';
import { digestOf, type Digest } from './digest.js';
import { isDsvError } from './errors.js';
import type { Signer, VerificationResult } from './signer.js';
import {
  addSignature,
  coveredDigest,
  readSignatures,
  removeSignatureEntries,
  SIGNATURES_LABEL,
  verifySignatures,
  withSignatures,
  type SignatureEntry,
} from './signatures.js';

// Vectors from crashvb/docker-sign-verify (Apache-2.0, tests/data); see fixtures/docker-sign-verify/README.md.
const fixtureUrl = (name: string) => new URL(`../fixtures/docker-sign-verify/${name}`, import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(fixtureUrl(name)));
const fixtureText = (name: string) => readFileSync(fixtureUrl(name), 'utf8');
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

// --- an in-test HMAC "signature" scheme -----------------------------------------------------------
const KEYS: Record<string, string> = { alice: 'k-alice', bob: 'k-bob', carol: 'k-carol', dave: 'k-dave' };
const mac = (key: string, data: Uint8Array) => createHmac('sha256', KEYS[key]!).update(data).digest('hex');

function hmacSigner(key: string, signed: Uint8Array[] = []): Signer {
  return {
    type: 'hmac',
    describeKey: async () => ({ type: 'hmac', keyId: key }),
    sign: async (data) => {
      signed.push(data);
      return `-----BEGIN HMAC SIGNATURE-----\n${key}:${mac(key, data)}\n-----END HMAC SIGNATURE-----`;
    },
  };
}

async function hmacVerify(data: Uint8Array, signature: string): Promise<VerificationResult> {
  const m = /^-----BEGIN HMAC SIGNATURE-----\n(\w+):([0-9a-f]{64})\n-----END HMAC SIGNATURE-----$/.exec(signature);
  if (!m) return { status: 'invalid', type: 'hmac', reason: 'not an HMAC signature' };
  const [, key, hex] = m;
  if (!KEYS[key!]) return { status: 'unknown-key', type: 'hmac', keyId: key };
  const ok = timingSafeEqual(Buffer.from(hex!, 'hex'), Buffer.from(mac(key!, data), 'hex'));
  return ok ? { status: 'valid', type: 'hmac', keyId: key } : { status: 'invalid', type: 'hmac', keyId: key, reason: 'bad MAC' };
}

const statuses = (checks: { result: VerificationResult }[]) => checks.map((c) => c.result.status);

describe('the docker-sign-verify signed vector', () => {
  const signed = () => ImageConfig.parse(fixture('config_signed.json'));

  it('readSignatures yields the fixture signature over the canonical digest of the unsigned config', () => {
    const entries = readSignatures(signed());
    expect(entries).toEqual([{ digest: fixtureText('config_canonical.json.digest').trim(), signature: fixtureText('signature') }]);
    expect(entries[0]!.digest).toMatch(/^sha256:cccbbb/);
  });

  it('withSignatures reproduces the label and the whole file byte for byte', () => {
    const config = signed();
    const entries = readSignatures(config);
    expect(pythonJsonDumps(entries)).toBe(config.labels[SIGNATURES_LABEL]);
    expect(withSignatures(config, entries).bytes).toEqual(fixture('config_signed.json'));
    // signing the unsigned config with the same entry gives the signed config's canonical form
    const fromUnsigned = withSignatures(ImageConfig.parse(fixture('config.json')), entries);
    expect(fromUnsigned.labels[SIGNATURES_LABEL]).toBe(config.labels[SIGNATURES_LABEL]);
    expect(fromUnsigned.canonicalDigest()).toBe(fixtureText('config_signed_canonical.json.digest').trim());
  });

  it('coveredDigest of the emptied list is the signed digest', () => {
    expect(coveredDigest(signed(), [])).toBe(fixtureText('config_canonical.json.digest').trim());
    expect(coveredDigest(ImageConfig.parse(fixture('config.json')), [])).toBe(fixtureText('config_canonical.json.digest').trim());
  });

  it('verification checks the GPG entry over its digest string and passes on the verifier result', async () => {
    const seen: string[] = [];
    const checks = await verifySignatures(signed(), async (data, sig) => {
      seen.push(dec(data));
      expect(sig).toBe(fixtureText('signature'));
      return { status: 'unknown-key', type: 'gpg', keyId: '9DD1BB948581B0AD' };
    });
    expect(seen).toEqual([fixtureText('config_canonical.json.digest').trim()]);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ index: 0, role: 'signature', digestMatches: true, result: { status: 'unknown-key' } });
    expect(checks[0]!.expectedDigest).toBe(fixtureText('config_canonical.json.digest').trim());
  });

  it('an endorsement made here equals what the original tool makes (vector computed with CPython)', async () => {
    const fake: Signer = {
      type: 'fake',
      describeKey: async () => ({ type: 'fake', keyId: 'x' }),
      sign: async () => '-----BEGIN FAKE SIGNATURE-----\nendorsed\n-----END FAKE SIGNATURE-----',
    };
    const { config, entry } = await addSignature(signed(), fake, 'endorse');
    expect(entry.digest).toBe(fixtureText('config_signed_canonical.json.digest').trim());
    // json.dumps of the whole endorsed config, as docker-sign-verify writes it
    expect(config.digest).toBe('sha256:8a6bceda01fa28708160eacd53255d29d2206f5bb5c0c5803b140f08f84735bb');
    const checks = await verifySignatures(config, async () => ({ status: 'valid', type: 'fake' }));
    expect(checks.map((c) => [c.role, c.digestMatches])).toEqual([
      ['signature', true],
      ['endorsement', true],
    ]);
  });
});

describe('sign / endorse / resign round trip', () => {
  const base = () => ImageConfig.parse(fixture('config.json'));

  async function build(): Promise<ImageConfig> {
    let c = base();
    c = (await addSignature(c, hmacSigner('alice'), 'sign')).config;
    c = (await addSignature(c, hmacSigner('bob'), 'sign')).config; // co-signature
    c = (await addSignature(c, hmacSigner('carol'), 'endorse')).config; // endorses alice + bob
    c = (await addSignature(c, hmacSigner('dave'), 'endorse')).config; // endorses all three
    return c;
  }

  it('signs the digest string, co-signs the signature-less config, endorses what came before', async () => {
    const signed: Uint8Array[] = [];
    const { config, entry } = await addSignature(base(), hmacSigner('alice', signed), 'sign');
    expect(dec(signed[0]!)).toBe(base().canonicalDigest());
    expect(entry.digest).toBe(base().canonicalDigest());
    const co = await addSignature(config, hmacSigner('bob'), 'sign');
    expect(co.entry.digest).toBe(entry.digest);
    expect(readSignatures(co.config)).toEqual([entry, co.entry]);
    const end = await addSignature(co.config, hmacSigner('carol'), 'endorse');
    expect(end.entry.digest).toBe(co.config.canonicalDigest());
    expect(end.entry.digest).toBe(coveredDigest(co.config, [entry, co.entry]));
  });

  it('verifies every entry with the right role, including an endorsement over N entries', async () => {
    const c = await build();
    const checks = await verifySignatures(c, hmacVerify);
    expect(checks.map((x) => [x.index, x.role, x.digestMatches, x.result.status, x.result.keyId])).toEqual([
      [0, 'signature', true, 'valid', 'alice'],
      [1, 'signature', true, 'valid', 'bob'],
      [2, 'endorsement', true, 'valid', 'carol'],
      [3, 'endorsement', true, 'valid', 'dave'],
    ]);
    const entries = readSignatures(c);
    expect(checks[3]!.expectedDigest).toBe(coveredDigest(c, entries.slice(0, 3)));
    // a co-signature appended after endorsements still covers the signature-less config
    const more = (await addSignature(c, hmacSigner('bob'), 'sign')).config;
    const again = await verifySignatures(more, hmacVerify);
    expect(again[4]).toMatchObject({ role: 'signature', digestMatches: true, result: { status: 'valid' } });
  });

  it('tampering with Env fails every entry from index 0', async () => {
    const c = await build();
    const tampered = ImageConfig.parse(enc(dec(c.bytes).replace('container=docker', 'container=evil')));
    expect(tampered.digest).not.toBe(c.digest);
    const checks = await verifySignatures(tampered, hmacVerify);
    expect(checks.map((x) => x.digestMatches)).toEqual([false, false, false, false]);
    expect(statuses(checks)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
    expect(checks[0]!.result.reason).toMatch(/changed after signing/);
    // the MAC itself still checks: the mismatch alone makes it invalid, key information is kept
    expect(checks[0]!.result.keyId).toBe('alice');
  });

  it('tampering with another label fails the walk at index 0', async () => {
    const c = await build();
    const checks = await verifySignatures(c.withLabel('release', '105'), hmacVerify);
    expect(checks[0]!.digestMatches).toBe(false);
    expect(statuses(checks)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
  });

  it('tampering with an entry fails that entry and the endorsements made after it', async () => {
    const c = await build();
    const entries = readSignatures(c);
    // replace bob's co-signature by one over other data
    const forged: SignatureEntry = { digest: entries[1]!.digest, signature: await hmacSigner('bob').sign(enc('sha256:other')) };
    const tampered = withSignatures(c, [entries[0]!, forged, entries[2]!, entries[3]!]);
    const checks = await verifySignatures(tampered, hmacVerify);
    expect(checks.map((x) => [x.digestMatches, x.result.status])).toEqual([
      [true, 'valid'],
      [true, 'invalid'], // bad MAC
      [false, 'invalid'], // carol endorsed the original list
      [false, 'invalid'],
    ]);
    // dropping an entry breaks the later endorsements too
    const dropped = await verifySignatures(withSignatures(c, [entries[0]!, entries[2]!, entries[3]!]), hmacVerify);
    expect(dropped.map((x) => x.digestMatches)).toEqual([true, false, false]);
  });

  it('an entry claiming a digest it was not made over is invalid even if its signature checks', async () => {
    const c = base();
    const other = `sha256:${'0'.repeat(64)}` as Digest;
    const entry: SignatureEntry = { digest: other, signature: await hmacSigner('alice').sign(enc(other)) };
    const checks = await verifySignatures(withSignatures(c, [entry]), hmacVerify);
    expect(checks[0]).toMatchObject({ role: 'signature', digestMatches: false, result: { status: 'invalid', keyId: 'alice' } });
    expect(checks[0]!.expectedDigest).toBe(c.canonicalDigest());
  });

  it('resign leaves one signature over the signature-less config', async () => {
    const c = await build();
    const { config, entry } = await addSignature(c, hmacSigner('alice'), 'resign');
    expect(readSignatures(config)).toEqual([entry]);
    expect(entry.digest).toBe(base().canonicalDigest());
    expect(statuses(await verifySignatures(config, hmacVerify))).toEqual(['valid']);
  });

  it('withSignatures([]) writes "[]" and leaves a config whose canonical form equals the unsigned one', async () => {
    const c = await build();
    const cleared = withSignatures(c, []);
    expect(cleared.labels[SIGNATURES_LABEL]).toBe('[]');
    expect(cleared.canonicalDigest()).toBe(base().canonicalDigest());
    expect(readSignatures(cleared)).toEqual([]);
  });
});

describe('removeSignatureEntries (revoking one key)', () => {
  const base = () => ImageConfig.parse(fixture('config.json'));
  const keyOf = (e: SignatureEntry) => /\n(\w+):/.exec(e.signature)![1];
  const by = (key: string) => (e: SignatureEntry) => keyOf(e) === key;

  it('removing one co-signer keeps the others valid without a signer; the image changes', async () => {
    let c = base();
    for (const k of ['alice', 'bob', 'carol']) c = (await addSignature(c, hmacSigner(k), 'sign')).config;
    const r = removeSignatureEntries(c, by('alice'));
    expect(r.removed).toEqual([0]);
    expect(r.dropped).toEqual([]);
    expect(r.kept.map(keyOf)).toEqual(['bob', 'carol']);
    expect(r.config.digest).not.toBe(c.digest);
    const checks = await verifySignatures(r.config, hmacVerify);
    expect(statuses(checks)).toEqual(['valid', 'valid']);
    expect(checks.map((x) => x.role)).toEqual(['signature', 'signature']);
    expect(r.config.canonicalBytesWithLabel(SIGNATURES_LABEL, '[]')).toEqual(c.canonicalBytesWithLabel(SIGNATURES_LABEL, '[]'));
  });

  it('an endorsement before the removed entry stays valid; one after it is dropped and said so', async () => {
    let c = base();
    c = (await addSignature(c, hmacSigner('alice'), 'sign')).config;
    c = (await addSignature(c, hmacSigner('carol'), 'endorse')).config; // covers alice
    c = (await addSignature(c, hmacSigner('bob'), 'sign')).config; // co-signature
    c = (await addSignature(c, hmacSigner('dave'), 'endorse')).config; // covers alice, carol, bob
    const r = removeSignatureEntries(c, by('bob'));
    expect(r.removed).toEqual([2]);
    expect(r.dropped).toEqual([3]);
    expect(r.kept.map(keyOf)).toEqual(['alice', 'carol']);
    expect(statuses(await verifySignatures(r.config, hmacVerify))).toEqual(['valid', 'valid']);
  });

  it('removing the first signer leaves the co-signers (the first of them now entry 0); nothing picked: the same config', async () => {
    let c = base();
    c = (await addSignature(c, hmacSigner('alice'), 'sign')).config;
    c = (await addSignature(c, hmacSigner('bob'), 'sign')).config;
    c = (await addSignature(c, hmacSigner('carol'), 'endorse')).config;
    const r = removeSignatureEntries(c, by('alice'));
    expect(r.kept.map(keyOf)).toEqual(['bob']);
    expect(r.dropped).toEqual([2]);
    expect(statuses(await verifySignatures(r.config, hmacVerify))).toEqual(['valid']);
    expect(removeSignatureEntries(c, by('zed')).config).toBe(c);
    const all = removeSignatureEntries(r.config, by('bob'));
    expect(all.config.labels[SIGNATURES_LABEL]).toBe('[]');
  });
});

describe('malformed and unusual signature labels', () => {
  const withLabel = (label: string | undefined) => {
    const labels = label === undefined ? {} : { [SIGNATURES_LABEL]: label };
    return ImageConfig.parse(enc(JSON.stringify({ config: { Labels: labels } })));
  };
  const D = `sha256:${'a'.repeat(64)}`;

  it('absent or empty is no signatures, and verification says so', async () => {
    expect(readSignatures(withLabel(undefined))).toEqual([]);
    expect(readSignatures(withLabel(''))).toEqual([]);
    expect(readSignatures(withLabel('[]'))).toEqual([]);
    await expect(verifySignatures(withLabel(''), hmacVerify)).rejects.toSatisfy((e) => isDsvError(e, 'NoSignatures'));
  });

  it('rejects malformed labels with ConfigInvalid', () => {
    for (const [label, why] of [
      ['not json', /not valid JSON/],
      ['{}', /list/],
      ['[1]', /entry 0 must be an object/],
      [`[{"signature": "x"}]`, /entry 0 has no "digest"/],
      [`[{"digest": "${D}"}]`, /entry 0 has no "signature"/],
      [`[{"digest": "${D}", "signature": 5}]`, /signature/],
      [`[{"digest": "sha256:../../x", "signature": "s"}]`, /entry 0: invalid digest/],
      [`[{"digest": "SHA256:${'A'.repeat(64)}", "signature": "s"}]`, /invalid digest/],
    ] as [string, RegExp][]) {
      try {
        readSignatures(withLabel(label));
        expect.unreachable(label);
      } catch (e) {
        expect(isDsvError(e, 'ConfigInvalid'), String(e)).toBe(true);
        expect((e as Error).message).toMatch(why);
      }
    }
  });

  it('re-serialises hand-written entries as Python would (member order and extra members kept)', async () => {
    const c = ImageConfig.parse(fixture('config.json'));
    const sig = await hmacSigner('alice').sign(enc(c.canonicalDigest()));
    const label = `[{"signature": ${JSON.stringify(sig)}, "digest": "${c.canonicalDigest()}", "note": 1.0}]`;
    const odd = c.withLabel(SIGNATURES_LABEL, label);
    const { config } = await addSignature(odd, hmacSigner('carol'), 'endorse');
    const checks = await verifySignatures(config, hmacVerify);
    expect(checks.map((x) => [x.role, x.digestMatches, x.result.status])).toEqual([
      ['signature', true, 'valid'],
      ['endorsement', true, 'valid'],
    ]);
    expect(checks[1]!.expectedDigest).toBe(digestOf(odd.canonicalBytesWithLabel(SIGNATURES_LABEL, label)));
  });

  it('refuses a signer that returns nothing and an unknown kind', async () => {
    const empty: Signer = { type: 'x', describeKey: async () => ({ type: 'x', keyId: 'x' }), sign: async () => '' };
    await expect(addSignature(withLabel(undefined), empty, 'sign')).rejects.toSatisfy((e) => isDsvError(e, 'PluginError'));
    await expect(addSignature(withLabel(undefined), hmacSigner('alice'), 'bogus' as never)).rejects.toSatisfy((e) => isDsvError(e, 'Usage'));
  });
});

import { isSignatureKind, SIGNATURE_KINDS } from './signatures.js';
describe('signature kinds', () => {
  it('knows exactly sign, endorse and resign', () => {
    expect(SIGNATURE_KINDS).toEqual(['sign', 'endorse', 'resign']);
    expect(SIGNATURE_KINDS.every(isSignatureKind)).toBe(true);
    expect(isSignatureKind('countersign')).toBe(false);
    expect(isSignatureKind('Sign')).toBe(false);
  });
});
