import { constants, createHash, createPublicKey, publicDecrypt, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DsvError, type VerificationResult, type Verifier } from '@dsv/core/formats';
import { algorithmsForKey, keyProblem, verifyWith } from './algorithms.js';
import { isPkiSignature, parsePkiSignature, type ParsedPkiSignature } from './armor.js';
import { buildAndValidate, loadCert, signerUsageProblem, validityProblem, type Cert } from './chain.js';
import { defaultPkiDatastore } from './datastore.js';
import { PUBLIC_KEY_LABELS, colonHex, oneLineName, pemBlocks, pemDer, shortKeyId, spkiSha256 } from './pem.js';

export interface PkiVerifierOptions {
  /** Trust files: PEM CA/signer certificates and/or public keys (DER single certificate/key also accepted). */
  trust?: string[];
  /** Time at which certificates must be valid (default: now). */
  now?: Date;
  /**
   * The default trust store, read in addition to `trust` when it exists:
   * DSV_PKI_DATASTORE ?? ~/.dsv.pem. `false` disables it.
   */
  datastore?: string | false;
  /** Environment for DSV_PKI_DATASTORE / HOME (default: none, so ~/.dsv.pem; the runtime passes its own). */
  env?: NodeJS.ProcessEnv;
}

interface TrustedKey {
  key: KeyObject;
  /** Full hex SPKI SHA-256. */
  id: string;
  source: string;
}

export interface PkiTrustStore {
  certs: Cert[];
  keys: TrustedKey[];
}

/** Whether `bytes` look like something meant for another signer type (OpenPGP key material). */
function looksForeign(bytes: Buffer, text: string): boolean {
  if (/-----BEGIN PGP /.test(text)) return true;
  // Binary OpenPGP: the first packet header byte always has bit 7 set; a DER SEQUENCE starts with 0x30.
  return bytes.length > 0 && (bytes[0]! & 0x80) !== 0;
}

function addKey(store: PkiTrustStore, key: KeyObject, source: string) {
  const id = spkiSha256(key);
  if (!store.keys.some((k) => k.id === id)) store.keys.push({ key, id, source });
}

function addCert(store: PkiTrustStore, cert: Cert) {
  if (!store.certs.some((c) => c.der.equals(cert.der))) store.certs.push(cert);
}

/** Reads one trust file into `store`. Missing/unreadable/garbage -> KeyInvalid naming the file. */
export async function loadTrustFile(store: PkiTrustStore, file: string, optional = false): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (optional && code === 'ENOENT') return;
    throw new DsvError('KeyInvalid', `trust file ${file} cannot be read (${code ?? 'error'})`, { file });
  }
  const text = bytes.toString('latin1');
  const blocks = pemBlocks(text);
  let used = 0;
  for (const [i, b] of blocks.entries()) {
    if (b.label === 'CERTIFICATE') {
      const der = pemDer(b);
      let cert: Cert;
      try {
        if (!der) throw new Error('bad base64');
        cert = loadCert(der);
      } catch {
        throw new DsvError('KeyInvalid', `trust file ${file}: PEM block ${i + 1} is not a valid certificate`, { file });
      }
      addCert(store, cert);
      used++;
    } else if (PUBLIC_KEY_LABELS.has(b.label)) {
      try {
        addKey(store, createPublicKey({ key: b.text, format: 'pem' }), file);
      } catch {
        throw new DsvError('KeyInvalid', `trust file ${file}: PEM block ${i + 1} is not a valid public key`, { file });
      }
      used++;
    }
    // Private keys (a keypair file given as trust) and other blocks are ignored: only their certificates count.
  }
  if (used) return;
  if (!blocks.length && !looksForeign(bytes, text) && bytes.length > 0) {
    try {
      addCert(store, loadCert(bytes));
      return;
    } catch {
      /* not a DER certificate */
    }
    try {
      addKey(store, createPublicKey({ key: bytes, format: 'der', type: 'spki' }), file);
      return;
    } catch {
      /* not a DER public key */
    }
  }
  // A GnuPG key file handed to every verifier is not ours to judge: skip it quietly.
  if (looksForeign(bytes, text) && !blocks.some((b) => b.label === 'CERTIFICATE' || PUBLIC_KEY_LABELS.has(b.label))) return;
  if (optional && bytes.length === 0) return;
  throw new DsvError('KeyInvalid', `trust file ${file} holds no certificates or public keys`, { file });
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** A PKI verifier over a trust store of CA/signer certificates and raw public keys. */
export async function createPkiVerifier(opts: PkiVerifierOptions = {}): Promise<Verifier> {
  const store: PkiTrustStore = { certs: [], keys: [] };
  for (const f of opts.trust ?? []) await loadTrustFile(store, f);
  if (opts.datastore !== false) {
    const ds = opts.datastore ?? defaultPkiDatastore(opts.env);
    await loadTrustFile(store, ds, true);
  }
  return {
    type: 'pki',
    recognizes: isPkiSignature,
    verify: async (data, signature) => verifyPki(store, data, signature, opts.now ?? new Date()),
  };
}

const result = (status: VerificationResult['status'], extra: Partial<VerificationResult> = {}): VerificationResult => ({
  status,
  type: 'pki',
  ...extra,
});

function certDetails(c: Cert): Record<string, unknown> {
  return { issuer: oneLineName(c.x509.issuer), serial: c.x509.serialNumber };
}

export async function verifyPki(store: PkiTrustStore, data: Uint8Array, text: string, now: Date): Promise<VerificationResult> {
  let parsed: ParsedPkiSignature;
  try {
    parsed = parsePkiSignature(text);
  } catch (e) {
    return result('invalid', { reason: `malformed PKI signature: ${(e as Error).message}` });
  }
  return parsed.format === 'legacy' ? verifyLegacy(store, data, parsed, now) : verifyV2(store, data, parsed, now);
}

async function verifyV2(store: PkiTrustStore, data: Uint8Array, sig: ParsedPkiSignature, now: Date): Promise<VerificationResult> {
  const algorithm = sig.algorithm!;
  const certs: Cert[] = [];
  for (const [i, der] of sig.certificates.entries()) {
    try {
      certs.push(loadCert(der));
    } catch {
      return result('invalid', { reason: `malformed PKI signature: certificate ${i + 1} cannot be parsed` });
    }
  }
  const leaf = certs[0];
  let key: KeyObject;
  let trustedCert: Cert | undefined;
  let trustedKey: TrustedKey | undefined = store.keys.find((k) => k.id === sig.keyId);
  if (leaf) {
    key = leaf.x509.publicKey;
    if (spkiSha256(key) !== sig.keyId) {
      return result('invalid', { reason: 'Key-Id does not match the key of the signer certificate' });
    }
  } else if (trustedKey) {
    key = trustedKey.key;
  } else {
    trustedCert = store.certs.find((c) => spkiSha256(c.x509.publicKey) === sig.keyId);
    if (!trustedCert) {
      return result('unknown-key', {
        keyId: sig.keyId!.slice(0, 16).toUpperCase(),
        fingerprint: colonHex(sig.keyId!),
        reason: 'no trusted public key or certificate has this key id',
      });
    }
    key = trustedCert.x509.publicKey;
  }
  const subjectCert = leaf ?? trustedCert;
  const base: Partial<VerificationResult> = {
    keyId: shortKeyId(key),
    fingerprint: subjectCert ? subjectCert.x509.fingerprint256 : colonHex(spkiSha256(key)),
    details: { format: 'v2', algorithm, ...(subjectCert ? certDetails(subjectCert) : {}) },
  };
  if (subjectCert) base.signer = oneLineName(subjectCert.x509.subject);
  const kp = keyProblem(key);
  if (kp) return result('invalid', { ...base, reason: kp });
  if (!algorithmsForKey(key).includes(algorithm)) {
    return result('invalid', { ...base, reason: `algorithm ${algorithm} does not fit the signer's ${key.asymmetricKeyType} key` });
  }
  if (!verifyWith(algorithm, key, data, sig.signature)) {
    return result('invalid', { ...base, reason: 'signature does not match the data' });
  }
  if (trustedKey) return result('valid', { ...base, details: { ...base.details, trustedBy: 'public key' } });
  if (trustedCert) {
    const p = validityProblem(trustedCert, now) ?? signerUsageProblem(trustedCert);
    if (p) return result('invalid', { ...base, reason: p });
    return result('valid', { ...base, details: { ...base.details, trustedBy: 'certificate' } });
  }
  const outcome = await buildAndValidate(leaf!, certs.slice(1), store.certs, now);
  if (outcome.kind === 'valid') {
    const chain = outcome.path.map((c) => oneLineName(c.x509.subject));
    return result('valid', { ...base, details: { ...base.details, trustedBy: 'certificate chain', chain } });
  }
  return result(outcome.kind === 'invalid' ? 'invalid' : 'unknown-key', { ...base, reason: outcome.reason });
}

/**
 * docker-sign-verify's format carries no key identifier: try every trusted RSA key. RSASSA-PKCS1-v1_5
 * is recoverable, so a key whose padding opens the signature is the signer's key, and a DigestInfo
 * for other data then means "bad signature" rather than "unknown key".
 */
function verifyLegacy(store: PkiTrustStore, data: Uint8Array, sig: ParsedPkiSignature, now: Date): VerificationResult {
  const expected = Buffer.concat([SHA256_DIGEST_INFO, createHash('sha256').update(data).digest()]);
  const candidates: { key: KeyObject; cert?: Cert }[] = [
    ...store.keys.map((k) => ({ key: k.key })),
    ...store.certs.map((c) => ({ key: c.x509.publicKey, cert: c })),
  ];
  let mismatch: Partial<VerificationResult> | undefined;
  for (const { key, cert } of candidates) {
    if (key.asymmetricKeyType !== 'rsa') continue;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (Math.ceil(bits / 8) !== sig.signature.length) continue;
    let recovered: Buffer;
    try {
      recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig.signature);
    } catch {
      continue; // not this key
    }
    const info: Partial<VerificationResult> = {
      keyId: shortKeyId(key),
      fingerprint: cert ? cert.x509.fingerprint256 : colonHex(spkiSha256(key)),
      details: { format: 'legacy', algorithm: 'rsa-pkcs1v15-sha256', ...(cert ? certDetails(cert) : {}) },
    };
    if (cert) info.signer = oneLineName(cert.x509.subject);
    if (!recovered.equals(expected)) {
      mismatch ??= { ...info, reason: 'signature does not match the data' };
      continue;
    }
    const kp = keyProblem(key);
    if (kp) return result('invalid', { ...info, reason: kp });
    if (cert) {
      const p = validityProblem(cert, now) ?? signerUsageProblem(cert);
      if (p) return result('invalid', { ...info, reason: p });
    }
    return result('valid', info);
  }
  if (mismatch) return result('invalid', mismatch);
  return result('unknown-key', { reason: 'no trusted RSA key made this legacy PKI signature' });
}

