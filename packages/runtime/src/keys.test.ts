import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core/formats';
import { generateKeyPairSync } from 'node:crypto';
import { readPassphraseFile, resolveKey, resolveKeyName, resolveKeyType, resolveKeyTypeFor, resolvePassphrase } from './keys.js';

const noTty = { interactive: false };

describe('key resolution', () => {
  it('reads the key type from the option, else DSV_KEYTYPE in any case, else gpg', () => {
    expect(resolveKeyType('PKI', {})).toBe('pki');
    expect(resolveKeyType(undefined, { DSV_KEYTYPE: 'PKI' })).toBe('pki');
    expect(resolveKeyType(undefined, { DSV_KEYTYPE: 'Gpg' })).toBe('gpg');
    expect(resolveKeyType(undefined, {})).toBe('gpg');
  });

  it('reads the key from the option, else DSV_KEYID, else fails with a Usage error', () => {
    expect(resolveKeyName('ABCD', { DSV_KEYID: 'X' })).toBe('ABCD');
    expect(resolveKeyName(undefined, { DSV_KEYID: 'X' })).toBe('X');
    try {
      resolveKeyName(undefined, {}, '-k/--keyid');
      expect.unreachable();
    } catch (e) {
      expect(isDsvError(e, 'Usage')).toBe(true);
      expect((e as Error).message).toContain('-k/--keyid');
    }
  });

  it('takes the passphrase from -p, then the file, then DSV_KEYPASS, then a prompt, else empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-cli-'));
    const file = join(dir, 'pass');
    writeFileSync(file, 'from-file\nsecond line\n');
    const env = { DSV_KEYPASS: 'from-env' };
    const prompt = { interactive: true, promptSecret: async () => 'typed' };
    expect(await resolvePassphrase({ keypass: 'opt', passphraseFile: file }, env, prompt)).toEqual({ passphrase: 'opt', source: 'option' });
    expect(await resolvePassphrase({ passphraseFile: file }, env, prompt)).toEqual({ passphrase: 'from-file', source: 'file' });
    expect(await resolvePassphrase({}, env, prompt)).toEqual({ passphrase: 'from-env', source: 'env' });
    expect(await resolvePassphrase({}, {}, prompt)).toEqual({ passphrase: 'typed', source: 'prompt' });
    expect(await resolvePassphrase({}, {}, noTty)).toEqual({ passphrase: '', source: 'none' });
    // An explicitly empty -p is a passphrase too (no prompt).
    expect(await resolvePassphrase({ keypass: '' }, {}, prompt)).toEqual({ passphrase: '', source: 'option' });
  });

  it('keeps a passphrase file to its first line, CRLF or not, and never quotes it in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-cli-'));
    writeFileSync(join(dir, 'crlf'), 'pw with spaces \r\n');
    writeFileSync(join(dir, 'bare'), 'nolf');
    expect(await readPassphraseFile(join(dir, 'crlf'))).toBe('pw with spaces ');
    expect(await readPassphraseFile(join(dir, 'bare'))).toBe('nolf');
    await expect(readPassphraseFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'Usage' });
  });

  it('resolves everything together', async () => {
    const k = await resolveKey({ key: 'key.pem', keyType: 'pki' }, { DSV_KEYPASS: 'pw' }, noTty);
    expect(k).toEqual({ key: 'key.pem', keyType: 'pki', passphrase: 'pw', passphraseSource: 'env' });
  });

  it('recognises a key file by content when no type is given, and refuses a type that contradicts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-keys-'));
    const pem = join(dir, 'key.pem');
    writeFileSync(pem, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const der = join(dir, 'key.der');
    writeFileSync(der, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }));
    const pgp = join(dir, 'key.asc');
    writeFileSync(pgp, '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n');
    expect(await resolveKeyTypeFor(pem, undefined, {})).toBe('pki');
    expect(await resolveKeyTypeFor(der, undefined, {})).toBe('pki');
    expect(await resolveKeyTypeFor(pgp, undefined, {})).toBe('gpg');
    expect(await resolveKeyTypeFor('ABCDEF0123456789', undefined, {})).toBe('gpg');
    expect(await resolveKeyTypeFor(pem, 'pki', { DSV_KEYTYPE: 'gpg' })).toBe('pki');
    expect(await resolveKeyTypeFor(pem, undefined, {}, '--sign-by')).toBe('pki');
    expect(await resolveKeyTypeFor(pem, 'myplugin', {})).toBe('myplugin');
    const e = await resolveKeyTypeFor(pem, 'gpg', {}).catch((x: Error) => x);
    expect(isDsvError(e, 'Usage')).toBe(true);
    expect((e as Error).message).toBe(`--key ${pem} is a PEM private key (a pki key), but the key type given is gpg: give -t pki or leave the type out`);
    const env = await resolveKeyTypeFor(pgp, undefined, { DSV_KEYTYPE: 'PKI' }).catch((x: Error) => x);
    expect((env as Error).message).toContain('DSV_KEYTYPE is PKI');
    expect((await resolveKey({ key: pem }, {}, noTty)).keyType).toBe('pki');
  });
});
