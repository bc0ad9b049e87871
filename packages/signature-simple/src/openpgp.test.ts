import { describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { digestOf } from '@dsv/core/formats';
import { fixture } from './__tests__/fixtures.js';
import { keyFileSigner, readPublicKeys, verifySimpleSignature } from './openpgp.js';
import { createPayload, parsePayload } from './payload.js';
import { createSimpleSignature, payloadMatchesManifest } from './signature.js';

const keys = (name: string) => readPublicKeys(fixture(name), name);
const MANIFEST = fixture('image.manifest.json');
const MANIFEST_DIGEST = 'sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55';

describe('verifySimpleSignature against containers/image fixtures', () => {
  it('image.signature is valid with public-key.gpg and names testing/manifest and the manifest digest', async () => {
    const v = await verifySimpleSignature(fixture('image.signature'), await keys('public-key.gpg'));
    expect(v.valid).toBe(true);
    expect(v.fingerprint).toBe('08CD26E446E2E95249B7A405E932F44B23E8DD43');
    expect(v.keyId).toBe('E932F44B23E8DD43');
    expect(v.payload).toEqual({ dockerReference: 'testing/manifest', manifestDigest: MANIFEST_DIGEST, creator: 'atomic ', timestamp: 1458239713 });
    expect(digestOf(MANIFEST)).toBe(MANIFEST_DIGEST);
    expect(payloadMatchesManifest(v.payload!.manifestDigest, MANIFEST)).toBe(true);
  });

  it('no-optional-fields.signature is valid', async () => {
    const v = await verifySimpleSignature(fixture('no-optional-fields.signature'), await keys('public-key.gpg'));
    expect(v.valid).toBe(true);
    expect(v.payload).toEqual({ dockerReference: 'testing/manifest', manifestDigest: MANIFEST_DIGEST });
  });

  it('a signature by a subkey is valid and reports the primary key fingerprint', async () => {
    const k = await keys('public-key-with-subkey.gpg');
    for (const f of ['subkey.signature', 'dir-img-valid-subkey/signature-1']) {
      const v = await verifySimpleSignature(fixture(f), k);
      expect(v.valid, f).toBe(true);
      expect(v.fingerprint).toBe('B9F4CDB9FD8C475BFA340AC38D54A947EE396F36');
    }
  });

  it('dir-img-valid, dir-img-valid-2 verify; dir-img-mixed has one valid and one invalid signature', async () => {
    const k = await keys('public-key.gpg');
    expect((await verifySimpleSignature(fixture('dir-img-valid/signature-1'), k)).payload?.dockerReference).toBe('testing/manifest:latest');
    for (const f of ['dir-img-valid-2/signature-1', 'dir-img-valid-2/signature-2']) expect((await verifySimpleSignature(fixture(f), k)).valid, f).toBe(true);
    const mixed = await Promise.all(['dir-img-mixed/signature-1', 'dir-img-mixed/signature-2'].map(async (f) => verifySimpleSignature(fixture(f), k)));
    expect(mixed.map((m) => m.valid).sort()).toEqual([false, true]);
    expect(mixed.find((m) => !m.valid)!.code).toBe('malformed');
  });

  it.each([
    ['expired.signature', 'public-key.gpg', 'expired'],
    ['unknown-key.signature', 'public-key.gpg', 'unknown-key'],
    ['subkey-revoked.signature', 'public-key-with-revoked-subkey.gpg', 'revoked'],
    ['corrupt.signature', 'public-key.gpg', undefined],
    ['invalid-blob.signature', 'public-key.gpg', 'malformed'],
    ['unsigned-literal.signature', 'public-key.gpg', 'malformed'],
    ['unsigned-encrypted.signature', 'public-key.gpg', 'malformed'],
  ])('%s is rejected (%s)', async (sig, key, code) => {
    const v = await verifySimpleSignature(fixture(sig), await keys(key));
    expect(v.valid).toBe(false);
    if (code) expect(v.code).toBe(code);
    expect(v.reason).toBeTruthy();
  });

  it('invalid-reference.signature verifies cryptographically but its identity is not a valid reference', async () => {
    const v = await verifySimpleSignature(fixture('invalid-reference.signature'), await keys('public-key.gpg'));
    expect(v.payload?.dockerReference).toBe('UPPERCASEISINVALID');
  });

  it('with another key the fixture signatures are unknown-key', async () => {
    const v = await verifySimpleSignature(fixture('image.signature'), await keys('public-key-with-subkey.gpg'));
    expect(v).toMatchObject({ valid: false, code: 'unknown-key' });
  });

  it('a compressed message that inflates past 4 MiB is refused (no decompression bomb)', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'z' }], format: 'object' });
    const signed = await openpgp.sign({ message: await openpgp.createMessage({ binary: new Uint8Array(6 * 1024 * 1024) }), signingKeys: privateKey, format: 'object' });
    // Message.compress exists at run time but is not in openpgp.js' type declarations.
    const compressible = signed as unknown as { compress(algo: number): Promise<{ write(): Uint8Array }> };
    const bomb = (await compressible.compress(openpgp.enums.compression.zlib)).write();
    expect(bomb.length).toBeLessThan(64 * 1024);
    const v = await verifySimpleSignature(bomb, [publicKey]);
    expect(v.valid).toBe(false);
    expect(v.code).toBe('malformed');
    expect(v.reason).toMatch(/Maximum decompressed message size exceeded/);
  });

  it('a signature larger than 4 MiB is refused before parsing', async () => {
    const v = await verifySimpleSignature(new Uint8Array(4 * 1024 * 1024 + 1), await keys('public-key.gpg'));
    expect(v).toMatchObject({ valid: false, code: 'too-large' });
  });
});

describe('signing with a key file', () => {
  it('makes a binary signed message without the openpgp.js salt notation, which verifies and round-trips the payload', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'dsv test', email: 't@example.com' }], format: 'binary' });
    const signer = keyFileSigner({ keyFile: privateKey });
    const sig = await createSimpleSignature({ dockerReference: 'busybox', manifestBytes: MANIFEST, signer, creator: 'dsv', timestamp: 1700000000 });
    expect(sig[0]! & 0x80).toBe(0x80);
    const msg = await openpgp.readMessage({ binaryMessage: sig });
    const { signatures } = await openpgp.verify({ message: msg, verificationKeys: await readPublicKeys(publicKey), format: 'binary' });
    expect(signatures).toHaveLength(1);
    const packet = (await signatures[0]!.signature).packets[0] as unknown as { rawNotations: Array<{ name: string }> };
    expect(packet.rawNotations.map((n) => n.name)).toEqual([]);
    const v = await verifySimpleSignature(sig, await readPublicKeys(publicKey));
    expect(v.valid).toBe(true);
    expect(v.payload).toEqual({ dockerReference: 'docker.io/library/busybox:latest', manifestDigest: MANIFEST_DIGEST, creator: 'dsv', timestamp: 1700000000 });
    expect(parsePayload(createPayload(v.payload!))).toEqual(v.payload);
  });

  it('a protected key needs its passphrase; a wrong one is PassphraseInvalid without echoing it', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'p' }], passphrase: 's3cret-pass', format: 'armored' });
    const bytes = new TextEncoder().encode(privateKey);
    await expect(keyFileSigner({ keyFile: bytes })(new Uint8Array([1]))).rejects.toMatchObject({ code: 'PassphraseInvalid' });
    const err = await keyFileSigner({ keyFile: bytes, passphrase: 'wrong-pass' })(new Uint8Array([1])).catch((e) => e);
    expect(err.code).toBe('PassphraseInvalid');
    expect(err.message).not.toContain('wrong-pass');
    const ok = await keyFileSigner({ keyFile: bytes, passphrase: 's3cret-pass' })(new Uint8Array([1]));
    expect(ok.length).toBeGreaterThan(0);
  });

  it('an injected signer (a GnuPG home) receives the exact payload bytes', async () => {
    let seen: Uint8Array | undefined;
    const sig = await createSimpleSignature({
      dockerReference: 'example.com/a/b:1', manifestDigest: MANIFEST_DIGEST, timestamp: 5,
      signer: async (p) => { seen = p; return new Uint8Array([0xa3, 1]); },
    });
    expect(sig).toEqual(new Uint8Array([0xa3, 1]));
    expect(new TextDecoder().decode(seen)).toBe(
      `{"critical":{"identity":{"docker-reference":"example.com/a/b:1"},"image":{"docker-manifest-digest":"${MANIFEST_DIGEST}"},"type":"atomic container signature"},"optional":{"timestamp":5}}`,
    );
  });

  it('refuses manifest bytes that do not match a given digest', async () => {
    await expect(createSimpleSignature({ dockerReference: 'a/b:1', manifestBytes: MANIFEST, manifestDigest: `sha256:${'0'.repeat(64)}`, signer: async () => new Uint8Array([1]) }))
      .rejects.toMatchObject({ code: 'DigestMismatch' });
  });
});
