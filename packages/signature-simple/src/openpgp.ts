/**
 * Simple-signing signatures as OpenPGP signed (non-detached, binary) messages: made with a key file
 * through openpgp.js or with any injected signer (a GnuPG home), verified with openpgp.js against given
 * public keys, then the payload is parsed strictly.
 */
import { readFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import { DsvError } from '@dsv/core/formats';
import { MAX_SIGNATURE_BYTES } from './limits.js';
import { parsePayload, type SimpleSigningPayload } from './payload.js';

/** Signs payload bytes, returning a binary OpenPGP signed message (e.g. `gpg --sign` in a GnuPG home). */
export type PayloadSigner = (payload: Uint8Array) => Promise<Uint8Array>;

type OpenPgp = typeof import('openpgp');

interface Loaded {
  pgp: OpenPgp;
  /** Verification policy: no weak keys or hashes (as dsv's OpenPGP verifier). */
  verifyConfig: openpgp.PartialConfig;
  signConfig: openpgp.PartialConfig;
}

let loaded: Promise<Loaded> | undefined;

/**
 * openpgp.js (≈ 0.8 MB of code) is imported on the first signature made or read, not with this module: the
 * package index imports this module, and copying signatures as bytes, reading registries.d or judging a policy
 * that names no key must not pay for it (bench/NOTES.md, start-up inventory).
 */
function openPgp(): Promise<Loaded> {
  return (loaded ??= import('openpgp').then((pgp) => ({
    pgp,
    verifyConfig: {
      minRSABits: 2048,
      rejectHashAlgorithms: new Set([pgp.enums.hash.md5, pgp.enums.hash.ripemd]),
      rejectMessageHashAlgorithms: new Set([pgp.enums.hash.md5, pgp.enums.hash.ripemd, pgp.enums.hash.sha1, pgp.enums.hash.sha224]),
      rejectPublicKeyAlgorithms: new Set([pgp.enums.publicKey.elgamal, pgp.enums.publicKey.dsa]),
      allowInsecureVerificationWithReformattedKeys: false,
      // A payload is a few hundred bytes: a compressed message must not inflate into memory without bound.
      maxDecompressedMessageSize: MAX_SIGNATURE_BYTES,
    },
    signConfig: {
      // openpgp.js otherwise adds a random "salt@notations.openpgpjs.org" notation to every signature.
      nonDeterministicSignaturesViaNotation: false,
    },
  })));
}

function looksArmored(bytes: Uint8Array): boolean {
  return bytes.length > 0 && (bytes[0]! & 0x80) === 0 && Buffer.from(bytes.subarray(0, 4096)).toString('latin1').includes('-----BEGIN PGP ');
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** Reads every public key in key files' bytes (armoured or binary keyrings; private keys give their public part). */
export async function readPublicKeys(bytes: Uint8Array, origin = 'key data'): Promise<openpgp.PublicKey[]> {
  const { pgp } = await openPgp();
  try {
    const keys = looksArmored(bytes)
      ? await pgp.readKeys({ armoredKeys: Buffer.from(bytes).toString('utf8') })
      : await pgp.readKeys({ binaryKeys: bytes });
    return keys.map((k) => (k.isPrivate() ? k.toPublic() : k));
  } catch (e) {
    throw new DsvError('KeyInvalid', `${origin} is not a valid OpenPGP key file: ${firstLine(e)}`, { origin });
  }
}

/** A PayloadSigner over an OpenPGP private key file (armoured or binary); the passphrase never appears in errors. */
export function keyFileSigner(opts: { keyFile: string | Uint8Array; passphrase?: string }): PayloadSigner {
  let key: Promise<openpgp.PrivateKey> | undefined;
  const load = async (): Promise<openpgp.PrivateKey> => {
    const { pgp } = await openPgp();
    const origin = typeof opts.keyFile === 'string' ? `key file ${opts.keyFile}` : 'the private key';
    let bytes: Uint8Array;
    try {
      bytes = typeof opts.keyFile === 'string' ? new Uint8Array(await readFile(opts.keyFile)) : opts.keyFile;
    } catch (e) {
      throw new DsvError('KeyInvalid', `${origin} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let k: openpgp.PrivateKey;
    try {
      k = looksArmored(bytes)
        ? await pgp.readPrivateKey({ armoredKey: Buffer.from(bytes).toString('utf8') })
        : await pgp.readPrivateKey({ binaryKey: bytes });
    } catch (e) {
      throw new DsvError('KeyInvalid', `${origin} is not an OpenPGP private key: ${firstLine(e)}`);
    }
    if (!k.isDecrypted()) {
      if (opts.passphrase === undefined) throw new DsvError('PassphraseInvalid', `${origin} is protected by a passphrase; none was given`);
      try {
        k = await pgp.decryptKey({ privateKey: k, passphrase: opts.passphrase });
      } catch {
        throw new DsvError('PassphraseInvalid', `the passphrase for ${origin} is wrong`);
      }
    }
    return k;
  };
  return async (payload) => {
    key ??= load();
    const { pgp, signConfig } = await openPgp();
    const signingKey = await key;
    const message = await pgp.createMessage({ binary: payload });
    try {
      const out = await pgp.sign({ message, signingKeys: signingKey, format: 'binary', detached: false, config: signConfig });
      return out as Uint8Array;
    } catch (e) {
      throw new DsvError('KeyInvalid', `cannot sign with key ${signingKey.getKeyID().toHex().toUpperCase()}: ${firstLine(e)}`);
    }
  };
}

export interface SimpleVerification {
  valid: boolean;
  /** Long key id (16 hex, upper case) of the key that signed (a subkey's when a subkey signed). */
  keyId?: string;
  /** Fingerprint of the primary key that signed (upper case). */
  fingerprint?: string;
  /** The primary user id of that key. */
  signer?: string;
  payload?: SimpleSigningPayload;
  reason?: string;
  /** unknown-key, bad-signature, expired, revoked, malformed, too-large. */
  code?: string;
}

function classify(message: string): string {
  const m = message.toLowerCase();
  if (m.includes('could not find signing key')) return 'unknown-key';
  if (m.includes('expired')) return 'expired';
  if (m.includes('revoked')) return 'revoked';
  return 'bad-signature';
}

/**
 * Verifies one simple-signing signature with the given public keys and parses its payload. Never throws
 * for a bad signature: the result says why (unknown key, expired, revoked, malformed, ...).
 */
export async function verifySimpleSignature(signature: Uint8Array, keys: openpgp.PublicKey[], opts: { now?: Date } = {}): Promise<SimpleVerification> {
  const bad = (code: string, reason: string): SimpleVerification => ({ valid: false, code, reason });
  if (signature.length > MAX_SIGNATURE_BYTES) return bad('too-large', `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  const { pgp, verifyConfig } = await openPgp();
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await pgp.readMessage({ binaryMessage: signature, config: verifyConfig });
  } catch (e) {
    return bad('malformed', `not an OpenPGP message: ${firstLine(e)}`);
  }
  if (message.packets.filterByTag(pgp.enums.packet.publicKeyEncryptedSessionKey, pgp.enums.packet.symEncryptedSessionKey,
    pgp.enums.packet.symEncryptedIntegrityProtectedData, pgp.enums.packet.symmetricallyEncryptedData, pgp.enums.packet.aeadEncryptedData).length > 0) {
    return bad('malformed', 'the OpenPGP message is encrypted, not signed');
  }
  if (keys.length === 0) return bad('unknown-key', 'no public keys to verify with');
  let result: openpgp.VerifyMessageResult<Uint8Array>;
  try {
    result = await pgp.verify({ message, verificationKeys: keys, format: 'binary', date: opts.now ?? new Date(), config: verifyConfig });
  } catch (e) {
    return bad('malformed', `the OpenPGP message cannot be read: ${firstLine(e)}`);
  }
  if (result.signatures.length !== 1) {
    return bad('malformed', result.signatures.length === 0 ? 'the OpenPGP message is not signed' : `the OpenPGP message has ${result.signatures.length} signatures, expected one`);
  }
  const sig = result.signatures[0]!;
  const keyId = sig.keyID.toHex().toUpperCase();
  const signingKey = keys.find((k) => k.getKeys(sig.keyID).length > 0);
  try {
    await sig.verified;
  } catch (e) {
    const reason = firstLine(e);
    return { valid: false, code: classify(reason), reason: `signature by key ${keyId}: ${reason}`, keyId };
  }
  const out: SimpleVerification = { valid: true, keyId };
  if (signingKey) {
    out.fingerprint = signingKey.getFingerprint().toUpperCase();
    const uid = signingKey.getUserIDs()[0];
    if (uid !== undefined) out.signer = uid;
  }
  try {
    out.payload = parsePayload(result.data);
  } catch (e) {
    return { ...out, valid: false, code: 'malformed', reason: firstLine(e) };
  }
  return out;
}

/**
 * What a simple signature claims, without verifying it (for listings that judge no trust): the signing
 * key id and the payload. Never throws: `reason` says why nothing could be read.
 */
export async function describeSimpleSignature(signature: Uint8Array): Promise<{ keyId?: string; payload?: SimpleSigningPayload; reason?: string }> {
  if (signature.length > MAX_SIGNATURE_BYTES) return { reason: `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes` };
  const { pgp, verifyConfig } = await openPgp();
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await pgp.readMessage({ binaryMessage: signature, config: verifyConfig });
  } catch (e) {
    return { reason: `not an OpenPGP message: ${firstLine(e)}` };
  }
  const out: { keyId?: string; payload?: SimpleSigningPayload; reason?: string } = {};
  const ids = message.getSigningKeyIDs();
  if (ids[0]) out.keyId = ids[0].toHex().toUpperCase();
  try {
    const data = message.getLiteralData();
    if (!(data instanceof Uint8Array)) return { ...out, reason: 'the OpenPGP message has no literal data' };
    out.payload = parsePayload(data);
  } catch (e) {
    out.reason = firstLine(e);
  }
  return out;
}
