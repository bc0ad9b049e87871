import { describe, expect, it } from 'vitest';
import { dsvMain, parseDsvArgs } from './dsv.js';
import { captureIo } from './__tests__/capture.js';

describe('dsv arguments', () => {
  it('defaults DEST to SRC for sign', async () => {
    const p = await parseDsvArgs(['sign', 'docker://h/a:1', '--key', 'k.asc', '--key-type', 'gpg', '--passphrase-file', 'pw.txt']);
    expect(p).toEqual({
      kind: 'run',
      args: {
        command: 'sign', source: 'docker://h/a:1', destination: 'docker://h/a:1', key: 'k.asc', keyType: 'gpg', passphraseFile: 'pw.txt',
        signatureType: 'sign', dryRun: false, debug: false, json: false, insecureRegistries: [],
      },
    });
  });

  it('takes a destination, platform, signature type and repeated insecure registries', async () => {
    const p = await parseDsvArgs(['--insecure-registry', 'a:5000', 'sign', 'oci:/x:1', 'oci:/x:2', '--platform', 'linux/arm/v7', '-s', 'Endorse', '--insecure-registry', 'b', '--dry-run', '--json']);
    expect(p.kind === 'run' && p.args).toMatchObject({ destination: 'oci:/x:2', platform: 'linux/arm/v7', signatureType: 'endorse', insecureRegistries: ['a:5000', 'b'], dryRun: true, json: true });
  });

  it('collects repeated --trust and several images for verify', async () => {
    const p = await parseDsvArgs(['verify', 'a:1', 'b:1', '--trust', 'k1.asc', '--trust', 'pki:ca.pem']);
    expect(p.kind === 'run' && p.args).toMatchObject({ command: 'verify', images: ['a:1', 'b:1'], trust: ['k1.asc', 'pki:ca.pem'] });
  });

  it('parses inspect', async () => {
    const p = await parseDsvArgs(['inspect', 'docker-archive:/t.tar:a:1', '--json']);
    expect(p.kind === 'run' && p.args).toMatchObject({ command: 'inspect', image: 'docker-archive:/t.tar:a:1', json: true, trust: [] });
  });

  it('rejects a malformed platform, unknown commands and options', async () => {
    expect(await parseDsvArgs(['verify', 'a', '--platform', 'linux'])).toMatchObject({ kind: 'error', message: expect.stringContaining('--platform') });
    expect((await parseDsvArgs(['frobnicate'])).kind).toBe('error');
    expect((await parseDsvArgs(['verify', 'a', '--bogus'])).kind).toBe('error');
    expect((await parseDsvArgs([])).kind).toBe('error');
  });

  it('hands "dsv copy" to dsv-copy and "dsv docker-plugin" to the plugin installer', async () => {
    const help = captureIo();
    expect(await dsvMain(['copy', '--help'], help)).toBe(0);
    expect(help.outText()).toMatch(/dsv copy \[options\] SRC DEST/);
    const bad = captureIo();
    expect(await dsvMain(['copy', '--jobs', '0', 'a', 'b'], bad)).toBe(2);
    expect(bad.errText()).toMatch(/^dsv copy: error: invalid --jobs/);
    const plugin = captureIo();
    expect(await dsvMain(['docker-plugin', '--help'], plugin)).toBe(0);
    expect(plugin.outText() + plugin.errText()).toMatch(/docker-plugin <install\|uninstall>/);
  });

  it('names the image an error is about, and leaves an empty name out rather than printing ": "', async () => {
    const io = captureIo();
    expect(await dsvMain(['verify', '', 'docker://Bad Ref'], io)).toBe(2);
    expect(io.errText().split('\n').filter((l) => l.startsWith('dsv: error:'))).toEqual([
      'dsv: error: empty image reference',
      expect.stringMatching(/^dsv: error: docker:\/\/Bad Ref: .*Bad Ref/),
    ]);
  });

  it('prints help with the reference syntax and exit codes', async () => {
    const io = captureIo();
    expect(await dsvMain(['--help'], io)).toBe(0);
    expect(io.outText()).toContain('docker-archive:PATH');
    expect(io.outText()).toContain('Exit codes');
  });
});
