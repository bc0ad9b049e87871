/**
 * cosign key files: the encrypted private key PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`, older `ENCRYPTED
 * COSIGN PRIVATE KEY`: JSON with scrypt parameters, a NaCl secretbox cipher, a PKCS#8 key inside), plain
 * PKCS#8 / SEC1 / PKCS#1 PEM keys, PEM public keys, and generating a cosign.key / cosign.pub pair.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DsvError } from '@dsv/core';
import { naclLib } from './lazy.js';

export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';

/** scrypt parameters cosign writes (secure-systems-lab's defaults: N=2^15, r=8, p=1; 32-byte salt). */
const SCRYPT = { N: 32768, r: 8, p: 1 } as const;
const MAX_SCRYPT_N = 1 << 20;
const MAX_KEY_FILE = 64 * 1024;

/** The JSON inside an encrypted cosign key PEM block. */
interface EncryptedKeyJson {
  kdf: { name: 'scrypt'; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: 'nacl/secretbox'; nonce: string };
  ciphertext: string;
}

interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block in the text, with its label. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new DsvError('KeyInvalid', `the PEM block "${m[1]}" is not base64`);
    out.push({ label: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function scryptKey(passphrase: string | Uint8Array, salt: Uint8Array, p: { N: number; r: number; p: number }): Uint8Array {
  return scryptSync(Buffer.from(passphrase), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 });
}

/** Encrypts PKCS#8 DER the way cosign does; returns the JSON bytes that go inside the PEM block. */
export function encryptCosignKey(pkcs8: Uint8Array, passphrase: string | Uint8Array): Uint8Array {
  const salt = randomBytes(32);
  const nacl = naclLib();
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const key = scryptKey(passphrase, salt, SCRYPT);
  const ciphertext = nacl.secretbox(pkcs8, nonce, key);
  const doc: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { ...SCRYPT }, salt: Buffer.from(salt).toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: Buffer.from(nonce).toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return Buffer.from(JSON.stringify(doc));
}

function b64field(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new DsvError('KeyInvalid', `cosign key: ${what} is not base64`);
  return Buffer.from(v, 'base64');
}

/** Decrypts the JSON of an encrypted cosign key to PKCS#8 DER. Wrong passphrase: PassphraseInvalid. */
export function decryptCosignKey(json: Uint8Array, passphrase: string | Uint8Array): Uint8Array {
  let doc: EncryptedKeyJson;
  try {
    doc = JSON.parse(Buffer.from(json).toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new DsvError('KeyInvalid', 'cosign key: the encrypted block is not JSON');
  }
  if (doc?.kdf?.name !== 'scrypt') throw new DsvError('KeyInvalid', `cosign key: unsupported KDF ${JSON.stringify(doc?.kdf?.name)}`);
  if (doc.cipher?.name !== 'nacl/secretbox') throw new DsvError('KeyInvalid', `cosign key: unsupported cipher ${JSON.stringify(doc.cipher?.name)}`);
  const { N, r, p } = doc.kdf.params ?? ({} as never);
  for (const [k, v] of [['N', N], ['r', r], ['p', p]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new DsvError('KeyInvalid', `cosign key: scrypt parameter ${k} is not a positive integer`);
  }
  if (N > MAX_SCRYPT_N || (N & (N - 1)) !== 0 || r > 32 || p > 16) throw new DsvError('KeyInvalid', 'cosign key: scrypt parameters out of range');
  const salt = b64field(doc.kdf.salt, 'kdf.salt');
  const nonce = b64field(doc.cipher.nonce, 'cipher.nonce');
  const nacl = naclLib();
  if (nonce.length !== nacl.secretbox.nonceLength) throw new DsvError('KeyInvalid', 'cosign key: the nonce is not 24 bytes');
  const ciphertext = b64field(doc.ciphertext, 'ciphertext');
  const plain = nacl.secretbox.open(ciphertext, nonce, scryptKey(passphrase, salt, { N, r, p }));
  if (!plain) throw new DsvError('PassphraseInvalid', 'cosign key: wrong passphrase (the key did not decrypt)');
  return plain;
}

/** Reads a private key: cosign's encrypted PEM (needs the passphrase) or a plain PKCS#8/SEC1/PKCS#1 PEM. */
export function readPrivateKey(bytes: Uint8Array, opts: { passphrase?: string | Uint8Array; origin?: string } = {}): KeyObject {
  const origin = opts.origin ?? 'private key';
  if (bytes.length > MAX_KEY_FILE) throw new DsvError('KeyInvalid', `${origin}: larger than ${MAX_KEY_FILE} bytes`);
  const text = Buffer.from(bytes).toString('utf8');
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new DsvError('KeyInvalid', `${origin}: no PEM block found`);
  const b = blocks[0]!;
  try {
    if (b.label === SIGSTORE_PRIVATE_KEY_PEM || b.label === COSIGN_PRIVATE_KEY_PEM) {
      if (opts.passphrase === undefined) throw new DsvError('PassphraseInvalid', `${origin}: the cosign key is encrypted and no passphrase was given`);
      return createPrivateKey({ key: Buffer.from(decryptCosignKey(b.der, opts.passphrase)), format: 'der', type: 'pkcs8' });
    }
    if (b.label === 'PRIVATE KEY') return createPrivateKey({ key: b.der, format: 'der', type: 'pkcs8' });
    if (b.label === 'EC PRIVATE KEY') return createPrivateKey({ key: b.der, format: 'der', type: 'sec1' });
    if (b.label === 'RSA PRIVATE KEY') return createPrivateKey({ key: b.der, format: 'der', type: 'pkcs1' });
  } catch (e) {
    if (e instanceof DsvError) throw e;
    throw new DsvError('KeyInvalid', `${origin}: the key inside the PEM block cannot be parsed`);
  }
  throw new DsvError('KeyInvalid', `${origin}: unsupported PEM block "${b.label}"`);
}

/** Reads every public key in a PEM file (PUBLIC KEY, or a CERTIFICATE's key). */
export function readPublicKeys(bytes: Uint8Array, origin = 'public key'): KeyObject[] {
  if (bytes.length > MAX_KEY_FILE) throw new DsvError('KeyInvalid', `${origin}: larger than ${MAX_KEY_FILE} bytes`);
  const out: KeyObject[] = [];
  for (const b of pemBlocks(Buffer.from(bytes).toString('utf8'))) {
    try {
      if (b.label === 'PUBLIC KEY') out.push(createPublicKey({ key: b.der, format: 'der', type: 'spki' }));
      else if (b.label === 'RSA PUBLIC KEY') out.push(createPublicKey({ key: b.der, format: 'der', type: 'pkcs1' }));
      else if (b.label === 'CERTIFICATE') out.push(createPublicKey(toPem('CERTIFICATE', b.der)));
    } catch {
      throw new DsvError('KeyInvalid', `${origin}: the "${b.label}" block cannot be parsed`);
    }
  }
  if (out.length === 0) throw new DsvError('KeyInvalid', `${origin}: no public key found`);
  return out;
}

/** cosign.key (encrypted, `ENCRYPTED SIGSTORE PRIVATE KEY`) and cosign.pub for a key, as cosign writes them. */
export function encodeCosignKeyPair(privateKey: KeyObject, passphrase: string | Uint8Array): { privatePem: string; publicPem: string } {
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const publicPem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
  return { privatePem: toPem(SIGSTORE_PRIVATE_KEY_PEM, encryptCosignKey(pkcs8, passphrase)), publicPem };
}

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-3072';

/** A new key pair in cosign's format (ECDSA P-256 by default, as `cosign generate-key-pair`). */
export function generateKeyPair(opts: { passphrase: string | Uint8Array; algorithm?: KeyAlgorithm }): { privatePem: string; publicPem: string } {
  const alg = opts.algorithm ?? 'ecdsa-p256';
  const { privateKey } =
    alg === 'ed25519' ? generateKeyPairSync('ed25519')
    : alg === 'rsa-3072' ? generateKeyPairSync('rsa', { modulusLength: 3072 })
    : generateKeyPairSync('ec', { namedCurve: alg === 'ecdsa-p384' ? 'P-384' : 'P-256' });
  return encodeCosignKeyPair(privateKey, opts.passphrase);
}

/** Writes `<dir>/<prefix>.key` (mode 0600) and `<dir>/<prefix>.pub` through temp files and renames. */
export function writeKeyPair(dir: string, pair: { privatePem: string; publicPem: string }, prefix = 'cosign'): { keyPath: string; pubPath: string } {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, `${prefix}.key`);
  const pubPath = join(dir, `${prefix}.pub`);
  const tmpKey = `${keyPath}.tmp-${process.pid}`;
  const tmpPub = `${pubPath}.tmp-${process.pid}`;
  try {
    writeFileSync(tmpKey, pair.privatePem, { mode: 0o600, flag: 'wx' });
    writeFileSync(tmpPub, pair.publicPem, { mode: 0o644, flag: 'wx' });
    renameSync(tmpKey, keyPath);
    renameSync(tmpPub, pubPath);
  } catch (e) {
    rmSync(tmpKey, { force: true });
    rmSync(tmpPub, { force: true });
    throw new DsvError('IoError', `cannot write the key pair in ${dir}: ${(e as Error).message}`);
  }
  return { keyPath, pubPath };
}
