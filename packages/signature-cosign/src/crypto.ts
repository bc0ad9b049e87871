/** Raw signatures as cosign makes them: ECDSA (ASN.1 DER) with SHA-256, Ed25519, RSA PKCS#1 v1.5 with SHA-256. */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/** Signs `data` with the key's cosign algorithm. */
export function signBytes(key: KeyObject, data: Uint8Array): Uint8Array {
  return sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key);
}

/** True when `signature` over `data` verifies with `key` (P-384/P-521 also with their own hash, as cosign's default verifiers). */
export function verifyBytes(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, data, key, signature);
    if (verify('sha256', data, key, signature)) return true;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return verify('sha384', data, key, signature);
    if (curve === 'secp521r1') return verify('sha512', data, key, signature);
    return false;
  } catch {
    return false;
  }
}

/** A short key id for messages: hex SHA-256 of the SubjectPublicKeyInfo, first 16 digits. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16);
}
