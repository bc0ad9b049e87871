// Key and signature factories for unit tests (openpgp.js in-process; no gpg).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { dearmor } from '../armor.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const dirs: string[] = [];
export function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dsv-gpg-'));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
export function writeTmp(name: string, content: string | Uint8Array): string {
  const p = join(tmp(), name);
  writeFileSync(p, content);
  return p;
}

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

export async function eccKey(name: string, extra: Partial<openpgp.KeyOptions> = {}): Promise<openpgp.PrivateKey> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name, email: `${name.toLowerCase()}@example.com` }],
    date: new Date(Date.now() - HOUR), format: 'object', ...extra,
  } as openpgp.KeyOptions & { format: 'object' });
  return privateKey;
}

export async function rsaKey(name: string, bits = 2048): Promise<openpgp.PrivateKey> {
  const { privateKey } = await openpgp.generateKey({
    type: 'rsa', rsaBits: bits, userIDs: [{ name, email: `${name.toLowerCase()}@example.com` }],
    date: new Date(Date.now() - HOUR), format: 'object', config: { minRSABits: Math.min(bits, 2047) },
  });
  return privateKey;
}

/** A detached signature made by openpgp.js (as any other OpenPGP implementation would). */
export async function detachedSign(
  key: openpgp.PrivateKey, data: Uint8Array,
  opts: { date?: Date; signingKeyIDs?: openpgp.KeyID; config?: openpgp.PartialConfig; text?: boolean } = {},
): Promise<string> {
  const message = opts.text
    ? await openpgp.createMessage({ text: new TextDecoder().decode(data) })
    : await openpgp.createMessage({ binary: data });
  return (await openpgp.sign({
    message, signingKeys: key, detached: true, format: 'armored', date: opts.date ?? new Date(Date.now() - 60_000),
    signingKeyIDs: opts.signingKeyIDs, config: opts.config,
  })) as string;
}

/** Hand-made signature packet, for hash algorithms and signature types openpgp.js would not choose. */
export async function craftSignature(
  key: openpgp.PrivateKey, data: Uint8Array, opts: { hash?: openpgp.enums.hash; type?: openpgp.enums.signature } = {},
): Promise<string> {
  const literal = new openpgp.LiteralDataPacket();
  (literal as unknown as { setBytes(b: Uint8Array, f: number): void }).setBytes(data, openpgp.enums.literal.binary);
  const sp = new openpgp.SignaturePacket();
  sp.signatureType = opts.type ?? openpgp.enums.signature.binary;
  sp.hashAlgorithm = opts.hash ?? openpgp.enums.hash.sha256;
  sp.publicKeyAlgorithm = key.keyPacket.algorithm as unknown as openpgp.enums.publicKey;
  await (sp as unknown as { sign(k: unknown, d: unknown, date: Date, detached: boolean, c: unknown): Promise<void> }).sign(
    key.keyPacket, literal, new Date(Date.now() - 60_000), true, { ...openpgp.config, nonDeterministicSignaturesViaNotation: false },
  );
  const list = new openpgp.PacketList<openpgp.SignaturePacket>();
  list.push(sp);
  return new openpgp.Signature(list).armor();
}

/** Armours arbitrary bytes with a "PGP SIGNATURE" header (valid CRC), for packet-level attacks. */
export function armorAsSignature(bytes: Uint8Array): string {
  return openpgp.armor(openpgp.enums.armor.signature, bytes, undefined, undefined, undefined, true);
}

export function binaryOf(armored: string): Uint8Array {
  return dearmor(armored).data;
}
