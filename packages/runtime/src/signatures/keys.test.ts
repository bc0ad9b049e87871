import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '@dsv/signature-cosign';
import { isRevoked, resolveRevokedKey } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-revoke-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the key of dsv signatures revoke', () => {
  it('a fingerprint in hex matches its long key id (its last 16 digits), case and spaces aside', async () => {
    const k = await resolveRevokedKey('0x1234 5678 9ABC DEF0 1122 3344 5566 7788 99AA BBCC');
    expect(k.ids).toEqual(['123456789ABCDEF0112233445566778899AABBCC']);
    expect(isRevoked(k, '5566778899aabbcc')).toBe(true);
    expect(isRevoked(k, '0000000000000000')).toBe(false);
    expect(isRevoked(k, undefined)).toBe(false);
  });

  it('a PEM public key: cosign\'s key id, and the key kept for verifying', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = join(dir, 'cosign.pub');
    writeFileSync(file, publicKey.export({ format: 'pem', type: 'spki' }));
    const k = await resolveRevokedKey(file);
    expect(k.ids).toEqual([keyIdOf(publicKey).toUpperCase()]);
    expect(k.publicKeys).toHaveLength(1);
  });

  it('neither a file nor hex: a usage error naming it', async () => {
    await expect(resolveRevokedKey('release-key')).rejects.toMatchObject({ code: 'Usage', message: expect.stringContaining('--key "release-key"') });
  });
});
