import { constants, sign, verify, type KeyObject } from 'node:crypto';
import type { PkiAlgorithm } from './armor.js';

export const MIN_RSA_BITS = 2048;

/** Why this key cannot be used (type, size, curve), or undefined when it is fine. */
export function keyProblem(key: KeyObject): string | undefined {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'rsa' || t === 'rsa-pss') {
    if ((d.modulusLength ?? 0) < MIN_RSA_BITS) return `RSA key of ${d.modulusLength} bits is too small (minimum ${MIN_RSA_BITS})`;
    return undefined;
  }
  if (t === 'ec') {
    if (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1') return undefined;
    return `elliptic curve ${d.namedCurve ?? '?'} is not supported (use P-256 or P-384)`;
  }
  if (t === 'ed25519') return undefined;
  return `key type ${t ?? '?'} is not supported`;
}

/** Signature algorithms a key can make/verify, most preferred first. */
export function algorithmsForKey(key: KeyObject): PkiAlgorithm[] {
  const t = key.asymmetricKeyType;
  if (t === 'rsa') return ['rsa-pkcs1v15-sha256', 'rsa-pss-sha256'];
  if (t === 'rsa-pss') return ['rsa-pss-sha256'];
  if (t === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    if (c === 'prime256v1') return ['ecdsa-p256-sha256'];
    if (c === 'secp384r1') return ['ecdsa-p384-sha384'];
    return [];
  }
  if (t === 'ed25519') return ['ed25519'];
  return [];
}

export function signWith(algorithm: PkiAlgorithm, key: KeyObject, data: Uint8Array): Buffer {
  switch (algorithm) {
    case 'rsa-pkcs1v15-sha256':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss-sha256':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ecdsa-p256-sha256':
      return sign('sha256', data, { key, dsaEncoding: 'der' });
    case 'ecdsa-p384-sha384':
      return sign('sha384', data, { key, dsaEncoding: 'der' });
    case 'ed25519':
      return sign(null, data, key);
  }
}

/** True when `signature` is `algorithm`'s signature over `data` by `key`. Never throws. */
export function verifyWith(algorithm: PkiAlgorithm, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (!algorithmsForKey(key).includes(algorithm)) return false;
  try {
    switch (algorithm) {
      case 'rsa-pkcs1v15-sha256':
        return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'rsa-pss-sha256':
        return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
      case 'ecdsa-p256-sha256':
        return verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
      case 'ecdsa-p384-sha384':
        return verify('sha384', data, { key, dsaEncoding: 'der' }, signature);
      case 'ed25519':
        return verify(null, data, key, signature);
    }
  } catch {
    return false;
  }
}
