// --namespace / --address on dsv and dsv-copy: parsed, validated, and winning over CONTAINERD_NAMESPACE /
// CONTAINERD_ADDRESS, which win over containerd's defaults (as ctr and nerdctl read them).
import { describe, expect, it } from 'vitest';
import { createContext } from './context.js';
import { parseCopyArgs } from './copy.js';
import { parseDsvArgs, splitDsvArgs } from './dsv.js';
import { containerdFromFlags, systemContextFromEnv } from './environment.js';

describe('containerd flags', () => {
  it('dsv takes --namespace and --address before or after the command', async () => {
    expect(await parseDsvArgs(['--namespace', 'k8s.io', '--address', '/s.sock', 'verify', 'containerd:a:1'])).toMatchObject({
      kind: 'run',
      args: { command: 'verify', namespace: 'k8s.io', address: '/s.sock' },
    });
    expect(await parseDsvArgs(['inspect', 'containerd:a:1', '--namespace=ns', '--address', '/x.sock'])).toMatchObject({
      kind: 'run',
      args: { command: 'inspect', namespace: 'ns', address: '/x.sock' },
    });
    expect(await parseDsvArgs(['sign', '--key', 'k', 'containerd:a:1', 'containerd:a:2', '--namespace', 'ns'])).toMatchObject({ kind: 'run', args: { command: 'sign', namespace: 'ns' } });
    // The value of a global option is not taken for the command.
    expect(splitDsvArgs(['--namespace', 'verify', 'copy', 'a', 'b'])).toEqual({ globals: ['--namespace', 'verify'], command: 'copy', rest: ['a', 'b'] });
  });

  it('dsv-copy takes them for both commands', async () => {
    expect(await parseCopyArgs(['--namespace', 'ns', '--address', 'unix:///run/c.sock', 'containerd:a:1', 'oci:/x:1'])).toMatchObject({
      kind: 'run',
      args: { command: 'copy', namespace: 'ns', address: 'unix:///run/c.sock' },
    });
    expect(await parseCopyArgs(['verify-same', '--namespace', 'ns', 'containerd:a:1', 'containerd:b:1'])).toMatchObject({ kind: 'run', args: { command: 'verify-same', namespace: 'ns' } });
  });

  it('validates them as containerd would, dropping unix:// as ctr does', () => {
    expect(containerdFromFlags({})).toEqual({});
    expect(containerdFromFlags({ namespace: 'k8s.io', address: 'unix:///run/containerd/containerd.sock' })).toEqual({
      containerdNamespace: 'k8s.io',
      containerdAddress: '/run/containerd/containerd.sock',
    });
    expect(() => containerdFromFlags({ namespace: 'bad/ns' })).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringContaining('--namespace "bad/ns"') }));
    expect(() => containerdFromFlags({ namespace: '' })).toThrow(expect.objectContaining({ code: 'Usage' }));
    expect(() => containerdFromFlags({ address: 'run/c.sock' })).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringContaining('--address "run/c.sock"') }));
    expect(systemContextFromEnv({ HOME: '/h', CONTAINERD_ADDRESS: 'unix:///a.sock' }).containerdAddress).toBe('/a.sock');
  });

  it('flags beat the environment, the environment beats the defaults', async () => {
    const env = { HOME: '/h', CONTAINERD_NAMESPACE: 'from-env', CONTAINERD_ADDRESS: '/env.sock' };
    const refs = ['containerd:example.com/a:1'];
    const fromEnv = await createContext({ env, references: refs, signers: false, loadPlugins: false });
    expect(fromEnv.system).toMatchObject({ containerdNamespace: 'from-env', containerdAddress: '/env.sock' });
    const flagged = await createContext({ env, references: refs, signers: false, loadPlugins: false, system: containerdFromFlags({ namespace: 'from-flag', address: '/flag.sock' }) });
    expect(flagged.system).toMatchObject({ containerdNamespace: 'from-flag', containerdAddress: '/flag.sock' });
    // Neither: the transport's defaults (namespace default, the system socket), as ctr's.
    const neither = await createContext({ env: { HOME: '/h' }, references: refs, signers: false, loadPlugins: false });
    expect(neither.system.containerdNamespace).toBeUndefined();
    const ref = neither.parseImage(refs[0]!) as unknown as { namespace: string; address: string };
    expect([ref.namespace, ref.address]).toEqual(['default', '/run/containerd/containerd.sock']);
  });
});
