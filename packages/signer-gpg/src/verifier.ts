import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { DsvError, type VerificationResult, type Verifier } from '@dsv/core/formats';
import { ArmorError, PACKET_NAMES, PacketError, dearmor, splitPackets } from './armor.js';
import { GpgMissingError, defaultGpgHome, hasKeyring, runGpg } from './gpg.js';
import { ALLOWED_HASHES, describeError, hashName, hex, primaryUserId, readPublicKeys, strictConfig } from './keys.js';
import { isTrustedValidity, readHomeValidity, validityWord } from './trustdb.js';

export interface GpgVerifierOptions {
  /** Trusted key files (armoured or binary, one or several keys each): trusted as given. */
  trust?: string[];
  /**
   * GnuPG home whose keys count when gpg holds them at full or ultimate validity (default
   * DSV_GPG_DATASTORE or ~/.gnupg; the apps pass the home they resolved).
   */
  gpgHome?: string;
  /** The time at which keys must be valid (default: now). */
  now?: Date;
}

import { isPgpSignature } from './detect.js';

export { isPgpSignature };

/** Loads trusted keys from key files; a broken file is a KeyInvalid error naming it. */
async function loadTrustFile(file: string): Promise<openpgp.PublicKey[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DsvError('KeyInvalid', `trust file ${file} cannot be read${code ? ` (${code})` : ''}`, { file });
  }
  let keys: openpgp.PublicKey[];
  try {
    keys = await readPublicKeys(bytes, true);
  } catch (e) {
    throw new DsvError('KeyInvalid', `trust file ${file} is not a valid OpenPGP key file: ${describeError(e)}`, { file });
  }
  if (keys.length === 0) throw new DsvError('KeyInvalid', `trust file ${file} holds no OpenPGP key`, { file });
  return keys;
}

/** How far a key (by primary fingerprint) is trusted, and why not. */
export interface KeyTrust {
  trusted: boolean;
  /** gpg's validity of a key from the GnuPG home ('unknown', 'marginal', 'full', ...). */
  validity?: string;
  gpgHome?: string;
}

/** All public keys in a GnuPG home with gpg's validity of each; a missing or empty home gives none. */
async function loadGpgHome(home: string): Promise<{ keys: openpgp.PublicKey[]; trust: Map<string, KeyTrust> }> {
  const trust = new Map<string, KeyTrust>();
  if (!hasKeyring(home)) return { keys: [], trust };
  let res;
  try {
    res = await runGpg(home, ['--export']);
  } catch (e) {
    if (e instanceof GpgMissingError) return { keys: [], trust };
    throw e;
  }
  if (res.code !== 0 || res.stdout.length === 0) return { keys: [], trust };
  const keys = await readPublicKeys(new Uint8Array(res.stdout), false);
  const { validity, problem } = await readHomeValidity(home);
  for (const key of keys) {
    const letter = validity.get(hex(key.getFingerprint()));
    const word = problem ? `unknown: ${problem}` : validityWord(letter);
    trust.set(hex(key.getFingerprint()), { trusted: !problem && isTrustedValidity(letter), validity: word, gpgHome: home });
  }
  return { keys, trust };
}

/** Merges copies of the same key (e.g. from a trust file and the GnuPG home), keeping every revocation. */
async function mergeKeys(keys: openpgp.PublicKey[], now: Date): Promise<openpgp.PublicKey[]> {
  const byFpr = new Map<string, openpgp.PublicKey>();
  const extra: openpgp.PublicKey[] = [];
  for (const key of keys) {
    const fpr = key.getFingerprint();
    const seen = byFpr.get(fpr);
    if (!seen) {
      byFpr.set(fpr, key);
      continue;
    }
    try {
      byFpr.set(fpr, await seen.update(key, now, fullConfig()));
    } catch {
      extra.push(key);
    }
  }
  return [...byFpr.values(), ...extra];
}

/** A detached signature is a few hundred bytes to a few KiB; anything this large is not one. */
const MAX_SIGNATURE_TEXT = 1 << 20;

const DOCUMENT_SIGNATURES = new Set<number>([openpgp.enums.signature.binary, openpgp.enums.signature.text]);

function signatureTypeName(t: number | null): string {
  if (t === null) return 'unknown';
  try {
    return `${(openpgp.enums.read as (e: object, v: number) => string)(openpgp.enums.signature, t)} (0x${t.toString(16).padStart(2, '0')})`;
  } catch {
    return `0x${t.toString(16)}`;
  }
}

const fullConfig = (): openpgp.Config => ({ ...openpgp.config, ...strictConfig }) as openpgp.Config;

export class GpgVerifier implements Verifier {
  readonly type = 'gpg';
  /**
   * `trust`: per primary fingerprint (upper-case hex) whether the key counts; keys not in it count
   * (without a map, every key does).
   */
  constructor(
    private readonly keys: openpgp.PublicKey[],
    private readonly now?: Date,
    private readonly trust: Map<string, KeyTrust> = new Map(),
  ) {}

  recognizes(signature: string): boolean {
    return isPgpSignature(signature);
  }

  /** The number of trusted primary keys (for diagnostics). */
  get keyCount(): number {
    return this.keys.length;
  }

  async verify(data: Uint8Array, signature: string): Promise<VerificationResult> {
    try {
      return await this.check(data, signature);
    } catch (e) {
      return { status: 'invalid', type: 'gpg', reason: `signature could not be checked: ${describeError(e)}` };
    }
  }

  private async check(data: Uint8Array, text: string): Promise<VerificationResult> {
    const invalid = (reason: string, extra: Partial<VerificationResult> = {}): VerificationResult => ({ status: 'invalid', type: 'gpg', ...extra, reason });
    if (typeof text !== 'string') return invalid('signature is not text');
    if (text.length > MAX_SIGNATURE_TEXT) return invalid(`signature text is ${text.length} characters long (limit ${MAX_SIGNATURE_TEXT})`);
    // 1. Armour: exactly one "PGP SIGNATURE" block, valid base64, matching CRC-24.
    let binary: Uint8Array;
    try {
      const armored = dearmor(text);
      if (armored.type !== 'SIGNATURE') return invalid(`expected a detached signature (PGP SIGNATURE), found a PGP ${armored.type}`);
      binary = armored.data;
    } catch (e) {
      if (e instanceof ArmorError) return invalid(`corrupt armour: ${e.message}`);
      throw e;
    }
    // 2. Packets: exactly one complete signature packet.
    let packets;
    try {
      packets = splitPackets(binary);
    } catch (e) {
      if (e instanceof PacketError) return invalid(`malformed signature: ${e.message}`);
      throw e;
    }
    if (packets.length !== 1) return invalid(`expected exactly one signature packet, found ${packets.length} packets`);
    if (packets[0].tag !== 2) return invalid(`expected a signature packet, found a ${PACKET_NAMES[packets[0].tag] ?? `type ${packets[0].tag}`} packet`);
    let sig: openpgp.Signature;
    try {
      sig = await openpgp.readSignature({ binarySignature: binary, config: { ...strictConfig, ignoreUnsupportedPackets: false, ignoreMalformedPackets: false } });
    } catch (e) {
      return invalid(`malformed signature packet: ${describeError(e)}`);
    }
    if (sig.packets.length !== 1) return invalid(`expected exactly one signature packet, found ${sig.packets.length}`);
    const packet = sig.packets[0];
    const createdAt = packet.created ?? undefined;
    const issuer = packet.issuerKeyID;
    const issuerHex = issuer && issuer.toHex() !== '0000000000000000' ? hex(issuer.toHex()) : undefined;
    const base: Partial<VerificationResult> = { keyId: issuerHex, createdAt };
    // 3. Signature policy checks, independent of the key.
    if (packet.version !== 4 && packet.version !== 6) return invalid(`unsupported signature version ${packet.version}`, base);
    if (packet.signatureType === null || !DOCUMENT_SIGNATURES.has(packet.signatureType)) {
      return invalid(`signature type ${signatureTypeName(packet.signatureType)} is not a binary or text document signature`, base);
    }
    if (packet.hashAlgorithm === null || !ALLOWED_HASHES.has(packet.hashAlgorithm)) {
      return invalid(`weak or unsupported hash algorithm ${hashName(packet.hashAlgorithm)} (SHA-256 or stronger required)`, base);
    }
    if (!createdAt) return invalid('signature has no creation time', base);
    // 4. Find the issuer among the trusted keys.
    const issuerFpr = packet.issuerFingerprint ? hex(Buffer.from(packet.issuerFingerprint).toString('hex')) : undefined;
    if (!issuerHex && !issuerFpr) return { status: 'unknown-key', type: 'gpg', createdAt, reason: 'signature names no issuer key' };
    const candidates: { key: openpgp.PublicKey; signing: openpgp.PublicKey | openpgp.Subkey }[] = [];
    for (const key of this.keys) {
      for (const k of key.getKeys()) {
        const fpr = hex(k.getFingerprint());
        if (issuerFpr ? fpr === issuerFpr : hex(k.getKeyID().toHex()) === issuerHex) candidates.push({ key, signing: k });
      }
    }
    if (candidates.length === 0) {
      const keyId = issuerHex ?? issuerFpr!.slice(-16);
      return {
        status: 'unknown-key', type: 'gpg', keyId, createdAt,
        reason: `signed by key ${keyId}, which is not among the trusted keys`,
        details: issuerFpr ? { issuerFingerprint: issuerFpr } : undefined,
      };
    }
    let last: VerificationResult | undefined;
    let untrusted: VerificationResult | undefined;
    for (const c of candidates) {
      last = await this.checkWithKey(data, sig, c.key, c.signing, createdAt);
      if (last.status !== 'valid') continue;
      const t = this.trust.get(hex(c.key.getFingerprint()));
      if (!t || t.trusted) return last;
      untrusted ??= this.notTrusted(last, c.key, t);
    }
    return untrusted ?? last!;
  }

  /** A good signature by a key gpg does not hold valid enough: not counted, and the reader told what to do. */
  private notTrusted(result: VerificationResult, key: openpgp.PublicKey, t: KeyTrust): VerificationResult {
    const id = hex(key.getKeyID().toHex());
    return {
      ...result,
      status: 'unknown-key',
      reason: `key ${id} is in the GnuPG home but not trusted (validity ${t.validity ?? 'unknown'}): trust it with gpg --edit-key ${id} trust, or pass it with --trust`,
      details: { ...result.details, validity: t.validity, gpgHome: t.gpgHome },
    };
  }

  private async checkWithKey(
    data: Uint8Array,
    sig: openpgp.Signature,
    key: openpgp.PublicKey,
    signing: openpgp.PublicKey | openpgp.Subkey,
    createdAt: Date,
  ): Promise<VerificationResult> {
    const now = this.now ?? new Date();
    const config = fullConfig();
    const keyId = hex(signing.getKeyID().toHex());
    const info: VerificationResult = {
      status: 'valid', type: 'gpg', keyId, fingerprint: hex(key.getFingerprint()),
      signer: await primaryUserId(key, now), createdAt,
    };
    const invalid = (reason: string): VerificationResult => ({ ...info, status: 'invalid', reason });
    const isSub = signing !== key;
    // Explicit key checks with clear reasons; openpgp.js below remains the authority.
    for (const [what, k] of isSub ? [['primary key', key], ['signing subkey', signing]] as const : [['key', key]] as const) {
      const algo = k.getAlgorithmInfo();
      const id = hex(k.getKeyID().toHex());
      if (algo.algorithm.startsWith('rsa') && (algo.bits ?? 0) < 2048) return invalid(`${what} ${id} is RSA ${algo.bits} bits (at least 2048 required)`);
      if (algo.algorithm === 'dsa' || algo.algorithm === 'elgamal') return invalid(`${what} ${id} uses ${algo.algorithm}, which is not accepted`);
    }
    const primaryId = hex(key.getKeyID().toHex());
    if (await key.isRevoked(undefined, undefined, now, config)) return invalid(`key ${primaryId} is revoked`);
    const keyExpiry = await key.getExpirationTime(undefined, config).catch(() => null);
    if (keyExpiry instanceof Date && keyExpiry <= now) return invalid(`key ${primaryId} expired on ${keyExpiry.toISOString()}`);
    if (isSub) {
      const sub = signing as openpgp.Subkey;
      if (sub.bindingSignatures.length === 0) return invalid(`subkey ${keyId} has no binding signature from key ${primaryId}`);
      let binding: openpgp.SignaturePacket;
      try {
        binding = await sub.verify(now, config);
      } catch (e) {
        const msg = describeError(e);
        if (/revoked/i.test(msg)) return invalid(`subkey ${keyId} is revoked`);
        if (/expired/i.test(msg)) return invalid(`subkey ${keyId} is expired`);
        return invalid(`subkey ${keyId} has no valid binding signature from key ${primaryId}: ${msg}`);
      }
      void binding;
    }
    // Cryptographic check, signature time checks and key validity at signing time.
    try {
      const message = await openpgp.createMessage({ binary: data });
      const res = await openpgp.verify({ message, signature: sig, verificationKeys: [key], date: now, format: 'binary', expectSigned: false, config: strictConfig });
      const first = res.signatures[0];
      if (!first) return invalid('no signature to check');
      await first.verified;
    } catch (e) {
      const msg = describeError(e);
      if (/Signed digest did not match|Signature verification failed/.test(msg)) return invalid(`signature does not match the data: ${msg}`);
      return invalid(`signature rejected: ${msg}`);
    }
    // The key must still be valid and signing-capable now (not expired, revoked, or weak).
    try {
      await key.getSigningKey(signing.getKeyID(), now, undefined, config);
    } catch (e) {
      return invalid(`key ${keyId} is not valid for signing now: ${describeError(e)}`);
    }
    return info;
  }
}

export async function createGpgVerifier(opts: GpgVerifierOptions = {}): Promise<GpgVerifier> {
  const keys: openpgp.PublicKey[] = [];
  for (const file of opts.trust ?? []) keys.push(...(await loadTrustFile(file)));
  const fromFiles = new Set(keys.map((k) => hex(k.getFingerprint())));
  const home = await loadGpgHome(opts.gpgHome ?? defaultGpgHome());
  keys.push(...home.keys);
  // A key given in a trust file is trusted as given, whatever its validity in the home.
  const trust = new Map([...home.trust].filter(([fpr]) => !fromFiles.has(fpr)));
  return new GpgVerifier(await mergeKeys(keys, opts.now ?? new Date()), opts.now, trust);
}
