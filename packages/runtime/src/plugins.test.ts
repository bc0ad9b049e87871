import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hmacSignerPlugin } from '@dsv/conformance';
import { DsvError } from '@dsv/core/formats';
import { SignerRegistry } from '@dsv/core/formats';
import { loadSignerPlugins, signerPluginSpecs } from './plugins.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-plugins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fakePlugin = hmacSignerPlugin;

describe('loadSignerPlugins', () => {
  const modDir = join(dir, 'mods');
  mkdirSync(modDir, { recursive: true });
  const hmacSource = (type: string, exportStyle: 'default' | 'plugin') => `
import { createHmac } from 'node:crypto';
const p = {
  type: '${type}',
  recognizes: (s) => s.startsWith('${type}:'),
  async createSigner({ key }) { return { type: '${type}', describeKey: async () => ({ type: '${type}', keyId: key }),
    sign: async (d) => '${type}:' + key + ':' + createHmac('sha256', key).update(d).digest('hex') }; },
  async createVerifier({ trust = [] }) { return { type: '${type}', recognizes: (s) => s.startsWith('${type}:'),
    async verify(d, s) { const [, k, m] = s.split(':'); if (!trust.includes(k)) return { status: 'unknown-key', type: '${type}', keyId: k };
      return { status: createHmac('sha256', k).update(d).digest('hex') === m ? 'valid' : 'invalid', type: '${type}', keyId: k }; } }; },
};
${exportStyle === 'default' ? 'export default p;' : 'export const plugin = p;'}
`;
  const a = join(modDir, 'a.mjs');
  const b = join(modDir, 'b.mjs');
  const broken = join(modDir, 'broken.mjs');
  const empty = join(modDir, 'empty.mjs');
  writeFileSync(a, hmacSource('hma', 'default'));
  writeFileSync(b, hmacSource('hmb', 'plugin'));
  writeFileSync(broken, 'export default { type: "x", recognizes: 1 };');
  writeFileSync(empty, 'export const nothing = 1;');
  const noConfig = join(dir, 'no-such-config.json');
  mkdirSync(join(dir, 'home'), { recursive: true });

  it('loads modules from DSV_SIGNER_PLUGINS (default and `plugin` exports) and they sign and verify', async () => {
    const r = new SignerRegistry();
    const env = { DSV_SIGNER_PLUGINS: ` ${a} ,${b},,`, HOME: join(dir, 'home') };
    await loadSignerPlugins(r, { env });
    expect(r.types()).toEqual(['hma', 'hmb']);
    const data = new TextEncoder().encode('sha256:00');
    const sig = await (await r.get('hmb').createSigner({ key: 'kk' })).sign(data);
    expect(await r.verifier({ trust: ['kk'] })(data, sig)).toMatchObject({ status: 'valid', type: 'hmb' });
  }, 30_000);

  it('reads the config file (DSV_CONFIG) after the environment, without duplicates', async () => {
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ other: true, signerPlugins: [b, a] }));
    expect(await signerPluginSpecs({ modules: ['m0'], env: { DSV_SIGNER_PLUGINS: a, DSV_CONFIG: cfg } })).toEqual(['m0', a, b]);
    const r = new SignerRegistry();
    await loadSignerPlugins(r, { env: { DSV_CONFIG: cfg } });
    expect(r.types()).toEqual(['hma', 'hmb']);
  });

  it('a missing default config file is fine; a named one that is missing or bad is an error', async () => {
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    expect(await signerPluginSpecs({ env: { HOME: home } })).toEqual([]);
    await expect(signerPluginSpecs({ env: { DSV_CONFIG: noConfig } })).rejects.toMatchObject({ code: 'NotFound' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    await expect(signerPluginSpecs({ env: { DSV_CONFIG: bad } })).rejects.toMatchObject({ code: 'Usage' });
    writeFileSync(bad, JSON.stringify({ signerPlugins: 'a' }));
    await expect(signerPluginSpecs({ env: { DSV_CONFIG: bad } })).rejects.toMatchObject({ code: 'Usage' });
  });

  it('bad modules are PluginErrors naming the module', async () => {
    const env = (m: string) => ({ DSV_SIGNER_PLUGINS: m, DSV_CONFIG: '' , HOME: join(dir, 'home') });
    for (const [m, re] of [
      [broken, /broken\.mjs.*recognizes/],
      [empty, /empty\.mjs exports neither/],
      [join(modDir, 'missing.mjs'), /cannot load signer plugin module .*missing\.mjs/],
      ['./relative.mjs', /must be a package name or an absolute path/],
      ['@dsv/definitely-not-installed-plugin', /cannot load .*definitely-not-installed/],
    ] as const) {
      const err = await loadSignerPlugins(new SignerRegistry(), { env: env(m) }).catch((e) => e);
      expect(err).toBeInstanceOf(DsvError);
      expect(err.code).toBe('PluginError');
      expect(err.message).toMatch(re);
    }
  });

  it('uses an injected importer and refuses a module that would replace a registered type', async () => {
    const gpg = fakePlugin('gpg');
    const r = new SignerRegistry().register(gpg);
    // Same object through the module path (e.g. DSV_SIGNER_PLUGINS=@dsv/signer-gpg with the app's own copy): fine.
    const cfg = join(dir, 'empty-config.json');
    writeFileSync(cfg, '{}');
    await loadSignerPlugins(r, { modules: ['@dsv/signer-gpg'], env: {}, configFile: cfg, importer: async () => ({ default: gpg }) });
    expect(r.types()).toEqual(['gpg']);
    const err = await loadSignerPlugins(r, {
      modules: ['evil-gpg'],
      env: {},
      configFile: cfg,
      importer: async () => ({ plugin: fakePlugin('gpg') }),
    }).catch((e) => e);
    expect(err).toMatchObject({ code: 'PluginError' });
    expect(err.message).toMatch(/evil-gpg.*already registered/);
  });
});
