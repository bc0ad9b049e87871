import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseLocalStore, dockerStoreReadable } from '@dsv/source-repository';
import { dockerSignMain, dockerVerifyMain, legacyReference, parseDockerSignArgs, parseDockerVerifyArgs } from './legacy.js';
import { captureIo } from './__tests__/capture.js';

describe('docker-sign arguments', () => {
  it('parses the original interface with options after the subcommand', async () => {
    const p = await parseDockerSignArgs(['registry', '-k', 'ABCD', '-p', 'pw', '-t', 'pki', 'src:1', 'dst:1']);
    expect(p).toEqual({
      kind: 'run',
      args: { source: 'registry', dryRun: false, signatureType: 'sign', debug: false, keyid: 'ABCD', keypass: 'pw', sigtype: 'pki', srcImage: 'src:1', destImage: 'dst:1' },
    });
  });

  it('accepts the options before the subcommand, long forms, and case-insensitive signature types', async () => {
    const p = await parseDockerSignArgs(['--dry-run', '-s', 'ENDORSE', '--debug', '--keyid=K', 'archive', '--archive', 'a.tar', 'x:1', 'y:2']);
    expect(p.kind).toBe('run');
    if (p.kind !== 'run') return;
    expect(p.args).toMatchObject({ source: 'archive', archive: 'a.tar', dryRun: true, signatureType: 'endorse', debug: true, keyid: 'K', srcImage: 'x:1', destImage: 'y:2' });
    const v = await parseDockerSignArgs(['-v', 'repository', 'a', 'b', '--signature-type', 'resign']);
    expect(v.kind === 'run' && v.args).toMatchObject({ source: 'repository', debug: true, signatureType: 'resign' });
  });

  it('takes --authfile, --creds and repeated --signer-opt (docker-verify: --authfile and --creds)', async () => {
    const p = await parseDockerSignArgs(['registry', '--authfile', 'a.json', '--creds', 'u:p:w', '--signer-opt', 'x=1', '--signer-opt', 'shared-key:y=a,b', 's:1', 'd:1']);
    expect(p.kind === 'run' && p.args).toMatchObject({ auth: { authfile: 'a.json', creds: 'u:p:w' }, signerOpts: ['x=1', 'shared-key:y=a,b'] });
    const v = await parseDockerVerifyArgs(['--creds', 'ci', 'registry', '--authfile', 'b.json', 'img:1']);
    expect(v.kind === 'run' && v.args).toMatchObject({ auth: { authfile: 'b.json', creds: 'ci' } });
    expect((await parseDockerVerifyArgs(['registry', '--signer-opt', 'x=1', 'img:1'])).kind).toBe('error');
  });

  it('never echoes a --creds password, even in a usage error', async () => {
    for (const main of [dockerSignMain, dockerVerifyMain]) {
      const io = captureIo();
      expect(await main(['registry', '--creds', 'ci:legacy-pw-secret', '--bogus', 'a', 'b'], io)).toBe(2);
      expect(io.outText() + io.errText()).not.toContain('legacy-pw-secret');
    }
  });

  it('rejects what the original rejected', async () => {
    expect((await parseDockerSignArgs([])).kind).toBe('error');
    expect((await parseDockerSignArgs(['registry', 'only-one'])).kind).toBe('error');
    expect((await parseDockerSignArgs(['archive', 'a', 'b']))).toMatchObject({ kind: 'error', message: expect.stringContaining('archive') });
    expect((await parseDockerSignArgs(['nope', 'a', 'b'])).kind).toBe('error');
    expect((await parseDockerSignArgs(['-s', 'countersign', 'registry', 'a', 'b']))).toMatchObject({ kind: 'error', message: expect.stringContaining('signature-type') });
    expect((await parseDockerSignArgs(['registry', 'a', 'b', 'c'])).kind).toBe('error');
  });

  it('has the original version subcommand', async () => {
    expect(await parseDockerSignArgs(['version'])).toEqual({ kind: 'output', text: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect(await parseDockerVerifyArgs(['version'])).toEqual({ kind: 'output', text: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });

  it('prints help and exits 0', async () => {
    const io = captureIo();
    expect(await dockerSignMain(['--help'], io)).toBe(0);
    expect(io.outText()).toContain('registry');
    expect(io.outText()).toContain('--keyid');
  });

  it('answers a usage error with one line and exit 2, never echoing the passphrase', async () => {
    const io = captureIo();
    expect(await dockerSignMain(['registry', '-p', 'hunter2-secret', 'onlysrc'], io)).toBe(2);
    expect(io.errText()).toMatch(/^docker-sign: error: /);
    expect(io.errText() + io.outText()).not.toContain('hunter2-secret');
  });
});

describe('docker-verify arguments', () => {
  it('takes several images and options on either side', async () => {
    const p = await parseDockerVerifyArgs(['registry', 'a:1', 'b:2', '-v']);
    expect(p).toEqual({ kind: 'run', args: { source: 'registry', debug: true, images: ['a:1', 'b:2'] } });
    const q = await parseDockerVerifyArgs(['--debug', 'archive', '-a', 'x.tar', 'a:1']);
    expect(q).toEqual({ kind: 'run', args: { source: 'archive', archive: 'x.tar', debug: true, images: ['a:1'] } });
  });

  it('needs an image and --archive for archives', async () => {
    expect((await parseDockerVerifyArgs(['registry'])).kind).toBe('error');
    expect((await parseDockerVerifyArgs(['archive', 'a:1'])).kind).toBe('error');
    const io = captureIo();
    expect(await dockerVerifyMain(['archive', 'a:1'], io)).toBe(2);
    expect(io.errText()).toContain('docker-verify: error:');
  });
});

describe('legacy image names', () => {
  it('maps registry, archive and repository names to transport references', async () => {
    const store = await chooseLocalStore({ dockerRoot: '/nonexistent-docker-root' });
    expect(legacyReference('registry', 'localhost:5000/a/b:1', { purpose: 'read', store })).toBe('docker://localhost:5000/a/b:1');
    expect(legacyReference('registry', 'docker://h/a:1', { purpose: 'read', store })).toBe('docker://h/a:1');
    expect(legacyReference('archive', 'demo:1', { archive: 'x/demo.tar', purpose: 'read', store })).toBe(`docker-archive:${resolve('x/demo.tar')}:demo:1`);
    expect(legacyReference('repository', 'busybox:1', { purpose: 'write', store })).toBe('docker-daemon:busybox:1');
    expect(legacyReference('repository', 'busybox:1', { purpose: 'read', store })).toBe('docker-daemon:busybox:1');
    expect(store.why).toContain('not readable');
  });

  it('reads the store directly when it is readable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dsv-root-'));
    mkdirSync(join(root, 'image'));
    expect(dockerStoreReadable(root).readable).toBe(true);
    const store = await chooseLocalStore({ dockerRoot: root });
    expect(legacyReference('repository', 'busybox:1', { purpose: 'read', store })).toBe('docker-storage:busybox:1');
  });
});
