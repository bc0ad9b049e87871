import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryTransport } from '@dsv/core/testing';
import type { TransportManifest } from '@dsv/core/transport';
import { createContext } from './context.js';
import { BUILTIN_TRANSPORT_MANIFESTS, loadTransportManifests, referencesHelp, transportOf, validateTransportManifest } from './transports.js';
import { dsvParser } from './dsv.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-transports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A third-party manifest: the `memory` transport under another name, loaded lazily. */
const loads: string[] = [];
const vaultManifest: TransportManifest = {
  package: 'dsv-transport-vault',
  transports: [{ name: 'vault', syntax: 'vault:NAME:TAG', description: 'a test store' }],
  async load() {
    loads.push('vault');
    return [{ name: 'vault', parseReference: (within: string) => memoryTransport.parseReference(within) }];
  },
};

describe('transport manifests', () => {
  it('the built-in packages announce their transports; the runtime imports only their manifests eagerly', () => {
    expect(BUILTIN_TRANSPORT_MANIFESTS.flatMap((m) => m.transports.map((t) => t.name)).sort()).toEqual([
      'containerd', 'docker', 'docker-archive', 'docker-daemon', 'docker-storage', 'oci', 'oci-archive',
    ]);
    const text = readFileSync(new URL('./transports.ts', import.meta.url), 'utf8');
    const eager = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]!);
    expect(eager.filter((m) => /^@dsv\/source-/.test(m) && !m.endsWith('/manifest'))).toEqual([]);
  });

  it('--help lists what is registered', async () => {
    expect(referencesHelp()).toBe(
      'References: docker://host/repo:tag (the default without a prefix), docker-archive:PATH[:NAME:TAG], oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-daemon:NAME:TAG, docker-storage:NAME:TAG, containerd:[NAMESPACE@SOCKET]NAME[:TAG|@DIGEST].',
    );
    expect(referencesHelp([...BUILTIN_TRANSPORT_MANIFESTS, vaultManifest])).toContain('containerd:[NAMESPACE@SOCKET]NAME[:TAG|@DIGEST], vault:NAME:TAG.');
    let help = '';
    await dsvParser().parseAsync(['--help'], {}, (_e: unknown, _a: unknown, out: string) => {
      help = out;
    });
    expect(help.replace(/\s+/g, ' ')).toContain('oci-archive:PATH[:TAG], docker-daemon:NAME:TAG');
  });

  it('a third-party transport package loads the way a signer plugin does (DSV_TRANSPORT_PLUGINS), lazily', async () => {
    const importer = async (spec: string) => (spec === 'dsv-transport-vault' ? { transportManifest: vaultManifest } : { default: vaultManifest });
    const manifests = await loadTransportManifests({ env: { HOME: dir, DSV_TRANSPORT_PLUGINS: 'dsv-transport-vault' }, importer });
    expect(manifests.at(-1)).toBe(vaultManifest);
    expect(transportOf('vault:app:1', manifests)).toBe('vault');
    expect(transportOf('vault:app:1')).toBe('docker');
    // From the config file too; a name provided twice is refused.
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ transportPlugins: ['/opt/vault/index.js'] }));
    expect((await loadTransportManifests({ env: {}, configFile: cfg, importer })).at(-1)).toBe(vaultManifest);
    await expect(loadTransportManifests({ env: { DSV_TRANSPORT_PLUGINS: 'a,b' }, configFile: cfg, importer })).rejects.toMatchObject({ code: 'PluginError', message: expect.stringContaining('already provides') });
    expect(() => validateTransportManifest({ package: 'x', transports: [{ name: 'Bad Name', syntax: '' }], load() {} }, 'module x')).toThrow(/invalid/);
  });

  it('a command loads a plugin transport only when one of its references uses it', async () => {
    const pkg = join(dir, 'vault-plugin.mjs');
    writeFileSync(
      pkg,
      `export const transportManifest = { package: 'vault-plugin', transports: [{ name: 'vault', syntax: 'vault:NAME:TAG' }],
         async load() { globalThis.__dsvVaultLoads = (globalThis.__dsvVaultLoads ?? 0) + 1;
           const t = { name: 'vault', parseReference: (w) => ({ transport: t, within: w, toString: () => 'vault:' + w }) };
           return [t]; } };\n`,
    );
    const g = globalThis as { __dsvVaultLoads?: number };
    const env = { DSV_TRANSPORT_PLUGINS: pkg, HOME: dir };
    const plain = await createContext({ env: { ...env }, signers: false, references: ['busybox:1'] });
    expect(plain.transports.names()).toEqual(['docker']);
    expect(g.__dsvVaultLoads ?? 0).toBe(0);
    const ctx = await createContext({ env, signers: false, references: ['vault:app:1'] });
    expect(g.__dsvVaultLoads).toBe(1);
    expect(ctx.parseImage('vault:app:1').toString()).toBe('vault:app:1');
  });
});
