// cosign key files: the encrypted format (built per the spec's field names and parameters), plain PEM keys, generation round trips.
import { createPrivateKey, generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { signBytes, verifyBytes } from './crypto.js';
import { decryptCosignKey, generateKeyPair, readPrivateKey, readPublicKeys, writeKeyPair, type KeyAlgorithm } from './keys.js';

const pem = (label: string, der: Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

/** A cosign.key assembled independently of keys.ts, from the format's description. */
function handMadeCosignKey(label: string, pkcs8: Uint8Array, passphrase: string): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(passphrase, salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params: { N: 32768, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(nacl.secretbox(pkcs8, nonce, key)).toString('base64'),
  });
  return pem(label, Buffer.from(json));
}

describe('cosign key files', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });

  it.each(['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'])('decrypts a %s block', (label) => {
    const text = handMadeCosignKey(label, pkcs8, 'correct horse');
    const k = readPrivateKey(Buffer.from(text), { passphrase: 'correct horse' });
    expect(k.export({ format: 'der', type: 'pkcs8' }).equals(pkcs8)).toBe(true);
  });

  it('a wrong or missing passphrase is PassphraseInvalid, and never echoes it', () => {
    const text = Buffer.from(handMadeCosignKey('ENCRYPTED SIGSTORE PRIVATE KEY', pkcs8, 'right'));
    expect(() => readPrivateKey(text, { passphrase: 'wrong-secret' })).toThrow(expect.objectContaining({ code: 'PassphraseInvalid', message: expect.not.stringContaining('wrong-secret') }));
    expect(() => readPrivateKey(text)).toThrow(expect.objectContaining({ code: 'PassphraseInvalid' }));
  });

  it('refuses hostile scrypt parameters before deriving', () => {
    const doc = { kdf: { name: 'scrypt', params: { N: 1 << 30, r: 8, p: 1 }, salt: 'AA==' }, cipher: { name: 'nacl/secretbox', nonce: Buffer.alloc(24).toString('base64') }, ciphertext: 'AA==' };
    expect(() => decryptCosignKey(Buffer.from(JSON.stringify(doc)), 'x')).toThrow(expect.objectContaining({ code: 'KeyInvalid' }));
    expect(() => decryptCosignKey(Buffer.from(JSON.stringify({ ...doc, kdf: { ...doc.kdf, name: 'pbkdf2' } })), 'x')).toThrow(/unsupported KDF/);
  });

  it.each(['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-3072'] as KeyAlgorithm[])('generateKeyPair(%s) round-trips: cosign.key decrypts, cosign.pub verifies its signatures', (algorithm) => {
    const pair = generateKeyPair({ passphrase: 'pw', algorithm });
    expect(pair.privatePem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const inner = JSON.parse(Buffer.from(pair.privatePem.split('\n').slice(1, -2).join(''), 'base64').toString());
    expect(Object.keys(inner)).toEqual(['kdf', 'cipher', 'ciphertext']);
    expect(inner.kdf).toMatchObject({ name: 'scrypt', params: { N: 32768, r: 8, p: 1 } });
    expect(Buffer.from(inner.kdf.salt, 'base64')).toHaveLength(32);
    expect(inner.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(inner.cipher.nonce, 'base64')).toHaveLength(24);
    const priv = readPrivateKey(Buffer.from(pair.privatePem), { passphrase: 'pw' });
    const [pub] = readPublicKeys(Buffer.from(pair.publicPem));
    const sig = signBytes(priv, Buffer.from('payload'));
    expect(verifyBytes(pub!, Buffer.from('payload'), sig)).toBe(true);
    expect(verifyBytes(pub!, Buffer.from('payloaD'), sig)).toBe(false);
  });

  it('reads plain PKCS#8, SEC1 and PKCS#1 private keys', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const ed = generateKeyPairSync('ed25519').privateKey;
    for (const [k, text] of [
      [ec, ec.export({ format: 'pem', type: 'pkcs8' })],
      [ec, ec.export({ format: 'pem', type: 'sec1' })],
      [rsa, rsa.export({ format: 'pem', type: 'pkcs1' })],
      [ed, ed.export({ format: 'pem', type: 'pkcs8' })],
    ] as const) {
      const read = readPrivateKey(Buffer.from(text as string));
      expect(read.export({ format: 'der', type: 'pkcs8' }).equals(k.export({ format: 'der', type: 'pkcs8' }))).toBe(true);
    }
    expect(() => readPrivateKey(Buffer.from('no pem here'))).toThrow(expect.objectContaining({ code: 'KeyInvalid' }));
    expect(() => readPublicKeys(Buffer.from(pem('PUBLIC KEY', Buffer.from('junk'))))).toThrow(expect.objectContaining({ code: 'KeyInvalid' }));
  });

  it('writeKeyPair writes cosign.key (0600) and cosign.pub', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-cosign-keys-'));
    try {
      const { keyPath, pubPath } = writeKeyPair(dir, generateKeyPair({ passphrase: 'pw' }));
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const priv = readPrivateKey(readFileSync(keyPath), { passphrase: 'pw' });
      expect(createPrivateKey(priv.export({ format: 'pem', type: 'pkcs8' })).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(readPublicKeys(readFileSync(pubPath))).toHaveLength(1);
      expect(() => writeKeyPair(dir, generateKeyPair({ passphrase: 'pw' }))).not.toThrow(); // overwrite by rename is fine
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
