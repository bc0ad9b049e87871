import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { DsvError, type KeyInfo, type Signer } from '@dsv/core/formats';
import { dearmor } from './armor.js';
import {
  GPG_ERR_BAD_PASSPHRASE, GPG_ERR_NO_PASSPHRASE, GpgMissingError, defaultGpgHome, gpgErrorCode, gpgMessage, hasKeyring, runGpg,
  type GpgResult,
} from './gpg.js';
import { ALLOWED_HASHES, algorithmName, describeError, hashName, hex, primaryUserId, readFirstPrivateKey, readPublicKeys, strictConfig } from './keys.js';

export interface GpgSignerOptions {
  /** A secret key file (armoured or binary), or a key id / fingerprint / user id in the GnuPG home. */
  key: string;
  /** Passphrase of the secret key. Fed to gpg on a pipe; never logged. */
  passphrase?: string;
  /** GnuPG home for key ids (default DSV_GPG_DATASTORE or ~/.gnupg). */
  gpgHome?: string;
  /**
   * How to sign a key from the GnuPG home: 'auto' (default) exports the secret key through gpg and
   * signs with openpgp.js, falling back to `gpg --detach-sign` when gpg cannot export it; 'gpg'
   * always signs through gpg.
   */
  signWith?: 'auto' | 'gpg';
}

/**
 * No salt notation: openpgp.js would add a hashed notation holding 32 random binary bytes, which
 * `gpg --status-fd` prints raw, and docker-sign-verify (which decodes gpg's output as strict UTF-8)
 * then cannot verify the signature. README.md ("Signatures we write") says what this trades away.
 */
const signConfig: openpgp.PartialConfig = {
  ...strictConfig, preferredHashAlgorithm: openpgp.enums.hash.sha512, nonDeterministicSignaturesViaNotation: false,
};


/** A key spec names a file when it exists as a file or looks like a path. */
function isFileSpec(spec: string): boolean {
  if (existsSync(spec)) {
    try {
      return statSync(spec).isFile();
    } catch {
      return false;
    }
  }
  return spec.includes('/') || /\.(asc|gpg|pgp|key|sec)$/i.test(spec);
}

/** Checks a fresh signature's hash algorithm; returns its issuer key id. */
async function checkSignature(armored: string, keyLabel: string): Promise<string | undefined> {
  let sig: openpgp.Signature;
  try {
    sig = await openpgp.readSignature({ binarySignature: dearmor(armored).data });
  } catch (e) {
    throw new DsvError('KeyInvalid', `signing with key ${keyLabel} produced no valid signature: ${describeError(e)}`, { key: keyLabel });
  }
  const h = sig.packets[0]?.hashAlgorithm ?? null;
  if (!ALLOWED_HASHES.has(h as number)) {
    throw new DsvError('KeyInvalid', `key ${keyLabel} produced a signature with weak hash ${hashName(h)}; SHA-256 or stronger is required`, { key: keyLabel });
  }
  const id = sig.packets[0]?.issuerKeyID;
  return id ? hex(id.toHex()) : undefined;
}

/** Signs with openpgp.js using a decrypted private key. */
class OpenPgpSigner implements Signer {
  readonly type = 'gpg';
  constructor(
    private readonly key: openpgp.PrivateKey,
    private readonly signingKey: openpgp.PrivateKey | openpgp.Subkey,
    private readonly label: string,
  ) {}

  async describeKey(): Promise<KeyInfo> {
    return {
      type: 'gpg',
      keyId: hex(this.signingKey.getKeyID().toHex()),
      fingerprint: hex(this.key.getFingerprint()),
      identity: await primaryUserId(this.key),
      algorithm: algorithmName(this.signingKey.getAlgorithmInfo()),
    };
  }

  async sign(data: Uint8Array): Promise<string> {
    const message = await openpgp.createMessage({ binary: data });
    let out: string;
    try {
      out = (await openpgp.sign({
        message, signingKeys: this.key, signingKeyIDs: this.signingKey.getKeyID(), detached: true, format: 'armored', config: signConfig,
      })) as string;
    } catch (e) {
      throw new DsvError('KeyInvalid', `key ${this.label} cannot sign: ${describeError(e)}`, { key: this.label });
    }
    await checkSignature(out, this.label);
    return out;
  }
}

function passphraseError(code: number | undefined, label: string, given: boolean): DsvError | undefined {
  if (code === GPG_ERR_BAD_PASSPHRASE) {
    return new DsvError('PassphraseInvalid', given ? `wrong passphrase for key ${label}` : `key ${label} is protected by a passphrase and none was given`, { key: label });
  }
  if (code === GPG_ERR_NO_PASSPHRASE) return new DsvError('PassphraseInvalid', `key ${label} is protected by a passphrase and none was given`, { key: label });
  return undefined;
}

/** Signs by running `gpg --detach-sign` (for keys gpg will not export, e.g. on a smartcard). */
class GpgBinarySigner implements Signer {
  readonly type = 'gpg';
  constructor(
    private readonly home: string,
    private readonly spec: string,
    private readonly passphrase: string | undefined,
    private info: KeyInfo,
  ) {}

  async describeKey(): Promise<KeyInfo> {
    return { ...this.info };
  }

  async sign(data: Uint8Array): Promise<string> {
    let res: GpgResult;
    try {
      res = await runGpg(
        this.home,
        ['--yes', '--personal-digest-preferences', 'SHA512 SHA384 SHA256', '--armor', '--detach-sign', '--local-user', this.spec, '--output', '-'],
        { stdin: data, passphrase: this.passphrase ?? '' },
      );
    } catch (e) {
      throw new DsvError('KeyInvalid', `cannot sign with key ${this.spec}: ${describeError(e)}`, { key: this.spec });
    }
    const pe = passphraseError(gpgErrorCode(res), this.spec, this.passphrase !== undefined && this.passphrase !== '');
    if (pe) throw pe;
    if (res.code !== 0 || res.stdout.length === 0) {
      throw new DsvError('KeyInvalid', `gpg cannot sign with key ${this.spec}: ${gpgMessage(res)}`, { key: this.spec });
    }
    const out = res.stdout.toString('utf8');
    const issuer = await checkSignature(out, this.spec);
    if (issuer) this.info = { ...this.info, keyId: issuer }; // the key gpg actually used
    return out;
  }
}

/**
 * Picks the signing (sub)key: the one named with a trailing "!", else the one gpg would pick — the
 * newest valid signing-capable subkey whose secret is present, else the primary key. Returns a stub
 * (secret elsewhere, e.g. on a smartcard) only when no usable key has its secret here.
 */
async function pickSigningKey(key: openpgp.PrivateKey, spec: string, label: string): Promise<openpgp.PrivateKey | openpgp.Subkey> {
  const exact = /^(?:0x)?([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})!$/.exec(spec);
  const config = { ...openpgp.config, ...strictConfig } as openpgp.Config;
  const now = new Date();
  type K = openpgp.PrivateKey | openpgp.Subkey;
  try {
    if (exact) {
      const want = exact[1].toUpperCase();
      const k = key.getKeys().find((x) => hex(x.getFingerprint()) === want || hex(x.getKeyID().toHex()) === want);
      if (!k) throw new Error(`no (sub)key ${want}`);
      return (await key.getSigningKey(k.getKeyID(), now, undefined, config)) as K;
    }
    const best = (await key.getSigningKey(null as unknown as undefined, now, undefined, config)) as K;
    if (!isStub(best)) return best;
    const order = [...key.subkeys].sort((a, b) => b.getCreationTime().getTime() - a.getCreationTime().getTime());
    for (const k of [...order, key] as K[]) {
      if (isStub(k)) continue;
      try {
        return (await key.getSigningKey(k.getKeyID(), now, undefined, config)) as K;
      } catch {
        /* not a valid signing key */
      }
    }
    return best;
  } catch (e) {
    throw new DsvError('KeyInvalid', `key ${label} has no usable signing key: ${describeError(e)}`, { key: label });
  }
}

/** Decrypts the secret key material; a wrong or missing passphrase is PassphraseInvalid. */
async function unlock(key: openpgp.PrivateKey, signing: openpgp.PrivateKey | openpgp.Subkey, passphrase: string | undefined, label: string): Promise<openpgp.PrivateKey> {
  if (signing.isDecrypted()) return key;
  if (passphrase === undefined || passphrase === '') {
    throw new DsvError('PassphraseInvalid', `key ${label} is protected by a passphrase and none was given`, { key: label });
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (e) {
    const msg = describeError(e);
    if (/passphrase/i.test(msg)) throw new DsvError('PassphraseInvalid', `wrong passphrase for key ${label}`, { key: label });
    throw new DsvError('KeyInvalid', `key ${label} cannot be unlocked: ${msg}`, { key: label });
  }
}

function isStub(k: openpgp.PrivateKey | openpgp.Subkey): boolean {
  const p = k.keyPacket as openpgp.SecretKeyPacket;
  return typeof p.isDummy === 'function' && (p.isDummy() || p.isMissingSecretKeyMaterial());
}

async function fromKeyFile(file: string, passphrase: string | undefined): Promise<Signer> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DsvError('KeyInvalid', `key file ${file} cannot be read${code ? ` (${code})` : ''}`, { key: file });
  }
  let key: openpgp.PrivateKey | undefined;
  try {
    key = await readFirstPrivateKey(bytes);
  } catch (e) {
    throw new DsvError('KeyInvalid', `key file ${file} is not a valid OpenPGP key: ${describeError(e)}`, { key: file });
  }
  if (!key) throw new DsvError('KeyInvalid', `key file ${file} holds no OpenPGP secret key`, { key: file });
  const signing = await pickSigningKey(key, '', file);
  if (isStub(signing)) throw new DsvError('KeyInvalid', `key file ${file} lacks the secret part of signing key ${hex(signing.getKeyID().toHex())}`, { key: file });
  const unlocked = await unlock(key, signing, passphrase, file);
  const chosen = unlocked.getKeys(signing.getKeyID())[0] as openpgp.PrivateKey | openpgp.Subkey;
  return new OpenPgpSigner(unlocked, chosen, file);
}

/** Describes a GnuPG-home key from its public part (for signing through gpg). */
async function describeFromHome(home: string, spec: string, exportSpec: string): Promise<KeyInfo> {
  const res = await runGpg(home, ['--export', '--', exportSpec]);
  const keys = res.code === 0 ? await readPublicKeys(new Uint8Array(res.stdout), false) : [];
  const key = keys[0];
  if (!key) throw new DsvError('KeyInvalid', `key ${spec} is not in the GnuPG home ${home}`, { key: spec, gpgHome: home });
  let signing: openpgp.PublicKey | openpgp.Subkey = key;
  try {
    signing = await key.getSigningKey(undefined, new Date(), undefined, { ...openpgp.config, ...strictConfig } as openpgp.Config);
  } catch (e) {
    throw new DsvError('KeyInvalid', `key ${spec} has no usable signing key: ${describeError(e)}`, { key: spec });
  }
  return {
    type: 'gpg', keyId: hex(signing.getKeyID().toHex()), fingerprint: hex(key.getFingerprint()),
    identity: await primaryUserId(key), algorithm: algorithmName(signing.getAlgorithmInfo()),
  };
}

async function fromGpgHome(spec: string, passphrase: string | undefined, home: string, signWith: 'auto' | 'gpg'): Promise<Signer> {
  if (spec === '' || spec.startsWith('-') || /[\r\n\0]/.test(spec)) {
    throw new DsvError('KeyInvalid', `invalid key name "${spec.replace(/[\r\n\0]/g, ' ')}"`, { key: spec });
  }
  if (!hasKeyring(home)) {
    throw new DsvError('KeyInvalid', `key ${spec} is neither a key file nor in a GnuPG home (${home} has no keyring)`, { key: spec, gpgHome: home });
  }
  const exportSpec = spec.endsWith('!') ? spec.slice(0, -1) : spec;
  const viaGpg = async (): Promise<Signer> => new GpgBinarySigner(home, spec, passphrase, await describeFromHome(home, spec, exportSpec));
  try {
    if (signWith === 'gpg') return await viaGpg();
    const res = await runGpg(home, ['--export-secret-keys', '--', exportSpec], { passphrase: passphrase ?? '' });
    const code = gpgErrorCode(res);
    const pe = passphraseError(code, spec, passphrase !== undefined && passphrase !== '');
    if (pe) throw pe;
    if (res.code === 0 && res.stdout.length === 0) {
      throw new DsvError('KeyInvalid', `no secret key ${spec} in the GnuPG home ${home}`, { key: spec, gpgHome: home });
    }
    if (res.code !== 0 || res.stdout.length === 0) return await viaGpg(); // gpg refused to export: let gpg sign
    let key: openpgp.PrivateKey | undefined;
    try {
      key = await readFirstPrivateKey(new Uint8Array(res.stdout));
    } catch {
      key = undefined;
    }
    if (!key) return await viaGpg();
    const signing = await pickSigningKey(key, spec, spec);
    if (isStub(signing)) return await viaGpg(); // secret lives elsewhere (smartcard, offline): gpg knows how
    const unlocked = await unlock(key, signing, passphrase, spec);
    const chosen = unlocked.getKeys(signing.getKeyID())[0] as openpgp.PrivateKey | openpgp.Subkey;
    return new OpenPgpSigner(unlocked, chosen, spec);
  } catch (e) {
    if (e instanceof GpgMissingError) throw new DsvError('KeyInvalid', `cannot look up key ${spec}: ${e.message}`, { key: spec });
    throw e;
  }
}

export async function createGpgSigner(opts: GpgSignerOptions): Promise<Signer> {
  if (!opts || typeof opts.key !== 'string' || opts.key.trim() === '') throw new DsvError('KeyInvalid', 'no GPG key given', {});
  const key = opts.key.trim();
  if (isFileSpec(key)) return fromKeyFile(key, opts.passphrase);
  return fromGpgHome(key, opts.passphrase, opts.gpgHome ?? defaultGpgHome(), opts.signWith ?? 'auto');
}

