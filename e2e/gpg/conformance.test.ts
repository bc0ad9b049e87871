// The signer-plugin conformance suite (@dsv/conformance) on the GPG signer, loaded through its plugin,
// with keys made by the real gpg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vitest from 'vitest';
import { gpgPlugin } from '@dsv/signer-gpg';
import { registerSuite, signerSuite } from '@dsv/conformance';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';

const PASS = 'conformance passphrase';
const DATA = new TextEncoder().encode(`sha256:${'7'.repeat(64)}`);
let signerHome: GpgHome;
let empty: GpgHome;
let trust: string;
let strangerTrust: string;

registerSuite(
  signerSuite('gpg', {
    async prepare() {
      signerHome = makeGpgHome({ withKey: { name: 'Conformance Signer', email: 'conf@example.com', passphrase: PASS, signingSubkey: true } });
      const stranger = makeGpgHome({ withKey: { name: 'Stranger', email: 'stranger@example.com' } });
      empty = makeGpgHome();
      const work = tempDir('dsv-gpg-conf-');
      trust = join(work, 'signer.asc');
      writeFileSync(trust, signerHome.exportPublic());
      strangerTrust = join(work, 'stranger.asc');
      writeFileSync(strangerTrust, stranger.exportPublic());
    },
    signer: () => gpgPlugin.createSigner({ key: signerHome.fingerprint, passphrase: PASS, settings: { gpgHome: signerHome.home } }),
    verifier: () => gpgPlugin.createVerifier({ trust: [trust], settings: { gpgHome: empty.home } }),
    strangerVerifier: () => gpgPlugin.createVerifier({ trust: [strangerTrust], settings: { gpgHome: empty.home } }),
    failures: [
      {
        name: 'a wrong passphrase',
        code: 'PassphraseInvalid',
        run: async () => (await gpgPlugin.createSigner({ key: signerHome.fingerprint, passphrase: 'not the passphrase', settings: { gpgHome: signerHome.home } })).sign(DATA),
      },
      {
        name: 'a key the home does not hold',
        code: 'KeyInvalid',
        run: async () => (await gpgPlugin.createSigner({ key: 'nobody@example.com', settings: { gpgHome: signerHome.home } })).sign(DATA),
      },
    ],
    secrets: ['not the passphrase', PASS],
    cleanup: async () => {
      removeGpgHomes();
      removeTempDirs();
    },
  }),
  vitest,
);
