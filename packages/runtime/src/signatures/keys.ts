/**
 * The key of `dsv signatures revoke --key KEY`: a key id or fingerprint in hex, or a public key file
 * (OpenPGP: the ids and fingerprints of the key and its subkeys; PEM: cosign's key id, and the key itself
 * to tell which cosign signatures it made).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { DsvError } from '@dsv/core/formats';

export interface RevokedKey {
  /** What the user gave. */
  input: string;
  /** Upper-case hex ids and fingerprints. */
  ids: string[];
  /** PEM public keys (cosign signatures are matched by verifying with them). */
  publicKeys: KeyObject[];
  /** KEY was a public key file (else a hex id or fingerprint). */
  fromFile: boolean;
}

const norm = (s: string) => s.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();

export async function resolveRevokedKey(input: string): Promise<RevokedKey> {
  if (existsSync(input)) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(input));
    } catch (e) {
      throw new DsvError('IoError', `cannot read --key ${input} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const text = Buffer.from(bytes).toString('latin1');
    if (/-----BEGIN (PUBLIC KEY|EC PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(text)) {
      const { keyIdOf, readPublicKeys } = await import('@dsv/signature-cosign');
      const keys = readPublicKeys(bytes, `--key ${input}`);
      return { input, ids: keys.map((k) => norm(keyIdOf(k))), publicKeys: keys, fromFile: true };
    }
    const { readPublicKeys } = await import('@dsv/signature-simple');
    const keys = await readPublicKeys(bytes, `--key ${input}`);
    const ids: string[] = [];
    for (const k of keys) {
      for (const sub of k.getKeys()) {
        ids.push(norm(sub.getKeyID().toHex()), norm(sub.getFingerprint()));
      }
    }
    if (ids.length === 0) throw new DsvError('KeyInvalid', `--key ${input} holds no public key`);
    return { input, ids, publicKeys: [], fromFile: true };
  }
  const hex = norm(input);
  if (!/^[0-9A-F]{8,64}$/.test(hex)) {
    throw new DsvError('Usage', `--key ${JSON.stringify(input)} is neither a file nor a key id / fingerprint in hex`);
  }
  return { input, ids: [hex], publicKeys: [], fromFile: false };
}

/** Whether a key id or fingerprint (hex) names the revoked key (a long id is the end of a fingerprint). */
export function isRevoked(key: RevokedKey, id: string | undefined): boolean {
  if (!id) return false;
  const s = norm(id);
  return key.ids.some((k) => k === s || k.endsWith(s) || s.endsWith(k));
}
