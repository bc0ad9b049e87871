// A key in the GnuPG home counts only at full or ultimate validity, as gpg's TRUST_FULLY /
// TRUST_ULTIMATE (and docker-sign-verify) count it. Real gpg homes and gpg's own trust model (owner
// trust, an introducer's certification); the shipped docker-verify and dsv verify as they are.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpgVerifier } from '@dsv/signer-gpg';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { bin, gpgRaw, makeArchive, setOwnerTrust, signaturesOf, validityIn, type Embedded } from './support.js';

const PASS = 'trust e2e passphrase';

let work: string;
let archive: string;
let signer: GpgHome;
let signerPub: string; // the signer's public key file
let entry: Embedded;
/** Verifying homes by the validity gpg gives the signer's key there. */
const homes: Record<'unknown' | 'marginal' | 'full' | 'ultimate', GpgHome> = {} as never;

/** A home holding the signer's key certified by an introducer whose owner trust is `level`. */
function homeViaIntroducer(level: 4 | 5): GpgHome {
  const home = makeGpgHome({ withKey: { name: 'Verifier', email: `verifier-${level}@example.com` } });
  const introducer = makeGpgHome({ withKey: { name: 'Introducer', email: `introducer-${level}@example.com` } });
  introducer.gpg(['--import'], signer.exportPublic());
  introducer.gpg(['--yes', '--quick-sign-key', signer.fingerprint]);
  home.gpg(['--import'], introducer.exportPublic());
  home.gpg(['--import'], introducer.gpg(['--armor', '--export', '--', signer.fingerprint])); // with the certification
  home.gpg(['--yes', '--quick-lsign-key', introducer.fingerprint]); // the verifier vouches for the introducer's key...
  setOwnerTrust(home.home, introducer.fingerprint, level); // ...and trusts it to introduce others that much
  return home;
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-gpg-trust-');
  signer = makeGpgHome({ withKey: { name: 'Trust Signer', email: 'trust-signer@example.com', passphrase: PASS } });
  signerPub = join(work, 'signer.asc');
  writeFileSync(signerPub, signer.exportPublic());
  archive = join(work, 'trust.tar');
  await makeArchive(work, archive, 'e2e/trust:1');
  const r = await bin('dsv', ['sign', '--key', signer.fingerprint, `docker-archive:${archive}:e2e/trust:1`, `docker-archive:${archive}:e2e/trust:signed`],
    { DSV_GPG_DATASTORE: signer.home, DSV_KEYPASS: PASS }, work);
  expect(r.code, r.all).toBe(0);
  [entry] = await signaturesOf(`docker-archive:${archive}:e2e/trust:signed`);

  homes.unknown = makeGpgHome();
  homes.unknown.gpg(['--import'], signer.exportPublic());
  homes.ultimate = makeGpgHome();
  homes.ultimate.gpg(['--import'], signer.exportPublic());
  setOwnerTrust(homes.ultimate.home, signer.fingerprint, 6);
  homes.full = homeViaIntroducer(5);
  homes.marginal = homeViaIntroducer(4);
}, 300_000);
afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

const dockerVerify = (home: GpgHome, env: NodeJS.ProcessEnv = {}) =>
  bin('docker-verify', ['archive', '-a', archive, 'e2e/trust:signed'], { DSV_GPG_DATASTORE: home.home, ...env }, work);
const dsvVerify = (home: GpgHome, args: string[] = []) =>
  bin('dsv', ['verify', ...args, `docker-archive:${archive}:e2e/trust:signed`], { DSV_GPG_DATASTORE: home.home }, work);

describe('GnuPG-home keys count by their validity', () => {
  it("gpg's own trust model gives the signer's key the validity each home is named for; gpg --verify says the same", () => {
    const letters = { unknown: '-', marginal: 'm', full: 'f', ultimate: 'u' } as const;
    const trustLines = { unknown: 'TRUST_UNDEFINED', marginal: 'TRUST_MARGINAL', full: 'TRUST_FULLY', ultimate: 'TRUST_ULTIMATE' } as const;
    const sigFile = join(work, 'entry.asc');
    writeFileSync(sigFile, entry.signature);
    writeFileSync(`${sigFile}.data`, entry.digest);
    for (const [name, home] of Object.entries(homes) as [keyof typeof homes, GpgHome][]) {
      expect(validityIn(home.home, signer.fingerprint), name).toBe(letters[name]);
      const status = gpgRaw(home.home, ['--status-fd', '1', '--verify', sigFile, `${sigFile}.data`]).stdout.toString('utf8');
      expect(status, name).toMatch(/^\[GNUPG:\] VALIDSIG /m);
      expect(status, name).toMatch(new RegExp(`^\\[GNUPG:\\] ${trustLines[name]} `, 'm'));
    }
  });

  it('imported but never trusted: docker-verify and dsv verify exit 1, saying why and what to do', async () => {
    const id = signer.keyId;
    const want = `key ${id} is in the GnuPG home but not trusted (validity unknown): trust it with gpg --edit-key ${id} trust, or pass it with --trust`;
    const legacy = await dockerVerify(homes.unknown);
    expect(legacy.code, legacy.all).toBe(1);
    expect(legacy.all).toContain(want);
    const modern = await dsvVerify(homes.unknown);
    expect(modern.code, modern.all).toBe(1);
    expect(modern.all).toContain(want);
    const lib = await (await createGpgVerifier({ gpgHome: homes.unknown.home })).verify(new TextEncoder().encode(entry.digest), entry.signature);
    expect(lib).toMatchObject({ status: 'unknown-key', fingerprint: signer.fingerprint, reason: want, details: { validity: 'unknown', gpgHome: homes.unknown.home } });
  });

  it('ultimate (owner trust 6) and full (certified by a fully trusted introducer): exit 0', async () => {
    for (const name of ['ultimate', 'full'] as const) {
      const legacy = await dockerVerify(homes[name]);
      expect(legacy.code, `${name}: ${legacy.all}`).toBe(0);
      expect(legacy.stdout).toContain('Signature check passed.');
      const modern = await dsvVerify(homes[name]);
      expect(modern.code, `${name}: ${modern.all}`).toBe(0);
    }
  });

  it('marginal (one marginally trusted introducer; the default model needs three): exit 1', async () => {
    const legacy = await dockerVerify(homes.marginal);
    expect(legacy.code, legacy.all).toBe(1);
    expect(legacy.all).toContain('not trusted (validity marginal)');
    const modern = await dsvVerify(homes.marginal);
    expect(modern.code, modern.all).toBe(1);
  });

  it('the same key given as a key file (--trust, DSV_GPG_TRUST, DSV_TRUST) is trusted as given', async () => {
    const modern = await dsvVerify(homes.unknown, ['--trust', signerPub]);
    expect(modern.code, modern.all).toBe(0);
    for (const variable of ['DSV_GPG_TRUST', 'DSV_TRUST']) {
      const legacy = await dockerVerify(homes.marginal, { [variable]: signerPub });
      expect(legacy.code, `${variable}: ${legacy.all}`).toBe(0);
    }
  });
});
