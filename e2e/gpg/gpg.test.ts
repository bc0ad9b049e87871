// The GPG signer/verifier against the real gpg: our signatures verify with `gpg --verify`, gpg's
// signatures verify with us, keys living only in a GnuPG home sign through their key id.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core';
import { createGpgSigner, createGpgVerifier } from '@dsv/signer-gpg';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';

const PASS = 'e2e passphrase with spaces';
const DATA = 'sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2';
const enc = (s: string) => new TextEncoder().encode(s);

let ed: GpgHome; // ed25519 primary, passphrase, signing subkey
let rsa: GpgHome; // rsa2048, no passphrase
let empty: GpgHome;
let work: string;

beforeAll(() => {
  ed = makeGpgHome({ withKey: { name: 'Ed Signer', email: 'ed@example.com', passphrase: PASS, signingSubkey: true } });
  rsa = makeGpgHome({ withKey: { name: 'Rsa Signer', email: 'rsa@example.com', algo: 'rsa2048' } });
  empty = makeGpgHome();
  work = tempDir('dsv-gpg-e2e-');
});
afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

/** `gpg --verify` in `home`; returns the VALIDSIG fingerprint of the signing key (throws when bad). */
function gpgVerify(home: GpgHome, signature: string, data: string): { signingFpr: string; primaryFpr: string } {
  const sigFile = join(work, `sig-${Math.random().toString(36).slice(2)}.asc`);
  const dataFile = `${sigFile}.data`;
  writeFileSync(sigFile, signature);
  writeFileSync(dataFile, data);
  const status = home.gpg(['--status-fd', '1', '--verify', sigFile, dataFile]);
  const m = /^\[GNUPG:\] VALIDSIG ([0-9A-F]{40}) .* ([0-9A-F]{40})$/m.exec(status);
  expect(status).toMatch(/^\[GNUPG:\] GOODSIG /m);
  return { signingFpr: m![1], primaryFpr: m![2] };
}

function gpgSign(home: GpgHome, data: string, passphrase?: string): string {
  const dataFile = join(work, `data-${Math.random().toString(36).slice(2)}`);
  writeFileSync(dataFile, data);
  const args = ['--armor', '--detach-sign', '--output', '-'];
  if (passphrase !== undefined) args.unshift('--passphrase-fd', '0');
  return home.gpg([...args, dataFile], passphrase !== undefined ? `${passphrase}\n` : undefined);
}

describe('signing with a key that lives only in a GnuPG home', () => {
  it('signs by fingerprint with a passphrase; gpg --verify accepts it; gpg would pick the same subkey', async () => {
    const signer = await createGpgSigner({ key: ed.fingerprint, passphrase: PASS, gpgHome: ed.home });
    const info = await signer.describeKey();
    expect(info).toMatchObject({ type: 'gpg', keyId: ed.signingKeyId, fingerprint: ed.fingerprint, identity: 'Ed Signer <ed@example.com>', algorithm: 'ed25519' });
    expect(info.keyId).not.toBe(ed.keyId); // the signing subkey, as gpg picks it
    const sig = await signer.sign(enc(DATA));
    const res = gpgVerify(ed, sig, DATA);
    expect(res.primaryFpr).toBe(ed.fingerprint);
    expect(res.signingFpr.endsWith(ed.signingKeyId)).toBe(true);
    // gpg's own choice of signing key is the same.
    const theirs = await (await createGpgVerifier({ gpgHome: ed.home })).verify(enc(DATA), gpgSign(ed, DATA, PASS));
    expect(theirs.keyId).toBe(info.keyId);
    // gpg rejects it over other data.
    expect(() => gpgVerify(ed, sig, `${DATA}x`)).toThrow();
  });

  it('signs by primary key id and by subkey id; a trailing ! forces that exact key', async () => {
    for (const [key, want] of [[ed.keyId, ed.signingKeyId], [ed.signingKeyId, ed.signingKeyId], [`${ed.keyId}!`, ed.keyId], [`${ed.signingKeyId}!`, ed.signingKeyId]]) {
      const signer = await createGpgSigner({ key, passphrase: PASS, gpgHome: ed.home });
      expect((await signer.describeKey()).keyId, key).toBe(want);
      const res = gpgVerify(ed, await signer.sign(enc(DATA)), DATA);
      expect(res.signingFpr.endsWith(want), key).toBe(true);
      expect(res.primaryFpr).toBe(ed.fingerprint);
    }
  });

  it('signs by user id and by long key id with an unprotected RSA 2048 key', async () => {
    for (const key of ['rsa@example.com', rsa.keyId, `0x${rsa.keyId}`]) {
      const signer = await createGpgSigner({ key, gpgHome: rsa.home });
      expect(await signer.describeKey()).toMatchObject({ keyId: rsa.keyId, fingerprint: rsa.fingerprint, algorithm: 'rsa2048' });
      expect(gpgVerify(rsa, await signer.sign(enc(DATA)), DATA).primaryFpr).toBe(rsa.fingerprint);
    }
  });

  it('signs with the primary key, like gpg, when the signing subkey has no secret in the home', async () => {
    const home = makeGpgHome({ withKey: { name: 'Stub Sub', email: 'stub@example.com', passphrase: PASS, signingSubkey: true } });
    expect(home.signingKeyId).not.toBe(home.keyId);
    home.gpg(['--yes', '--delete-secret-keys', `${home.signingFingerprint}!`]);
    const signer = await createGpgSigner({ key: 'stub@example.com', passphrase: PASS, gpgHome: home.home });
    expect((await signer.describeKey()).keyId).toBe(home.keyId);
    const sig = await signer.sign(enc(DATA));
    expect(gpgVerify(home, sig, DATA).signingFpr).toBe(home.fingerprint);
    // gpg makes the same choice.
    const theirs = await (await createGpgVerifier({ gpgHome: home.home })).verify(enc(DATA), gpgSign(home, DATA, PASS));
    expect(theirs).toMatchObject({ status: 'valid', keyId: home.keyId });
  });

  it('a wrong or missing passphrase is PassphraseInvalid, without the passphrase in the message', async () => {
    for (const passphrase of ['not it', undefined, '']) {
      const err = await createGpgSigner({ key: ed.fingerprint, passphrase, gpgHome: ed.home }).then(() => null, (e: unknown) => e);
      expect(isDsvError(err, 'PassphraseInvalid'), String(err)).toBe(true);
      expect((err as Error).message).not.toContain('not it');
      expect((err as Error).message).not.toContain(PASS);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('an unknown key id is KeyInvalid naming it', async () => {
    const err = await createGpgSigner({ key: 'nobody@example.com', gpgHome: rsa.home }).then(() => null, (e: unknown) => e);
    expect(isDsvError(err, 'KeyInvalid'), String(err)).toBe(true);
    expect((err as Error).message).toContain('nobody@example.com');
  });

  it('signs through gpg itself (signWith gpg): wrong passphrase rejected, signature verifies', async () => {
    const home = makeGpgHome({ withKey: { name: 'Via Gpg', email: 'via@example.com', passphrase: PASS } });
    // Wrong passphrase first: once the agent has the key unlocked, gpg itself would not ask again.
    const bad = await createGpgSigner({ key: home.fingerprint, passphrase: 'nope', gpgHome: home.home, signWith: 'gpg' });
    const err = await bad.sign(enc(DATA)).then(() => null, (e: unknown) => e);
    expect(isDsvError(err, 'PassphraseInvalid'), String(err)).toBe(true);
    const signer = await createGpgSigner({ key: home.fingerprint, passphrase: PASS, gpgHome: home.home, signWith: 'gpg' });
    expect(await signer.describeKey()).toMatchObject({ keyId: home.keyId, fingerprint: home.fingerprint });
    const sig = await signer.sign(enc(DATA));
    expect(gpgVerify(home, sig, DATA).primaryFpr).toBe(home.fingerprint);
    expect((await (await createGpgVerifier({ gpgHome: home.home })).verify(enc(DATA), sig)).status).toBe('valid');
  });
});

describe('verifying', () => {
  it('verifies signatures made by gpg --detach-sign (keys from the GnuPG home or a trust file)', async () => {
    for (const [home, pass] of [[ed, PASS], [rsa, undefined]] as const) {
      const sig = gpgSign(home, DATA, pass);
      const fromHome = await (await createGpgVerifier({ gpgHome: home.home })).verify(enc(DATA), sig);
      expect(fromHome).toMatchObject({ status: 'valid', type: 'gpg', keyId: home.signingKeyId, fingerprint: home.fingerprint });
      expect(fromHome.createdAt).toBeInstanceOf(Date);
      const trustFile = join(work, `${home.keyId}.asc`);
      writeFileSync(trustFile, home.exportPublic());
      const fromFile = await (await createGpgVerifier({ trust: [trustFile], gpgHome: empty.home })).verify(enc(DATA), sig);
      expect(fromFile.status).toBe('valid');
      expect(fromFile.signer).toMatch(/Signer <.*@example.com>$/);
      expect((await (await createGpgVerifier({ gpgHome: home.home })).verify(enc(`${DATA}0`), sig)).status).toBe('invalid');
    }
  });

  it('reports unknown-key when the home lacks the signer key', async () => {
    const sig = gpgSign(rsa, DATA);
    for (const gpgHome of [empty.home, ed.home, join(work, 'missing-home')]) {
      const r = await (await createGpgVerifier({ gpgHome })).verify(enc(DATA), sig);
      expect(r).toMatchObject({ status: 'unknown-key', keyId: rsa.keyId });
    }
  });

  it('verifies a binary (non-armoured) export used as a trust file', async () => {
    const trustFile = join(work, 'ed.gpg');
    ed.gpg(['--output', trustFile, '--export', ed.fingerprint]);
    const sig = await (await createGpgSigner({ key: ed.fingerprint, passphrase: PASS, gpgHome: ed.home })).sign(enc(DATA));
    expect((await (await createGpgVerifier({ trust: [trustFile], gpgHome: empty.home })).verify(enc(DATA), sig)).status).toBe('valid');
  });
});
