import { describe, expect, it } from 'vitest';
import { dsvMain, parseDsvArgs, splitDsvArgs } from './dsv.js';
import { integrityVerdict } from './commands.js';
import { shapeOutput } from './shell.js';
import { captureIo } from './__tests__/capture.js';

describe('dsv arguments', () => {
  it('defaults DEST to SRC for sign', async () => {
    const p = await parseDsvArgs(['sign', 'docker://h/a:1', '--key', 'k.asc', '--key-type', 'gpg', '--passphrase-file', 'pw.txt']);
    expect(p).toEqual({
      kind: 'run',
      args: {
        command: 'sign', source: 'docker://h/a:1', destination: 'docker://h/a:1', key: 'k.asc', keyType: 'gpg', passphraseFile: 'pw.txt',
        signatureType: 'sign', dryRun: false, debug: false, json: false, insecureRegistries: [], inPlace: true,
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

  it('takes the original dsv command line: -s is --silent before the command and --signature-type after sign', async () => {
    expect(splitDsvArgs(['-s', '--platform', 'linux/amd64', 'sign', '-s', 'endorse', 'a', 'b'])).toEqual({
      globals: ['--silent', '--platform', 'linux/amd64'],
      command: 'sign',
      rest: ['-s', 'endorse', 'a', 'b'],
    });
    const p = await parseDsvArgs(['--no-check-signatures', '--dry-run', '-v', '-s', 'sign', '-s', 'resign', '-k', 'KEY', '-p', 'secret-pass', '-t', 'pki', 'src:1', 'dst:1']);
    expect(p.kind === 'run' && p.args).toMatchObject({
      command: 'sign', source: 'src:1', destination: 'dst:1', key: 'KEY', keypass: 'secret-pass', keyType: 'pki',
      signatureType: 'resign', dryRun: true, debug: true, output: 'silent', checkSignatures: false,
    });
    const long = await parseDsvArgs(['--check-signatures', '--quiet', 'sign', '--signature-type', 'endorse', '--keyid', 'K', '--keypass', 'pw12', '--sigtype', 'gpg', 'a', 'b']);
    expect(long.kind === 'run' && long.args).toMatchObject({ key: 'K', keypass: 'pw12', keyType: 'gpg', signatureType: 'endorse', output: 'quiet' });
    expect(long.kind === 'run' && long.args.checkSignatures).toBeUndefined();
    const v = await parseDsvArgs(['--no-check-signatures', '-q', 'verify', 'a', 'b']);
    expect(v.kind === 'run' && v.args).toMatchObject({ command: 'verify', images: ['a', 'b'], checkSignatures: false, output: 'quiet' });
    expect(await parseDsvArgs(['sign', '--pki-format', 'legacy', '-k', 'k.pem', 'a'])).toMatchObject({ kind: 'run', args: { pkiFormat: 'legacy' } });
  });

  it('--tls-verify=false before or after the command; sync\'s --src-/--dest-tls-verify=false skip a sync file and OCI layouts', async () => {
    expect(await parseDsvArgs(['verify', '--tls-verify=false', 'a:1'])).toMatchObject({ kind: 'run', args: { tlsVerify: false } });
    expect(await parseDsvArgs(['--tls-verify=false', 'inspect', 'a:1'])).toMatchObject({ kind: 'run', args: { tlsVerify: false } });
    const plain = await parseDsvArgs(['verify', '--tls-verify', 'a:1']);
    expect(plain.kind === 'run' && 'tlsVerify' in plain.args).toBe(false);
    const sync = await parseDsvArgs(['sync', '--src-tls-verify=false', '--dest-tls-verify=false', 'docker://a.example/r', 'docker://b.example/p/']);
    expect(sync.kind === 'run' && sync.args).toMatchObject({ tlsUnverified: ['docker://a.example/r', 'docker://b.example/p'] });
    const file = await parseDsvArgs(['sync', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-cert-dir', '/c', 'sync.yaml', 'oci:/out']);
    expect(file.kind === 'run' && 'tlsUnverified' in file.args).toBe(false);
    expect(file.kind === 'run' && 'certDirs' in file.args).toBe(false);
    expect(await parseDsvArgs(['--cert-dir', '/certs/r', 'verify', 'a:1'])).toMatchObject({ kind: 'run', args: { command: 'verify', certDir: '/certs/r', images: ['a:1'] } });
    const syncDirs = await parseDsvArgs(['sync', '--dest-cert-dir', '/d', 'docker://a.example/r', 'docker://b.example/p']);
    expect(syncDirs.kind === 'run' && syncDirs.args).toMatchObject({ certDirs: [['docker://b.example/p', '/d']] });
  });

  it('sync takes skopeo sync\'s auth flags: --authfile for both sides, --src-/--dest- for one', async () => {
    const p = await parseDsvArgs(['sync', '--authfile', 'both.json', '--dest-authfile', 'd.json', '--src-creds', 'u:p', '--dest-creds', 'ci', 'docker://a/r', 'docker://b/p']);
    expect(p.kind === 'run' && p.args).toMatchObject({ command: 'sync', sideAuth: { source: { authfile: 'both.json', creds: 'u:p' }, destination: { authfile: 'd.json', creds: 'ci' } } });
    expect(p.kind === 'run' && 'auth' in p.args).toBe(false);
    const io = captureIo();
    expect(await dsvMain(['sync', '--src-creds', 'u:sync-pw-secret', '--bogus', 'a', 'b'], io)).toBe(2);
    expect(io.outText() + io.errText()).not.toContain('sync-pw-secret');
  });

  it('never echoes --keypass, even in a usage error', async () => {
    const io = captureIo();
    expect(await dsvMain(['sign', '--keypass', 'hunter2-secret', '--bogus', 'a'], io)).toBe(2);
    expect(io.errText()).toMatch(/^dsv: error: /);
    expect(io.outText() + io.errText()).not.toContain('hunter2-secret');
  });

  it('--silent prints nothing, even for a usage error; the exit code says it', async () => {
    const io = captureIo();
    expect(await dsvMain(['-s', 'verify', '--bogus', 'a'], io)).toBe(2);
    expect(io.outText() + io.errText()).toBe('');
  });

  it('-q keeps errors and the verdict lines only; a --json report is kept whole', async () => {
    const io = captureIo();
    const q = shapeOutput(io, 'quiet', false);
    q.io.stdout.write('Verifying Integrity: x ...\n  manifest digest: sha256:1\nVerified: x (sha256:1)\n');
    q.io.stderr.write('dsv: error: boom\n');
    q.io.stdout.write('NOT verified: y (sha256:2)\n');
    q.flush();
    await new Promise((r) => setImmediate(r));
    expect(io.outText()).toBe('Verified: x (sha256:1)\nNOT verified: y (sha256:2)\n');
    expect(io.errText()).toBe('dsv: error: boom\n');
    const j = captureIo();
    const qj = shapeOutput(j, 'quiet', true);
    qj.io.stdout.write('{"ok": true}\n');
    qj.flush();
    await new Promise((r) => setImmediate(r));
    expect(j.outText()).toBe('{"ok": true}\n');
  });

  it('--no-check-signatures judges integrity alone', () => {
    const img = (ok: boolean, failures: string[]) => ({ manifestDigest: 'sha256:m', configDigest: 'sha256:c', integrity: { ok }, signatures: [], ok: false, failures });
    const unsigned = { reference: 'r', digest: 'sha256:d', kind: 'manifest', ok: false, failures: ['no signatures'], images: [img(true, ['no signatures'])] };
    expect(integrityVerdict(unsigned as never)).toMatchObject({ ok: true, failures: [], images: [{ ok: true, failures: [] }] });
    const broken = { ...unsigned, failures: ['layer 0 sha256:l: digest mismatch', 'no signatures'], images: [img(false, ['layer 0 sha256:l: digest mismatch', 'no signatures'])] };
    expect(integrityVerdict(broken as never)).toMatchObject({ ok: false, failures: ['layer 0 sha256:l: digest mismatch'] });
  });
});
