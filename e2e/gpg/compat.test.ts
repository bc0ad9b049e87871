// What docker-sign-verify needs from our GPG signatures: `gpg --verify --status-fd 1` over every
// signature the shipped CLI embeds (sign, endorse, resign; RSA and ed25519 keys; a multi-platform
// index) prints status output that decodes as strict UTF-8 — the original decodes it so — and VALIDSIG.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Signer } from '@dsv/core';
import { createGpgSigner } from '@dsv/signer-gpg';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { bin, gpgRaw, makeArchive, signaturesOf, type Embedded } from './support.js';

const PASS = 'compat e2e passphrase';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

let work: string;
let ed: GpgHome; // ed25519, passphrase
let rsa: GpgHome; // rsa2048, passphrase
let both: GpgHome; // public keys of both, for gpg --verify
let archive: string;
const env = (home: GpgHome) => ({ DSV_GPG_DATASTORE: home.home, DSV_KEYPASS: PASS });

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-gpg-compat-');
  ed = makeGpgHome({ withKey: { name: 'Compat Ed', email: 'compat-ed@example.com', passphrase: PASS } });
  rsa = makeGpgHome({ withKey: { name: 'Compat Rsa', email: 'compat-rsa@example.com', passphrase: PASS, algo: 'rsa2048' } });
  both = makeGpgHome();
  both.gpg(['--import'], ed.exportPublic());
  both.gpg(['--import'], rsa.exportPublic());
  archive = join(work, 'compat.tar');
  await makeArchive(work, archive, 'e2e/compat:1');
}, 300_000);
afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

/** `gpg --status-fd 1 --verify` of one embedded signature: strict UTF-8, GOODSIG and VALIDSIG by `signer`. */
function expectGpgAccepts(entry: Embedded, signer: GpgHome, label: string): void {
  const sigFile = join(work, `sig-${Math.random().toString(36).slice(2)}.asc`);
  writeFileSync(sigFile, entry.signature);
  writeFileSync(`${sigFile}.data`, entry.digest);
  const res = gpgRaw(both.home, ['--status-fd', '1', '--verify', sigFile, `${sigFile}.data`]);
  let status = '';
  expect(() => (status = strictUtf8.decode(res.stdout)), `${label}: gpg's status output is not valid UTF-8`).not.toThrow();
  expect(res.code, `${label}:\n${status}`).toBe(0);
  expect(status).toMatch(/^\[GNUPG:\] GOODSIG /m);
  expect(status).toMatch(new RegExp(`^\\[GNUPG:\\] VALIDSIG [0-9A-F]{40} .* ${signer.fingerprint}$`, 'm'));
  expect(status, label).not.toMatch(/NOTATION_/);
  expect(readFileSync(sigFile, 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
}

const ref = (tag: string) => `docker-archive:${archive}:e2e/compat:${tag}`;

describe("gpg's status output over the signatures we embed", () => {
  it('sign, co-sign, endorse (ed25519 and RSA, dsv and docker-sign): every signature passes gpg --verify as strict UTF-8', async () => {
    const steps: [string, string[], GpgHome][] = [
      ['s1', ['dsv', 'sign', '--key', ed.fingerprint, ref('1'), ref('s1')], ed],
      ['s2', ['docker-sign', 'archive', '-a', archive, '-s', 'sign', '-k', rsa.keyId, 'e2e/compat:s1', 'e2e/compat:s2'], rsa],
      ['s3', ['docker-sign', 'archive', '-a', archive, '-s', 'endorse', '-k', ed.keyId, 'e2e/compat:s2', 'e2e/compat:s3'], ed],
      ['s4', ['dsv', 'sign', '-s', 'endorse', '--key', rsa.fingerprint, ref('s3'), ref('s4')], rsa],
    ];
    for (const [, [cmd, ...args], home] of steps) {
      const r = await bin(cmd as 'dsv' | 'docker-sign', args, env(home), work);
      expect(r.code, r.all).toBe(0);
    }
    const sigs = await signaturesOf(ref('s4'));
    expect(sigs).toHaveLength(4);
    const signers = [ed, rsa, ed, rsa];
    // Co-signatures share the first digest; endorsements each sign a different one.
    expect(sigs[1].digest).toBe(sigs[0].digest);
    expect(new Set(sigs.map((s) => s.digest)).size).toBe(3);
    sigs.forEach((s, i) => expectGpgAccepts(s, signers[i], `signature ${i}`));
  });

  it('resign (RSA through docker-sign, ed25519 through dsv): the single new signature passes too', async () => {
    const a = await bin('docker-sign', ['archive', '-a', archive, '-s', 'resign', '-k', rsa.keyId, 'e2e/compat:s4', 'e2e/compat:r1'], env(rsa), work);
    expect(a.code, a.all).toBe(0);
    const b = await bin('dsv', ['sign', '-s', 'resign', '--key', ed.keyId, ref('r1'), ref('r2')], env(ed), work);
    expect(b.code, b.all).toBe(0);
    for (const [tag, signer] of [['r1', rsa], ['r2', ed]] as const) {
      const sigs = await signaturesOf(ref(tag));
      expect(sigs, tag).toHaveLength(1);
      expectGpgAccepts(sigs[0], signer, tag);
    }
  });

  it('every signer path of the library: key file, key exported from the home, gpg --detach-sign', async () => {
    const keyFile = join(work, 'ed.sec.asc');
    writeFileSync(keyFile, ed.gpg(['--passphrase-fd', '0', '--armor', '--export-secret-keys', '--', ed.fingerprint], `${PASS}\n`));
    const digest = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const paths: [string, Promise<Signer>, GpgHome][] = [
      ['key file', createGpgSigner({ key: keyFile, passphrase: PASS, gpgHome: both.home }), ed],
      ['exported from the home (RSA)', createGpgSigner({ key: rsa.fingerprint, passphrase: PASS, gpgHome: rsa.home }), rsa],
      ['gpg --detach-sign', createGpgSigner({ key: ed.fingerprint, passphrase: PASS, gpgHome: ed.home, signWith: 'gpg' }), ed],
    ];
    for (const [label, signer, home] of paths) {
      const signature = await (await signer).sign(new TextEncoder().encode(digest));
      expectGpgAccepts({ digest, signature }, home, label);
    }
  });

  it('every image of a signed multi-platform index (OCI layout)', async () => {
    const dir = join(work, 'index-oci');
    const images = [
      await buildSampleImage({ format: 'oci', layers: [{ 'a/amd64': 'amd64\n' }], platform: 'linux/amd64' }),
      await buildSampleImage({ format: 'oci', layers: [{ 'a/arm64': 'arm64\n' }], platform: 'linux/arm64/v8' }),
    ];
    writeOciLayout(dir, { image: buildSampleIndex(images), tag: 'multi' });
    const r = await bin('dsv', ['sign', '--key', ed.fingerprint, `oci:${dir}:multi`, `oci:${dir}:signed`], env(ed), work);
    expect(r.code, r.all).toBe(0);
    for (const platform of ['linux/amd64', 'linux/arm64/v8']) {
      const entries = await signaturesOf(`oci:${dir}:signed`, platform);
      expect(entries, platform).toHaveLength(1);
      expectGpgAccepts(entries[0], ed, platform);
    }
  });
});
