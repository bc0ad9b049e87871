import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDsvError, type SignerPlugin } from '@dsv/core/formats';
import gpgDefault, { createGpgSigner, createGpgVerifier, gpgPlugin, isPgpSignature } from './index.js';
import { DAY, cleanup, eccKey, enc, rsaKey, tmp, writeTmp } from './__tests__/helpers.js';

const DATA = enc('sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2');
const PASS = 'correct horse battery staple';
const noHome = () => `${tmp()}/no-such-home`;

let alice: openpgp.PrivateKey;
let rsa: openpgp.PrivateKey;
let aliceProtectedFile: string;
let alicePublicFile: string;
beforeAll(async () => {
  [alice, rsa] = await Promise.all([eccKey('Alice'), rsaKey('Rsa')]);
  aliceProtectedFile = writeTmp('alice.sec.asc', (await openpgp.encryptKey({ privateKey: alice, passphrase: PASS })).armor());
  alicePublicFile = writeTmp('alice.pub.asc', alice.toPublic().armor());
});
afterAll(cleanup);

async function expectError(p: Promise<unknown>, code: string, mention?: string): Promise<Error> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(isDsvError(err, code as never), String(err)).toBe(true);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  expect(msg).not.toContain(PASS);
  if (mention) expect(msg).toContain(mention);
  return err as Error;
}

describe('createGpgSigner from key files', () => {
  it('signs with a passphrase-protected armoured key; the signature verifies', async () => {
    const signer = await createGpgSigner({ key: aliceProtectedFile, passphrase: PASS, gpgHome: noHome() });
    expect(signer.type).toBe('gpg');
    const info = await signer.describeKey();
    expect(info).toEqual({
      type: 'gpg', keyId: alice.getKeyID().toHex().toUpperCase(), fingerprint: alice.getFingerprint().toUpperCase(),
      identity: 'Alice <alice@example.com>', algorithm: 'ed25519',
    });
    const sig = await signer.sign(DATA);
    expect(sig.startsWith('-----BEGIN PGP SIGNATURE-----')).toBe(true);
    expect(isPgpSignature(sig)).toBe(true);
    expect(sig).not.toContain(PASS);
    const parsed = await openpgp.readSignature({ armoredSignature: sig });
    expect(parsed.packets.length).toBe(1);
    expect(parsed.packets[0].signatureType).toBe(openpgp.enums.signature.binary);
    expect([openpgp.enums.hash.sha256, openpgp.enums.hash.sha384, openpgp.enums.hash.sha512]).toContain(parsed.packets[0].hashAlgorithm);
    const v = await createGpgVerifier({ trust: [alicePublicFile], gpgHome: noHome() });
    expect(await v.verify(DATA, sig)).toMatchObject({ status: 'valid', keyId: info.keyId, fingerprint: info.fingerprint, signer: info.identity });
    expect((await v.verify(enc('sha256:other'), sig)).status).toBe('invalid');
  });

  it('signs with an unprotected binary RSA 2048 key file', async () => {
    const file = writeTmp('rsa.sec.gpg', rsa.write());
    const signer = await createGpgSigner({ key: file });
    const info = await signer.describeKey();
    expect(info.algorithm).toBe('rsa2048');
    const v = await createGpgVerifier({ trust: [writeTmp('rsa.pub.gpg', rsa.toPublic().write())], gpgHome: noHome() });
    expect((await v.verify(DATA, await signer.sign(DATA))).status).toBe('valid');
  });

  it('signs with the signing subkey when the key has one', async () => {
    const key = await eccKey('Sub', { subkeys: [{}, { sign: true }] });
    const signer = await createGpgSigner({ key: writeTmp('sub.asc', key.armor()) });
    const info = await signer.describeKey();
    expect(info.keyId).toBe(key.subkeys[1].getKeyID().toHex().toUpperCase());
    expect(info.fingerprint).toBe(key.getFingerprint().toUpperCase());
    const sig = await openpgp.readSignature({ armoredSignature: await signer.sign(DATA) });
    expect(sig.packets[0].issuerKeyID.toHex().toUpperCase()).toBe(info.keyId);
  });

  it('rejects a wrong passphrase with PassphraseInvalid', async () => {
    await expectError(createGpgSigner({ key: aliceProtectedFile, passphrase: 'wrong' }), 'PassphraseInvalid', aliceProtectedFile);
    await expectError(createGpgSigner({ key: aliceProtectedFile, passphrase: `${PASS}x` }), 'PassphraseInvalid');
  });

  it('rejects a missing passphrase with PassphraseInvalid', async () => {
    await expectError(createGpgSigner({ key: aliceProtectedFile }), 'PassphraseInvalid', aliceProtectedFile);
  });

  it('rejects unreadable, public-only and garbage key files with KeyInvalid naming the file', async () => {
    const missing = `${tmp()}/missing.asc`;
    await expectError(createGpgSigner({ key: missing }), 'KeyInvalid', missing);
    await expectError(createGpgSigner({ key: alicePublicFile }), 'KeyInvalid', alicePublicFile);
    const garbage = writeTmp('garbage.key', 'hello');
    await expectError(createGpgSigner({ key: garbage }), 'KeyInvalid', garbage);
    const corrupt = writeTmp('corrupt.asc', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n');
    await expectError(createGpgSigner({ key: corrupt }), 'KeyInvalid', corrupt);
    await expectError(createGpgSigner({ key: '' }), 'KeyInvalid');
  });

  it('refuses weak, expired and revoked keys', async () => {
    const weak = await rsaKey('Weak', 1024);
    const weakFile = writeTmp('weak.asc', weak.armor());
    await expectError(createGpgSigner({ key: weakFile }), 'KeyInvalid', weakFile);
    const old = await eccKey('Old', { date: new Date(Date.now() - 10 * DAY), keyExpirationTime: DAY / 1000 });
    const oldFile = writeTmp('old.asc', old.armor());
    await expectError(createGpgSigner({ key: oldFile }), 'KeyInvalid', oldFile);
    const { privateKey: revoked } = await openpgp.revokeKey({ key: await eccKey('Rev'), format: 'object' });
    const revFile = writeTmp('rev.asc', revoked.armor());
    await expectError(createGpgSigner({ key: revFile }), 'KeyInvalid', revFile);
  });

  it('names an unknown key id in a missing GnuPG home with KeyInvalid', async () => {
    const home = tmp();
    await expectError(createGpgSigner({ key: 'DEADBEEFDEADBEEF', gpgHome: home }), 'KeyInvalid', 'DEADBEEFDEADBEEF');
    await expectError(createGpgSigner({ key: '--armor', gpgHome: home }), 'KeyInvalid');
  });

  it('an explicit gpgHome wins over the environment (the apps resolve the home and pass it)', async () => {
    const saved = { DSV_GPG_DATASTORE: process.env.DSV_GPG_DATASTORE, GNUPGHOME: process.env.GNUPGHOME };
    const fromEnv = `${tmp()}/home-from-env`;
    process.env.DSV_GPG_DATASTORE = fromEnv;
    process.env.GNUPGHOME = fromEnv;
    try {
      const home = `${tmp()}/explicit-home`;
      const err = await expectError(createGpgSigner({ key: 'DEADBEEFDEADBEEF', gpgHome: home }), 'KeyInvalid', home);
      expect(err.message).not.toContain(fromEnv);
      const viaPlugin = await expectError(gpgPlugin.createSigner({ key: 'DEADBEEFDEADBEEF', settings: { gpgHome: home } }), 'KeyInvalid', home);
      expect(viaPlugin.message).not.toContain(fromEnv);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('gpgPlugin', () => {
  it('is the default export and maps plugin options', async () => {
    expect(gpgDefault).toBe(gpgPlugin);
    const plugin: SignerPlugin = gpgPlugin;
    expect(plugin.type).toBe('gpg');
    expect(plugin.recognizes('-----BEGIN PGP SIGNATURE-----\n')).toBe(true);
    expect(plugin.recognizes('-----BEGIN PKI SIGNATURE-----\n')).toBe(false);
    const signer = await plugin.createSigner({ key: aliceProtectedFile, passphrase: PASS, settings: { gpgHome: noHome() } });
    const sig = await signer.sign(DATA);
    const verifier = await plugin.createVerifier({ trust: [alicePublicFile], settings: { gpgHome: noHome() } });
    expect(verifier.type).toBe('gpg');
    expect(verifier.recognizes(sig)).toBe(true);
    expect((await verifier.verify(DATA, sig)).status).toBe('valid');
    const empty = await plugin.createVerifier({ settings: { gpgHome: noHome() } });
    expect((await empty.verify(DATA, sig)).status).toBe('unknown-key');
  });
});
