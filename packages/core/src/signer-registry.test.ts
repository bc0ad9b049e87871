import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hmacSignerPlugin } from '@dsv/conformance';
import { DsvError } from './errors.js';
import { SignerRegistry, validateSignerPlugin } from './signer-registry.js';
import type { SignerPlugin } from './signer.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-plugins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fakePlugin = hmacSignerPlugin;

function expectDsv(fn: () => unknown, code: string, re?: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DsvError);
    expect((e as DsvError).code).toBe(code);
    if (re) expect((e as Error).message).toMatch(re);
    return;
  }
  throw new Error('expected a throw');
}

describe('SignerRegistry', () => {
  it('registers, lists, gets and routes', async () => {
    const r = new SignerRegistry().register(fakePlugin('pki')).register(fakePlugin('gpg'));
    expect(r.types()).toEqual(['gpg', 'pki']);
    expect(r.get('gpg').type).toBe('gpg');
    expectDsv(() => r.get('kms'), 'Usage', /unknown signature type "kms" \(known: gpg, pki\)/);
    expect(r.forSignature('GPG:abc')?.type).toBe('gpg');
    expect(r.forSignature('nope')).toBeUndefined();
    const signer = await r.get('gpg').createSigner({ key: 'k1' });
    const data = new TextEncoder().encode('sha256:abc');
    const sig = await signer.sign(data);
    const verify = r.verifier({ trust: ['k1'] });
    expect(await verify(data, sig)).toMatchObject({ status: 'valid', type: 'gpg', keyId: 'k1' });
    expect(await verify(new TextEncoder().encode('other'), sig)).toMatchObject({ status: 'invalid' });
    expect(await verify(data, 'garbage')).toEqual({ status: 'invalid', type: 'unknown', reason: 'unrecognised signature format' });
  });

  it('same object twice is fine; a different plugin for the same type is refused', () => {
    const p = fakePlugin('gpg');
    const r = new SignerRegistry().register(p).register(p);
    expectDsv(() => r.register(fakePlugin('gpg')), 'PluginError', /registered twice/);
  });

  it('validates plugin shape', () => {
    expectDsv(() => new SignerRegistry().register({ type: 'x' } as unknown as SignerPlugin), 'PluginError', /recognizes/);
    expectDsv(() => validateSignerPlugin({ ...fakePlugin('a'), type: 'bad type!' }, 'module m'), 'PluginError', /module m/);
    expectDsv(() => validateSignerPlugin(null, 'module n'), 'PluginError', /module n/);
  });

  it('creates each verifier lazily and once, with per-type trust and settings', async () => {
    let created = 0;
    const base = fakePlugin('hm');
    const counted: SignerPlugin = { ...base, createVerifier: async (o) => (created++, base.createVerifier(o)) };
    const r = new SignerRegistry().register(counted).register(fakePlugin('other'));
    const verify = r.verifier({ trust: ['nobody'], trustByType: { hm: ['k'] }, settingsByType: { other: { explode: true } } });
    expect(created).toBe(0);
    const data = new Uint8Array([1, 2, 3]);
    const sig = await (await counted.createSigner({ key: 'k' })).sign(data);
    expect((await verify(data, sig)).status).toBe('valid');
    expect((await verify(data, sig)).status).toBe('valid');
    expect(created).toBe(1);
    // A plugin that throws a plain Error while verifying becomes a PluginError.
    const osig = await (await r.get('other').createSigner({ key: 'z' })).sign(data);
    await expect(verify(data, osig)).rejects.toMatchObject({ code: 'PluginError' });
  });

  it('turns what a plugin throws into DsvErrors (keeping known codes)', async () => {
    const thrower = (err: unknown): SignerPlugin => ({
      ...fakePlugin('t'),
      createSigner: async () => { throw err; },
    });
    const coded = Object.assign(new Error('key file k is unusable'), { code: 'KeyInvalid' });
    const e1 = await new SignerRegistry().register(thrower(coded)).get('t').createSigner({ key: 'k' }).catch((e) => e);
    expect(e1).toBeInstanceOf(DsvError);
    expect(e1).toMatchObject({ code: 'KeyInvalid', message: 'key file k is unusable' });
    const sys = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const e2 = await new SignerRegistry().register(thrower(sys)).get('t').createSigner({ key: 'k' }).catch((e) => e);
    expect(e2).toMatchObject({ code: 'PluginError', message: 'signer plugin "t" failed to create a signer: ENOENT: no such file' });
    const e3 = await new SignerRegistry().register(thrower('just a string')).get('t').createSigner({ key: 'k' }).catch((e) => e);
    expect(e3).toMatchObject({ code: 'PluginError' });
  });

  it('reports a malformed verification result', async () => {
    const bad: SignerPlugin = {
      ...fakePlugin('bad'),
      createVerifier: async () => ({ type: 'bad', recognizes: () => true, verify: async () => ({ status: 'ok' }) as never }),
    };
    const verify = new SignerRegistry().register(bad).verifier({});
    await expect(verify(new Uint8Array(), 'BAD:x')).rejects.toMatchObject({ code: 'PluginError' });
  });
});
