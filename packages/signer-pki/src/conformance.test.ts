// The signer-plugin conformance suite (@dsv/conformance) on the PKI signer, loaded through its plugin,
// with raw keys (Ed25519 and ECDSA P-256) made by node:crypto; no trust store.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vitest from 'vitest';
import { registerSuite, signerSuite } from '@dsv/conformance';
import { pkiPlugin } from './index.js';

const PASS = 'pki conformance passphrase';
const DATA = new TextEncoder().encode(`sha256:${'8'.repeat(64)}`);

for (const alg of ['ed25519', 'p256'] as const) {
  let dir: string;
  const files = { key: '', pub: '', encrypted: '', stranger: '' };
  const keyPair = () => (alg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  registerSuite(
    signerSuite(`pki (${alg} raw key)`, {
      async prepare() {
        dir = mkdtempSync(join(tmpdir(), 'dsv-pki-conf-'));
        const kp = keyPair();
        files.key = join(dir, 'signer.key');
        writeFileSync(files.key, kp.privateKey.export({ type: 'pkcs8', format: 'pem' }));
        files.encrypted = join(dir, 'signer-encrypted.key');
        writeFileSync(files.encrypted, kp.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }));
        files.pub = join(dir, 'signer.pub');
        writeFileSync(files.pub, kp.publicKey.export({ type: 'spki', format: 'pem' }));
        files.stranger = join(dir, 'stranger.pub');
        writeFileSync(files.stranger, keyPair().publicKey.export({ type: 'spki', format: 'pem' }));
      },
      signer: () => pkiPlugin.createSigner({ key: files.key }),
      verifier: () => pkiPlugin.createVerifier({ trust: [files.pub], settings: { datastore: false } }),
      strangerVerifier: () => pkiPlugin.createVerifier({ trust: [files.stranger], settings: { datastore: false } }),
      failures: [
        { name: 'a wrong passphrase', code: 'PassphraseInvalid', run: async () => (await pkiPlugin.createSigner({ key: files.encrypted, passphrase: 'not the passphrase' })).sign(DATA) },
        { name: 'a key file that does not exist', code: 'KeyInvalid', run: async () => (await pkiPlugin.createSigner({ key: join(dir, 'absent.key') })).sign(DATA) },
      ],
      secrets: ['not the passphrase', PASS],
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }),
    vitest,
  );
}
