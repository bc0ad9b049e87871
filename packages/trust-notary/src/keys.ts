/**
 * Public keys and signature schemes Notary v1 uses: `ecdsa` (raw r||s over SHA-256), `rsapss` (PSS,
 * SHA-256, salt = hash length), `rsapkcs1v15`, `eddsa` (Ed25519), with keys `ecdsa`/`rsa` (DER
 * SubjectPublicKeyInfo), `ecdsa-x509`/`rsa-x509` (a PEM certificate) and `ed25519` (32 raw bytes).
 */
import { constants, createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { DsvError } from '@dsv/core';
import { keyId, type TufKey } from './canonical.js';

export interface LoadedKey {
  key: KeyObject;
  type: string;
  /** x509 keys: the certificate's validity window. */
  notBefore?: Date;
  notAfter?: Date;
}

export function loadKey(k: TufKey, id: string): LoadedKey {
  const raw = Buffer.from(k.keyval.public, 'base64');
  try {
    switch (k.keytype) {
      case 'ecdsa':
      case 'rsa':
        return { key: createPublicKey({ key: raw, format: 'der', type: 'spki' }), type: k.keytype };
      case 'ecdsa-x509':
      case 'rsa-x509': {
        const cert = new X509Certificate(raw);
        return { key: cert.publicKey, type: k.keytype, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
      }
      case 'ed25519':
        if (raw.length !== 32) throw new Error('not 32 bytes');
        return { key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }), type: k.keytype };
    }
  } catch (e) {
    // A key the trust server serves, not the user's: unreadable means the data is not trusted (exit 1).
    throw new DsvError('Untrusted', `trust key ${id} (${k.keytype}) cannot be read: ${(e as Error).message}`, { keyId: id });
  }
  throw new DsvError('Unsupported', `trust key ${id} has an unsupported key type ${JSON.stringify(k.keytype)}`, { keyId: id });
}

/** True when `sig` (raw bytes) verifies `data` under `method` with `k`; a method that does not fit the key is false. */
export function verifySignature(k: LoadedKey, method: string, data: Buffer, sig: Buffer): boolean {
  const family = k.type.startsWith('ecdsa') ? 'ecdsa' : k.type.startsWith('rsa') ? 'rsa' : 'ed25519';
  try {
    if (method === 'ecdsa' && family === 'ecdsa') return verify('sha256', data, { key: k.key, dsaEncoding: 'ieee-p1363' }, sig);
    if (method === 'rsapss' && family === 'rsa')
      return verify('sha256', data, { key: k.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    if (method === 'rsapkcs1v15' && family === 'rsa') return verify('sha256', data, { key: k.key, padding: constants.RSA_PKCS1_PADDING }, sig);
    if ((method === 'eddsa' || method === 'ed25519') && family === 'ed25519') return verify(null, data, k.key, sig);
  } catch {
    return false;
  }
  return false;
}

/**
 * The id the notary and docker CLIs show for a key: for an x509-wrapped key, the key id of the bare public
 * key inside the certificate (`ecdsa`/`rsa`, DER SubjectPublicKeyInfo); for any other key, its key id.
 */
export function canonicalKeyId(k: TufKey, id = keyId(k)): string {
  if (!k.keytype.endsWith('-x509')) return id;
  const spki = loadKey(k, id).key.export({ format: 'der', type: 'spki' }).toString('base64');
  return keyId({ keytype: k.keytype.slice(0, -'-x509'.length), keyval: { public: spki } });
}
