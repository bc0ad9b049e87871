/** Reading OpenPGP keys (armoured or binary, one or many) into openpgp.js objects. */
import * as openpgp from 'openpgp';
import { ArmorError, PacketError, dearmorAll, splitKeyBlocks } from './armor.js';

/** Verification policy, stricter than openpgp.js' defaults where those are laxer. */
export const strictConfig: openpgp.PartialConfig = {
  minRSABits: 2048,
  rejectHashAlgorithms: new Set([openpgp.enums.hash.md5, openpgp.enums.hash.ripemd]),
  rejectMessageHashAlgorithms: new Set([
    openpgp.enums.hash.md5, openpgp.enums.hash.ripemd, openpgp.enums.hash.sha1, openpgp.enums.hash.sha224,
  ]),
  rejectPublicKeyAlgorithms: new Set([openpgp.enums.publicKey.elgamal, openpgp.enums.publicKey.dsa]),
  allowMissingKeyFlags: false,
  allowInsecureVerificationWithReformattedKeys: false,
};

/** Hash algorithms accepted for document signatures (SHA-256 and stronger). */
export const ALLOWED_HASHES = new Set<number>([
  openpgp.enums.hash.sha256, openpgp.enums.hash.sha384, openpgp.enums.hash.sha512,
  openpgp.enums.hash.sha3_256, openpgp.enums.hash.sha3_512,
]);

export function hashName(h: number | null): string {
  if (h === null) return 'none';
  try {
    return openpgp.enums.read(openpgp.enums.hash, h).toUpperCase();
  } catch {
    return `hash #${h}`;
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** Armoured unless it starts like a binary packet; text around armoured blocks is allowed. */
function looksArmored(bytes: Uint8Array): boolean {
  if (bytes.length === 0 || (bytes[0] & 0x80) !== 0) return false;
  return textDecoder.decode(bytes.subarray(0, Math.min(bytes.length, 64 * 1024))).includes('-----BEGIN PGP ');
}

/** Splits key material (armoured blocks or binary) into binary transferable keys. */
export function keyBlocks(bytes: Uint8Array): { blocks: Uint8Array[]; armorTypes: string[] } {
  if (looksArmored(bytes)) {
    const blocks: Uint8Array[] = [];
    const armorTypes: string[] = [];
    for (const a of dearmorAll(textDecoder.decode(bytes), { lenient: true })) {
      armorTypes.push(a.type);
      if (a.type !== 'PUBLIC KEY BLOCK' && a.type !== 'PRIVATE KEY BLOCK') continue;
      blocks.push(...splitKeyBlocks(a.data));
    }
    return { blocks, armorTypes };
  }
  return { blocks: splitKeyBlocks(bytes), armorTypes: [] };
}

export function describeError(e: unknown): string {
  if (e instanceof ArmorError || e instanceof PacketError) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/** Reads every key in `bytes` as public keys. `strict`: any unreadable key throws; otherwise it is skipped. */
export async function readPublicKeys(bytes: Uint8Array, strict: boolean): Promise<openpgp.PublicKey[]> {
  let blocks: Uint8Array[];
  try {
    blocks = keyBlocks(bytes).blocks;
  } catch (e) {
    if (strict) throw e;
    return [];
  }
  const keys: openpgp.PublicKey[] = [];
  for (const block of blocks) {
    try {
      const key = await openpgp.readKey({ binaryKey: block });
      keys.push(key.isPrivate() ? key.toPublic() : key);
    } catch (e) {
      if (strict) throw e;
    }
  }
  return keys;
}

/** Reads the first secret key in `bytes`; undefined when there is none. */
export async function readFirstPrivateKey(bytes: Uint8Array): Promise<openpgp.PrivateKey | undefined> {
  const { blocks } = keyBlocks(bytes);
  for (const block of blocks) {
    if (block[0] === undefined) continue;
    const first = block[0];
    const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
    if (tag !== 5) continue;
    return openpgp.readPrivateKey({ binaryKey: block });
  }
  return undefined;
}

export const hex = (s: string): string => s.toUpperCase();

export function algorithmName(info: openpgp.AlgorithmInfo): string {
  const a = info.algorithm;
  if (a.startsWith('rsa')) return `rsa${info.bits ?? ''}`;
  if (info.curve) {
    const curve = info.curve === 'ed25519Legacy' ? 'ed25519' : info.curve === 'curve25519Legacy' ? 'cv25519' : info.curve;
    return a === 'ecdsa' ? `ecdsa-${curve}` : curve;
  }
  return a;
}

/** Primary user id as a string ("Name <email>"), falling back to the first user id. */
export async function primaryUserId(key: openpgp.Key, date?: Date): Promise<string | undefined> {
  try {
    const p = await key.getPrimaryUser(date);
    if (p.user.userID) return p.user.userID.userID;
  } catch {
    /* expired/revoked/no self-signature: fall back */
  }
  return key.getUserIDs()[0];
}
