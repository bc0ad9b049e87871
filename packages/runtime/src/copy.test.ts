import { describe, expect, test } from 'vitest';
import { parseCopyArgs } from './copy.js';

describe('dsv-copy arguments', () => {
  test('SRC DEST with defaults: whole list, sign kind "sign", sensible jobs', async () => {
    const p = await parseCopyArgs(['docker://a/b:1', 'oci:/tmp/x:1']);
    expect(p.kind).toBe('run');
    if (p.kind !== 'run' || p.args.command !== 'copy') throw new Error('expected copy');
    expect(p.args).toMatchObject({ source: 'docker://a/b:1', destination: 'oci:/tmp/x:1', all: true, signatureType: 'sign', dryRun: false, removeSignatures: false });
    expect(p.args.jobs).toBeGreaterThanOrEqual(2);
  });
  test('--src-/--dest-tls-verify=false name the side whose registry is insecure (skopeo\'s flags)', async () => {
    const plain = await parseCopyArgs(['docker://a.example/b:1', 'docker://c.example/d:1']);
    expect(plain.kind === 'run' && plain.args.tlsUnverified).toBeUndefined();
    const src = await parseCopyArgs(['--src-tls-verify=false', '--dest-tls-verify', 'docker://a.example/b:1', 'docker://c.example/d:1']);
    expect(src.kind === 'run' && src.args.tlsUnverified).toEqual(['docker://a.example/b:1']);
    const both = await parseCopyArgs(['--src-tls-verify=false', '--no-dest-tls-verify', 'docker://a.example/b:1', 'docker://c.example/d:1']);
    expect(both.kind === 'run' && both.args.tlsUnverified).toEqual(['docker://a.example/b:1', 'docker://c.example/d:1']);
    const dirs = await parseCopyArgs(['--src-cert-dir', '/certs/a', '--dest-cert-dir', 'rel/c', 'docker://a.example/b:1', 'docker://c.example/d:1']);
    expect(dirs.kind === 'run' && dirs.args.certDirs).toEqual([['docker://a.example/b:1', '/certs/a'], ['docker://c.example/d:1', 'rel/c']]);
    expect(dirs.kind === 'run' && dirs.args.tlsUnverified).toBeUndefined();
  });
  test('signing options', async () => {
    const p = await parseCopyArgs(['--sign-by', 'ABCD', '--key-type', 'pki', '--passphrase-file', '/p', '-s', 'endorse', '--jobs', '3', '--retry-times', '5', 'a', 'b']);
    if (p.kind !== 'run' || p.args.command !== 'copy') throw new Error('expected copy');
    expect(p.args).toMatchObject({ signBy: 'ABCD', keyType: 'pki', passphraseFile: '/p', signatureType: 'endorse', jobs: 3, retryTimes: 5 });
  });
  test('--verify asks for full integrity (diff_ids too); off by default', async () => {
    const p = await parseCopyArgs(['--verify', 'a', 'b']);
    if (p.kind !== 'run' || p.args.command !== 'copy') throw new Error('expected copy');
    expect(p.args.verify).toBe(true);
    const q = await parseCopyArgs(['a', 'b']);
    if (q.kind !== 'run' || q.args.command !== 'copy') throw new Error('expected copy');
    expect(q.args.verify).toBe(false);
  });
  test('detached signing, registries.d and policy options', async () => {
    const p = await parseCopyArgs(['--sign-by', 'cosign.key', '--format', 'cosign', '--sign-identity', 'reg.example/app:1', '--registries.d', '/r', '--policy', '/p.json', 'a', 'b']);
    if (p.kind !== 'run' || p.args.command !== 'copy') throw new Error('expected copy');
    expect(p.args).toMatchObject({ signBy: 'cosign.key', format: 'cosign', signIdentity: 'reg.example/app:1', registriesD: '/r', policy: '/p.json' });
    const q = await parseCopyArgs(['a', 'b']);
    if (q.kind !== 'run' || q.args.command !== 'copy') throw new Error('expected copy');
    expect(q.args.format).toBe('embedded');
    // --remove-signatures with a detached --sign-by: drop what the source has, add only the new one (as skopeo).
    const r = await parseCopyArgs(['--remove-signatures', '--sign-by', 'k', '--format', 'simple', 'a', 'b']);
    expect(r.kind).toBe('run');
  });
  test('verify-same', async () => {
    const p = await parseCopyArgs(['verify-same', 'docker://r1/a:1', 'docker://r2/a:1']);
    expect(p).toMatchObject({ kind: 'run', args: { command: 'verify-same', source: 'docker://r1/a:1', destination: 'docker://r2/a:1' } });
  });
  test.each([
    [['a'], /Not enough|destination/i],
    [['--jobs', '0', 'a', 'b'], /--jobs/],
    [['--platform', 'linux', 'a', 'b'], /--platform/],
    [['--no-all', 'a', 'b'], /--no-all needs --platform/],
    [['-s', 'bogus', 'a', 'b'], /signature-type/],
    [['--remove-signatures', '--sign-by', 'k', 'a', 'b'], /resign/],
    [['--bogus=x', 'a', 'b'], /Unknown argument/i],
    [['--format', 'notary', '--sign-by', 'k', 'a', 'b'], /invalid --format "notary"/],
    [['--format', 'simple', 'a', 'b'], /--format simple signs: it needs --sign-by KEY/],
    [['--sign-identity', 'x/y:1', '--sign-by', 'k', 'a', 'b'], /--sign-identity .* --format simple or cosign/],
  ])('rejects %j with a clear message', async (args, re) => {
    const p = await parseCopyArgs(args as string[]);
    expect(p.kind).toBe('error');
    if (p.kind === 'error') expect(p.message).toMatch(re);
  });
  test('help states the multi-platform default', async () => {
    const p = await parseCopyArgs(['--help']);
    expect(p.kind).toBe('output');
    if (p.kind === 'output') expect(p.text).toMatch(/whole list\/index is copied by default/);
  });
});

describe('dsv-copy --help', () => {
  test('lines fit the help width and no word is cut', async () => {
    const r = await parseCopyArgs(['--help']);
    expect(r.kind).toBe('output');
    const text = r.kind === 'output' ? r.text : '';
    expect(text.split('\n').filter((l) => l.length > 110)).toEqual([]);
    const flat = text.replace(/\s+/g, ' ');
    for (const p of ['hashing every byte', 'docker://host/repo:tag', 'oci-archive:PATH[:TAG],', 'silently dropping platforms', 'PKI key file, plugin key)', 'same config digest per platform', 'operational failure.', '--verify also inflates every layer', 'cosign .sig attachments and referrers', 'registries.d']) {
      expect(flat, p).toContain(p);
    }
  });
});
