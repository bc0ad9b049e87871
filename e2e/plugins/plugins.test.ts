// Third-party signer routes: an ESM module plugin named in DSV_SIGNER_PLUGINS / the config file, and an
// executable plugin `dsv-signer-example` found on PATH, both driven through SignerRegistry next to PKI.
import { generateKeyPairSync } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsvError, SignerRegistry } from '@dsv/core';
import { loadSignerPlugins } from '@dsv/runtime';
import { pkiPlugin } from '@dsv/signer-pki';
import { removeTempDirs, tempDir } from '../helpers/proc.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins');
const moduleDir = join(fixtures, 'module-plugin');
const data = new TextEncoder().encode('sha256:' + '5'.repeat(64));
const other = new TextEncoder().encode('sha256:' + '6'.repeat(64));

let dir: string;
let env: NodeJS.ProcessEnv;
let secret: string, otherSecret: string, edKey: string, edPub: string, strangerPub: string, pkiKey: string, pkiPub: string;

beforeAll(() => {
  dir = tempDir('dsv-plugins-');
  // PATH: the fixture directory (for dsv-signer-example) and node (for its #! line).
  env = { PATH: [fixtures, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: dir };
  secret = join(dir, 'team.secret');
  writeFileSync(secret, 'a shared secret of decent length\n');
  otherSecret = join(dir, 'other.secret');
  writeFileSync(otherSecret, 'some other secret entirely, also long\n');
  const ed = generateKeyPairSync('ed25519');
  edKey = join(dir, 'example.key');
  writeFileSync(edKey, ed.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'plugin pass' }));
  edPub = edKey + '.pub';
  writeFileSync(edPub, ed.publicKey.export({ type: 'spki', format: 'pem' }));
  strangerPub = join(dir, 'stranger.pub');
  writeFileSync(strangerPub, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const p = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  pkiKey = join(dir, 'pki.key');
  writeFileSync(pkiKey, p.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  pkiPub = join(dir, 'pki.pub');
  writeFileSync(pkiPub, p.publicKey.export({ type: 'spki', format: 'pem' }));
});
afterAll(() => removeTempDirs());

describe('example plugins', () => {
  it('the executable fixture is executable', () => {
    expect(statSync(join(fixtures, 'dsv-signer-example')).mode & 0o111).not.toBe(0);
  });

  it('module plugin (hmac) loaded from DSV_SIGNER_PLUGINS signs and verifies', async () => {
    const reg = new SignerRegistry();
    await loadSignerPlugins(reg, { env: { ...env, DSV_SIGNER_PLUGINS: moduleDir } });
    // dsv-signer-example on PATH is discovered as well (plugins on PATH are found without configuration).
    expect(reg.types().sort()).toEqual(['example', 'hmac']);
    const signer = await reg.get('hmac').createSigner({ key: secret });
    expect(await signer.describeKey()).toMatchObject({ type: 'hmac', algorithm: 'hmac-sha256' });
    const sig = await signer.sign(data);
    expect(sig).toMatch(/^-----BEGIN DSV HMAC SIGNATURE-----/);
    const verify = reg.verifier({ trust: [secret] });
    expect(await verify(data, sig)).toMatchObject({ status: 'valid', type: 'hmac' });
    expect(await verify(other, sig)).toMatchObject({ status: 'invalid', reason: 'MAC does not match the data' });
    expect((await reg.verifier({ trust: [otherSecret] })(data, sig)).status).toBe('unknown-key');
    // The module throws a plain Error with code KeyInvalid: it arrives as a DsvError with that code.
    const err = await reg.get('hmac').createSigner({ key: join(dir, 'absent.secret') }).catch((e) => e);
    expect(err).toBeInstanceOf(DsvError);
    expect(err.code).toBe('KeyInvalid');
  });

  it('executable plugin (example) found on PATH signs with a passphrase over stdin and verifies', async () => {
    const reg = new SignerRegistry();
    await loadSignerPlugins(reg, { env: { ...env, DSV_SIGNER_PLUGINS: 'exec:example' } });
    expect(reg.types()).toEqual(['example']);
    const signer = await reg.get('example').createSigner({ key: edKey, passphrase: 'plugin pass' });
    expect(await signer.describeKey()).toMatchObject({ type: 'example', algorithm: 'ed25519' });
    const sig = await signer.sign(data);
    expect(sig).toMatch(/^-----BEGIN EXAMPLE SIGNATURE-----/);
    const verify = reg.verifier({ trust: [edPub] });
    const r = await verify(data, sig);
    expect(r).toMatchObject({ status: 'valid', type: 'example', keyId: (await signer.describeKey()).keyId });
    expect(r.createdAt).toBeInstanceOf(Date);
    expect((await verify(other, sig)).status).toBe('invalid');
    expect((await reg.verifier({ trust: [strangerPub] })(data, sig)).status).toBe('unknown-key');
    const wrong = await (await reg.get('example').createSigner({ key: edKey, passphrase: 'nope nope' })).sign(data).catch((e) => e);
    expect(wrong).toBeInstanceOf(DsvError);
    expect(wrong.code).toBe('PassphraseInvalid');
    expect(wrong.message).not.toContain('nope nope');
    const missing = await reg.get('example').createSigner({ key: join(dir, 'absent.key') }).catch((e) => e);
    expect(missing.code).toBe('KeyInvalid');
  });

  it('config file + environment + explicit registration: one registry routes every type', async () => {
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ signerPlugins: [join(moduleDir, 'index.js'), 'exec:example'] }));
    const reg = new SignerRegistry().register(pkiPlugin);
    // @dsv/signer-pki named again by package name resolves to the same plugin: no conflict.
    await loadSignerPlugins(reg, { env: { ...env, DSV_CONFIG: cfg, DSV_SIGNER_PLUGINS: '@dsv/signer-pki' } });
    expect(reg.types()).toEqual(['example', 'hmac', 'pki']);
    const sigs = {
      hmac: await (await reg.get('hmac').createSigner({ key: secret })).sign(data),
      example: await (await reg.get('example').createSigner({ key: edKey, passphrase: 'plugin pass' })).sign(data),
      pki: await (await reg.get('pki').createSigner({ key: pkiKey })).sign(data),
    };
    const verify = reg.verifier({
      trustByType: { hmac: [secret], example: [edPub], pki: [pkiPub] },
      settingsByType: { pki: { datastore: false } },
    });
    for (const [type, sig] of Object.entries(sigs)) {
      expect(reg.forSignature(sig)?.type).toBe(type);
      expect(await verify(data, sig)).toMatchObject({ status: 'valid', type });
      expect((await verify(other, sig)).status).toBe('invalid');
    }
    expect(await verify(data, 'not a signature')).toMatchObject({ status: 'invalid', reason: 'unrecognised signature format' });
    expect(() => reg.get('kms')).toThrow(/unknown signature type "kms" \(known: example, hmac, pki\)/);
  });

  it('a missing executable plugin fails to load with PluginError', async () => {
    const err = await loadSignerPlugins(new SignerRegistry(), { env: { ...env, DSV_SIGNER_PLUGINS: 'exec:nosuch' } }).catch((e) => e);
    expect(err).toMatchObject({ code: 'PluginError' });
    expect(err.message).toMatch(/dsv-signer-nosuch was not found on PATH/);
  });
});
