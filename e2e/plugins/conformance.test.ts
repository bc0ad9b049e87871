// The signer-plugin conformance suite (@dsv/conformance) on an executable plugin: the example fixture
// `dsv-signer-example` found on PATH and driven over the executable protocol (one process per request),
// so signatures, verification results and error codes all cross a process boundary.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vitest from 'vitest';
import { SignerRegistry, type SignerPlugin } from '@dsv/core';
import { loadSignerPlugins } from '@dsv/runtime';
import { registerSuite, signerSuite } from '@dsv/conformance';
import { removeTempDirs, tempDir } from '../helpers/proc.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins');
const PASS = 'example plugin passphrase';
const DATA = new TextEncoder().encode(`sha256:${'9'.repeat(64)}`);
const files = { key: '', pub: '', stranger: '', dir: '' };
let plugin: SignerPlugin;

registerSuite(
  signerSuite('executable plugin (dsv-signer-example)', {
    async prepare() {
      files.dir = tempDir('dsv-exec-conf-');
      const kp = generateKeyPairSync('ed25519');
      files.key = join(files.dir, 'example.key');
      writeFileSync(files.key, kp.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }));
      files.pub = `${files.key}.pub`; // where the plugin looks for the public half
      writeFileSync(files.pub, kp.publicKey.export({ type: 'spki', format: 'pem' }));
      files.stranger = join(files.dir, 'stranger.pub');
      writeFileSync(files.stranger, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
      const registry = new SignerRegistry();
      const env = { PATH: [fixtures, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: files.dir, DSV_SIGNER_PLUGINS: 'exec:example' };
      await loadSignerPlugins(registry, { env });
      plugin = registry.get('example');
    },
    signer: () => plugin.createSigner({ key: files.key, passphrase: PASS }),
    verifier: () => plugin.createVerifier({ trust: [files.pub] }),
    strangerVerifier: () => plugin.createVerifier({ trust: [files.stranger] }),
    failures: [
      { name: 'a wrong passphrase', code: 'PassphraseInvalid', run: async () => (await plugin.createSigner({ key: files.key, passphrase: 'not the passphrase' })).sign(DATA) },
      { name: 'a key file that does not exist', code: 'KeyInvalid', run: async () => (await plugin.createSigner({ key: join(files.dir, 'absent.key') })).sign(DATA) },
    ],
    secrets: ['not the passphrase', PASS],
    cleanup: async () => removeTempDirs(),
  }),
  vitest,
);
