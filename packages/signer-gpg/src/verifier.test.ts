import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core/formats';
import { createGpgVerifier, isPgpSignature, type GpgVerifier } from './verifier.js';
import {
  DAY, HOUR, armorAsSignature, binaryOf, cleanup, craftSignature, detachedSign, eccKey, enc, rsaKey, tmp, writeTmp,
} from './__tests__/helpers.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const noHome = () => `${tmp()}/no-such-home`;
const DATA = enc('sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2');

async function verifierFor(...keys: (openpgp.Key | string)[]): Promise<GpgVerifier> {
  const files = keys.map((k, i) => writeTmp(`trust${i}.asc`, typeof k === 'string' ? k : k.toPublic().armor()));
  return createGpgVerifier({ trust: files, gpgHome: noHome() });
}

let alice: openpgp.PrivateKey;
let rsa: openpgp.PrivateKey;
beforeAll(async () => {
  [alice, rsa] = await Promise.all([eccKey('Alice'), rsaKey('Rsa')]);
});
afterAll(cleanup);

describe('isPgpSignature', () => {
  it('recognises the detached signature armour only', () => {
    expect(isPgpSignature(fixture('docker-sign-verify.sig.asc'))).toBe(true);
    expect(isPgpSignature('\n  -----BEGIN PGP SIGNATURE-----\r\n\r\nabc')).toBe(true);
    expect(isPgpSignature('-----BEGIN PGP SIGNED MESSAGE-----\n')).toBe(false);
    expect(isPgpSignature('-----BEGIN PKI SIGNATURE-----\n')).toBe(false);
    expect(isPgpSignature('-----BEGIN PGP PUBLIC KEY BLOCK-----\n')).toBe(false);
    expect(isPgpSignature('hello -----BEGIN PGP SIGNATURE-----')).toBe(false);
  });
});

describe('valid signatures', () => {
  it('verifies an ed25519 signature and reports who signed', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA);
    const r = await v.verify(DATA, sig);
    expect(r).toMatchObject({
      status: 'valid', type: 'gpg', keyId: alice.getKeyID().toHex().toUpperCase(),
      fingerprint: alice.getFingerprint().toUpperCase(), signer: 'Alice <alice@example.com>',
    });
    expect(r.createdAt).toBeInstanceOf(Date);
    expect(r.keyId).toMatch(/^[0-9A-F]{16}$/);
    expect(r.fingerprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('verifies an RSA 2048 signature', async () => {
    const v = await verifierFor(rsa, alice);
    expect((await v.verify(DATA, await detachedSign(rsa, DATA))).status).toBe('valid');
    expect((await v.verify(DATA, await detachedSign(alice, DATA))).status).toBe('valid');
  });

  it('accepts armour headers, CRLF line ends, trailing blanks and a missing checksum', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA);
    const withHeaders = sig.replace('-----BEGIN PGP SIGNATURE-----\n', '-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v2\nComment: made in a test\n');
    expect(withHeaders).toContain('Comment: made in a test');
    expect((await v.verify(DATA, withHeaders)).status).toBe('valid');
    expect((await v.verify(DATA, sig.replace(/\n/g, '\r\n'))).status).toBe('valid');
    expect((await v.verify(DATA, `\n\n${sig.replace(/\n/g, '  \n')}\n\n`)).status).toBe('valid');
    expect((await v.verify(DATA, sig.split('\n').filter((l) => !/^=[A-Za-z0-9+/]{4}$/.test(l)).join('\n'))).status).toBe('valid');
  });

  it('verifies a text-mode document signature', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA, { text: true });
    expect((await openpgp.readSignature({ armoredSignature: sig })).packets[0].signatureType).toBe(openpgp.enums.signature.text);
    expect((await v.verify(DATA, sig)).status).toBe('valid');
  });

  it('reports the signing subkey id and the primary fingerprint', async () => {
    const key = await eccKey('Sub', { subkeys: [{}, { sign: true }] });
    const sub = key.subkeys[1];
    const sig = await detachedSign(key, DATA, { signingKeyIDs: sub.getKeyID() });
    const r = await (await verifierFor(key)).verify(DATA, sig);
    expect(r).toMatchObject({ status: 'valid', keyId: sub.getKeyID().toHex().toUpperCase(), fingerprint: key.getFingerprint().toUpperCase() });
  });

  it('trusts every key of a file holding several (armoured blocks and binary)', async () => {
    const bob = await eccKey('Bob');
    const armored = writeTmp('two.asc', alice.toPublic().armor() + '\n' + bob.toPublic().armor());
    const binary = writeTmp('two.gpg', new Uint8Array([...alice.toPublic().write(), ...rsa.toPublic().write()]));
    for (const file of [armored, binary]) {
      const v = await createGpgVerifier({ trust: [file], gpgHome: noHome() });
      expect((await v.verify(DATA, await detachedSign(alice, DATA))).status).toBe('valid');
    }
    const v2 = await createGpgVerifier({ trust: [armored], gpgHome: noHome() });
    expect((await v2.verify(DATA, await detachedSign(bob, DATA))).status).toBe('valid');
    const v3 = await createGpgVerifier({ trust: [binary], gpgHome: noHome() });
    expect((await v3.verify(DATA, await detachedSign(rsa, DATA))).status).toBe('valid');
  });

  it('ignores text around armoured key blocks in trust files (as gpg --import does)', async () => {
    const file = writeTmp('described.asc', `Release signing key\npub ed25519 ...\n\n${alice.toPublic().armor()}\nThanks!\n`);
    const v = await createGpgVerifier({ trust: [file], gpgHome: noHome() });
    expect((await v.verify(DATA, await detachedSign(alice, DATA))).status).toBe('valid');
  });

  it('accepts a private key file as a trust source (using its public part)', async () => {
    const v = await verifierFor(alice.armor());
    expect((await v.verify(DATA, await detachedSign(alice, DATA))).status).toBe('valid');
  });
});

describe('unknown keys', () => {
  it('reports the docker-sign-verify fixture as unknown-key, not invalid', async () => {
    const v = await verifierFor(alice);
    const r = await v.verify(enc(fixture('docker-sign-verify.digest').trim()), fixture('docker-sign-verify.sig.asc'));
    expect(r).toMatchObject({ status: 'unknown-key', type: 'gpg', keyId: '9DD1BB948581B0AD' });
    expect(r.createdAt).toEqual(new Date(0x5d2927eb * 1000));
  });

  it('reports unknown-key with no trusted keys at all (missing GnuPG home)', async () => {
    const v = await createGpgVerifier({ gpgHome: noHome() });
    const r = await v.verify(DATA, await detachedSign(alice, DATA));
    expect(r.status).toBe('unknown-key');
    expect(r.keyId).toBe(alice.getKeyID().toHex().toUpperCase());
  });
});

describe('rejections', () => {
  const expectInvalid = async (v: GpgVerifier, sig: string, reason: RegExp, data = DATA) => {
    const r = await v.verify(data, sig);
    expect(r.status, JSON.stringify(r)).toBe('invalid');
    expect(r.reason).toMatch(reason);
  };

  it('rejects a signature over other data', async () => {
    const v = await verifierFor(alice);
    await expectInvalid(v, await detachedSign(alice, DATA), /does not match the data/, enc('sha256:0000'));
  });

  it('rejects corrupt armour', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA);
    const lines = sig.split('\n');
    const bodyIdx = lines.findIndex((l, i) => i > 1 && l.length > 20);
    const flipped = [...lines];
    flipped[bodyIdx] = (flipped[bodyIdx][5] === 'A' ? 'B' : 'A').padStart(6, flipped[bodyIdx].slice(0, 5)) + flipped[bodyIdx].slice(6);
    const withCrc = armorAsSignature(binaryOf(sig));
    const crcLines = withCrc.trimEnd().split('\n');
    const crcIdx = crcLines.findIndex((l) => /^=[A-Za-z0-9+/]{4}$/.test(l));
    const badCrc = [...crcLines];
    badCrc[crcIdx] = badCrc[crcIdx] === '=AAAA' ? '=BBBB' : '=AAAA';
    const flippedCrc = [...crcLines];
    flippedCrc[crcIdx - 1] = (flippedCrc[crcIdx - 1][0] === 'A' ? 'B' : 'A') + flippedCrc[crcIdx - 1].slice(1);
    expect((await v.verify(DATA, withCrc)).status).toBe('valid');
    await expectInvalid(v, badCrc.join('\n'), /corrupt armour: .*checksum/);
    await expectInvalid(v, flippedCrc.join('\n'), /corrupt armour|malformed|does not match the data/);
    await expectInvalid(v, flipped.join('\n'), /corrupt armour|malformed|does not match the data/);
    await expectInvalid(v, sig.replace(/-----END PGP SIGNATURE-----\s*$/, ''), /corrupt armour: missing armour tail/);
    await expectInvalid(v, sig.replace('-----END PGP SIGNATURE-----', '-----END PGP MESSAGE-----'), /corrupt armour/);
    await expectInvalid(v, lines.map((l, i) => (i === bodyIdx ? l.slice(0, 10) + '*' + l.slice(11) : l)).join('\n'), /corrupt armour: invalid character/);
    await expectInvalid(v, 'garbage\n' + sig, /corrupt armour/);
    await expectInvalid(v, sig + '\ntrailing garbage', /corrupt armour/);
    await expectInvalid(v, '', /corrupt armour/);
    await expectInvalid(v, '-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n', /corrupt armour: empty/);
    await expectInvalid(v, '-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n', /corrupt armour: .*base64/);
  });

  it('rejects truncated packets and trailing bytes', async () => {
    const v = await verifierFor(alice);
    const bin = binaryOf(await detachedSign(alice, DATA));
    await expectInvalid(v, armorAsSignature(bin.subarray(0, bin.length - 7)), /malformed signature: truncated/);
    await expectInvalid(v, armorAsSignature(bin.subarray(0, 1)), /malformed signature: truncated/);
    await expectInvalid(v, armorAsSignature(new Uint8Array([...bin, 0x00])), /malformed signature: invalid packet header/);
    // A length that claims more than is there, inside an otherwise well-formed header.
    const lying = new Uint8Array(bin);
    lying[1] = Math.min(255, lying[1] + 10);
    await expectInvalid(v, armorAsSignature(lying), /malformed signature|truncated/);
  });

  it('rejects anything but a single detached signature', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA);
    const cleartext = (await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: 'sha256:abc' }), signingKeys: alice })) as string;
    await expectInvalid(v, cleartext, /SIGNED MESSAGE/);
    const inline = (await openpgp.sign({ message: await openpgp.createMessage({ binary: DATA }), signingKeys: alice, format: 'armored' })) as string;
    await expectInvalid(v, inline, /found a PGP MESSAGE/);
    await expectInvalid(v, armorAsSignature(binaryOf(inline)), /exactly one signature packet|expected a signature packet/);
    await expectInvalid(v, alice.toPublic().armor(), /found a PGP PUBLIC KEY BLOCK/);
    await expectInvalid(v, armorAsSignature(alice.toPublic().write()), /exactly one signature packet/);
    const lone = new openpgp.PacketList<openpgp.AnyPacket>();
    lone.push(alice.toPublic().keyPacket);
    await expectInvalid(v, armorAsSignature(lone.write()), /expected a signature packet, found a public key packet/);
    const two = new Uint8Array([...binaryOf(sig), ...binaryOf(await detachedSign(alice, DATA))]);
    await expectInvalid(v, armorAsSignature(two), /exactly one signature packet, found 2/);
    await expectInvalid(v, sig + '\n' + sig, /corrupt armour: expected one armoured block/);
  });

  it('rejects signatures that are not binary/text document signatures', async () => {
    const v = await verifierFor(alice);
    // A key's own user-id certification, presented as a signature over the data.
    const certification = alice.users[0].selfCertifications[0];
    const list = new openpgp.PacketList<openpgp.SignaturePacket>();
    list.push(certification);
    await expectInvalid(v, new openpgp.Signature(list).armor(), /signature type .*0x13.* is not a binary or text document signature/);
    await expectInvalid(v, await craftSignature(alice, DATA, { type: openpgp.enums.signature.standalone }), /not a binary or text document signature/);
  });

  it('rejects SHA-1 and MD5 signatures', async () => {
    const v = await verifierFor(rsa);
    // Sanity: the crafting path makes valid SHA-256 signatures.
    expect((await v.verify(DATA, await craftSignature(rsa, DATA))).status).toBe('valid');
    await expectInvalid(v, await craftSignature(rsa, DATA, { hash: openpgp.enums.hash.sha1 }), /weak .*hash algorithm SHA1/);
    await expectInvalid(v, await craftSignature(rsa, DATA, { hash: openpgp.enums.hash.md5 }), /weak .*hash algorithm MD5/);
    await expectInvalid(v, await craftSignature(rsa, DATA, { hash: openpgp.enums.hash.sha224 }), /weak .*hash algorithm SHA224/);
  });

  it('rejects RSA keys under 2048 bits', async () => {
    const weak = await rsaKey('Weak', 1024);
    const v = await verifierFor(weak);
    const sig = await detachedSign(weak, DATA, { config: { minRSABits: 1024 } });
    await expectInvalid(v, sig, /RSA 1024 bits/);
  });

  it('rejects a signature by an expired key', async () => {
    const now = Date.now();
    const old = await eccKey('Old', { date: new Date(now - 10 * DAY), keyExpirationTime: DAY / 1000 });
    const sig = await detachedSign(old, DATA, { date: new Date(now - 9.8 * DAY) });
    const v = await verifierFor(old);
    await expectInvalid(v, sig, /expired/);
    // Checked as of a time when the key was valid, the same signature is good.
    const then = await createGpgVerifier({ trust: [writeTmp('old.asc', old.toPublic().armor())], gpgHome: noHome(), now: new Date(now - 9.5 * DAY) });
    expect((await then.verify(DATA, sig)).status).toBe('valid');
  });

  it('rejects a signature by an expired subkey', async () => {
    const now = Date.now();
    const key = await eccKey('OldSub', { date: new Date(now - 10 * DAY), subkeys: [{}, { sign: true, keyExpirationTime: DAY / 1000 }] });
    const sub = key.subkeys[1];
    const sig = await detachedSign(key, DATA, { signingKeyIDs: sub.getKeyID(), date: new Date(now - 9.8 * DAY) });
    await expectInvalid(await verifierFor(key), sig, /subkey .* is expired/);
  });

  it('rejects a signature made after the key expired', async () => {
    const now = Date.now();
    const old = await eccKey('Old2', { date: new Date(now - 10 * DAY), keyExpirationTime: DAY / 1000 });
    const sig = await detachedSign(old, DATA, { date: new Date(now - 5 * DAY), config: {} }).catch(() => null);
    // openpgp.js refuses to sign with an expired key; that is fine - nothing to check then.
    if (sig) await expectInvalid(await verifierFor(old), sig, /expired/);
  });

  it('rejects a signature by a revoked key', async () => {
    const key = await eccKey('Revoked');
    const sig = await detachedSign(key, DATA, { date: new Date(Date.now() - 30 * 60_000) });
    const { publicKey: revoked } = await openpgp.revokeKey({ key, format: 'object' });
    const v = await verifierFor(revoked);
    await expectInvalid(v, sig, /revoked/);
    // Revocation also wins when the unrevoked copy is trusted too (copies are merged).
    const both = await verifierFor(key, revoked);
    await expectInvalid(both, sig, /revoked/);
  });

  it('rejects a signature by a revoked subkey', async () => {
    const key = await eccKey('RevSub', { subkeys: [{}, { sign: true }] });
    const sub = key.subkeys[1];
    const sig = await detachedSign(key, DATA, { signingKeyIDs: sub.getKeyID(), date: new Date(Date.now() - 30 * 60_000) });
    const revokedSub = await sub.revoke(key.keyPacket as openpgp.SecretKeyPacket);
    const pub = key.toPublic();
    pub.subkeys[1].revocationSignatures.push(...revokedSub.revocationSignatures);
    await expectInvalid(await verifierFor(pub), sig, /subkey .* is revoked/);
  });

  it('rejects a signing subkey without its back-signature', async () => {
    const key = await eccKey('NoBack', { subkeys: [{}, { sign: true }] });
    const sig = await detachedSign(key, DATA, { signingKeyIDs: key.subkeys[1].getKeyID() });
    const pub = key.toPublic();
    expect((await (await verifierFor(pub)).verify(DATA, sig)).status).toBe('valid');
    for (const b of pub.subkeys[1].bindingSignatures) b.embeddedSignature = null;
    const v = await createGpgVerifier({ trust: [], gpgHome: noHome() });
    (v as unknown as { keys: openpgp.PublicKey[] }).keys.push(pub);
    await expectInvalid(v, sig, /embedded signature/i);
  });

  it('rejects a signature made in the future or by a key newer than the signature', async () => {
    const v = await verifierFor(alice);
    await expectInvalid(v, await detachedSign(alice, DATA, { date: new Date(Date.now() + DAY) }), /future/);
    const pastV = await createGpgVerifier({ trust: [writeTmp('a.asc', alice.toPublic().armor())], gpgHome: noHome(), now: new Date(Date.now() - 2 * HOUR) });
    await expectInvalid(pastV, await detachedSign(alice, DATA), /future|newer|not valid/);
  });

  it('rejects a grafted subkey (a subkey of key B attached to key A)', async () => {
    const a = await eccKey('Alpha');
    const b = await eccKey('Beta', { subkeys: [{}, { sign: true }] });
    const bSub = b.subkeys[1];
    const sig = await detachedSign(b, DATA, { signingKeyIDs: bSub.getKeyID() });
    // A's packets + B's signing subkey with B's binding signature.
    const withForeignBinding = new openpgp.PacketList<openpgp.AnyPacket>();
    withForeignBinding.push(...a.toPublic().toPacketList());
    withForeignBinding.push(...(b.toPublic().subkeys[1] as unknown as { toPacketList(): openpgp.AnyPacket[] }).toPacketList());
    const grafted = await openpgp.readKey({ binaryKey: withForeignBinding.write() });
    expect(grafted.getKeys(bSub.getKeyID()).length).toBe(1);
    await expectInvalid(await verifierFor(grafted), sig, /subkey .* no valid binding signature/);
    // A's packets + B's subkey packet with no binding signature at all.
    const bare = new openpgp.PacketList<openpgp.AnyPacket>();
    bare.push(...a.toPublic().toPacketList());
    bare.push(b.toPublic().subkeys[1].keyPacket);
    const file = writeTmp('bare.gpg', bare.write());
    const v = await createGpgVerifier({ trust: [file], gpgHome: noHome() });
    const r = await v.verify(DATA, sig);
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/subkey .* no .*binding signature/);
  });

  it('rejects a malformed armour header block', async () => {
    const v = await verifierFor(alice);
    const sig = await detachedSign(alice, DATA);
    await expectInvalid(v, sig.replace('-----BEGIN PGP SIGNATURE-----\n\n', '-----BEGIN PGP SIGNATURE-----\nVersion: x\n'), /corrupt armour: missing blank line/);
    await expectInvalid(v, `${sig.slice(0, 40)}${'A'.repeat(2 << 20)}`, /limit/);
  });

  it('never throws for hostile signature text', async () => {
    const v = await verifierFor(alice);
    for (const s of ['-----BEGIN PGP SIGNATURE-----', '-----BEGIN PGP SIGNATURE-----\n\n====\n-----END PGP SIGNATURE-----', '\0\0\0', 'x'.repeat(10000)]) {
      expect((await v.verify(DATA, s)).status).toBe('invalid');
    }
    expect((await v.verify(DATA, armorAsSignature(new Uint8Array([0xc2, 0x05, 0x04, 0x00, 0x01, 0x08, 0x00])))).status).toBe('invalid');
    expect((await v.verify(DATA, armorAsSignature(new Uint8Array([0x88, 0x03, 0x03, 0x00, 0x01])))).status).toBe('invalid');
  });
});

describe('trust files', () => {
  it('throws KeyInvalid naming a broken or missing trust file', async () => {
    const bad = writeTmp('bad.asc', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA*\n-----END PGP PUBLIC KEY BLOCK-----\n');
    const garbage = writeTmp('garbage.gpg', enc('not a key at all'));
    const empty = writeTmp('empty.asc', '');
    const sigOnly = writeTmp('sig.asc', await detachedSign(alice, DATA));
    const missing = `${tmp()}/missing.asc`;
    for (const file of [bad, garbage, empty, sigOnly, missing]) {
      const err = await createGpgVerifier({ trust: [file], gpgHome: noHome() }).then(() => null, (e: unknown) => e);
      expect(isDsvError(err, 'KeyInvalid'), `${file}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});
