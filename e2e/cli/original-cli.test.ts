// The original docker-sign-verify's `dsv` command line, as the shipped bin takes it:
//   dsv [--check-signatures|--no-check-signatures] [--dry-run] [-v|--debug] [-q|--quiet] [-s|--silent]
//       sign [-s|--signature-type T] -k|--keyid KEY [-p|--keypass PASS] [-t|--sigtype gpg|pki] SRC DEST
//   dsv … verify IMAGE...      dsv … copy SRC DEST
// against OCI layouts and a real GnuPG home named by GNUPGHOME alone (no DSV_GPG_DATASTORE); also
// docker-sign / docker-verify with only GNUPGHOME set.
import { copyFileSync, cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, dockerSaveArchive, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { launcher } from '../helpers/cli.js';

const PASS = 'original-cli-passphrase';

let work: string;
let gpg: GpgHome;
let env: NodeJS.ProcessEnv;
let a: string; // OCI layout: tag 1 unsigned
let broken: string; // OCI layout: tag 1 with a layer whose bytes were changed
let dest: string;

function bin(name: 'dsv' | 'docker-sign' | 'docker-verify', args: string[]): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env, cwd: work });
}

/** Tags of an OCI layout (index.json annotations). */
function tags(layout: string): string[] {
  if (!existsSync(join(layout, 'index.json'))) return [];
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
  return index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '').filter(Boolean);
}

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  work = tempDir('dsv-original-cli-');
  gpg = makeGpgHome({ withKey: { name: 'Original CLI', email: 'original-cli@dsv.invalid', passphrase: PASS } });
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: gpg.home };
  const image = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello\n' }, { 'app/run.sh': '#!/bin/sh\necho original\n' }] });
  a = writeOciLayout(join(work, 'a'), { image, tag: '1' });
  broken = join(work, 'broken');
  cpSync(a, broken, { recursive: true });
  // Change one byte of the biggest blob that is a layer (same size, wrong digest).
  const blobs = join(broken, 'blobs', 'sha256');
  const layer = image.layers[1]!.descriptor.digest.slice('sha256:'.length);
  expect(readdirSync(blobs)).toContain(layer);
  const bytes = readFileSync(join(blobs, layer));
  bytes[bytes.length - 5] ^= 0xff;
  writeFileSync(join(blobs, layer), bytes);
  expect(statSync(join(blobs, layer)).size).toBe(image.layers[1]!.descriptor.size);
  dest = join(work, 'dest');
}, 300_000);

afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv, the original command line', () => {
  it('signs with -k/-p/-t (GnuPG home from GNUPGHOME only), never echoing the passphrase, and verifies', async () => {
    const r = await bin('dsv', ['sign', '-k', gpg.fingerprint, '-p', PASS, '-t', 'gpg', `oci:${a}:1`, `oci:${a}:signed`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/^Created new image: /m);
    expect(r.all).not.toContain(PASS);
    const v = await bin('dsv', ['verify', `oci:${a}:signed`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toMatch(/^Verified: /m);
    expect(v.stdout).toContain(gpg.keyId);
  });

  it('takes the long forms (--keyid --keypass --sigtype --signature-type) and --dry-run before the command', async () => {
    const r = await bin('dsv', ['--dry-run', 'sign', '--signature-type', 'sign', '--keyid', gpg.fingerprint, '--keypass', PASS, '--sigtype', 'gpg', `oci:${a}:1`, `oci:${a}:dry`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/^Dry run completed/m);
    expect(r.all).not.toContain(PASS);
    expect(tags(a)).not.toContain('dry');
  });

  it('-s is --silent before the command and --signature-type after sign', async () => {
    const r = await bin('dsv', ['-s', 'sign', '-s', 'endorse', '-k', gpg.fingerprint, '-p', PASS, `oci:${a}:signed`, `oci:${a}:endorsed`]);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toBe('');
    const v = await bin('dsv', ['verify', '--json', `oci:${a}:endorsed`]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('"endorsement"');
    const bad = await bin('dsv', ['-s', 'sign', '-s', 'bogus', '-k', gpg.fingerprint, `oci:${a}:1`, `oci:${a}:x`]);
    expect(bad.code).toBe(2);
    expect(bad.all).toBe('');
  });

  it('--check-signatures (the default) fails an unsigned image; --no-check-signatures checks integrity only', async () => {
    const unsigned = await bin('dsv', ['--check-signatures', 'verify', `oci:${a}:1`]);
    expect(unsigned.code, unsigned.all).toBe(1);
    const integrity = await bin('dsv', ['--no-check-signatures', 'verify', `oci:${a}:1`]);
    expect(integrity.code, integrity.all).toBe(0);
    expect(integrity.stdout).toMatch(/^Integrity check passed\./m);
    const corrupt = await bin('dsv', ['--no-check-signatures', 'verify', `oci:${broken}:1`]);
    expect(corrupt.code, corrupt.all).toBe(1);
    expect(corrupt.stderr).toMatch(/dsv: error: .*layer/);
  });

  it('-q prints only errors and the verdict line; -s prints nothing', async () => {
    const q = await bin('dsv', ['-q', 'verify', `oci:${a}:signed`]);
    expect(q.code, q.all).toBe(0);
    expect(q.stdout).toMatch(/^Verified: \S+ \(sha256:[0-9a-f]{64}\)\n$/);
    expect(q.stderr).toBe('');
    const qFail = await bin('dsv', ['--quiet', 'verify', `oci:${a}:1`]);
    expect(qFail.code).toBe(1);
    expect(qFail.stdout).toMatch(/^NOT verified: [^\n]+\n$/);
    expect(qFail.stderr).toMatch(/^dsv: error: /m);
    const s = await bin('dsv', ['--silent', 'verify', `oci:${a}:1`]);
    expect(s.code).toBe(1);
    expect(s.all).toBe('');
  });

  it('copy SRC DEST is a verified copy: signatures and every blob checked before DEST is written', async () => {
    const ok = await bin('dsv', ['copy', `oci:${a}:signed`, `oci:${dest}:signed`]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toMatch(/^Copied /m);
    expect((await bin('dsv', ['verify', `oci:${dest}:signed`])).code).toBe(0);

    const unsigned = await bin('dsv', ['copy', `oci:${a}:1`, `oci:${dest}:unsigned`]);
    expect(unsigned.code, unsigned.all).toBe(1);
    expect(unsigned.stderr).toMatch(/not copied/);
    expect(tags(dest)).not.toContain('unsigned');

    const integrity = await bin('dsv', ['--no-check-signatures', 'copy', `oci:${a}:1`, `oci:${dest}:unsigned`]);
    expect(integrity.code, integrity.all).toBe(0);
    expect(tags(dest)).toContain('unsigned');

    const corrupt = await bin('dsv', ['--no-check-signatures', 'copy', `oci:${broken}:1`, `oci:${dest}:broken`]);
    expect(corrupt.code, corrupt.all).toBe(1);
    expect(tags(dest)).not.toContain('broken');

    const quiet = await bin('dsv', ['-q', '--no-check-signatures', 'copy', `oci:${a}:1`, `oci:${dest}:quiet`]);
    expect(quiet.code, quiet.all).toBe(0);
    expect(quiet.stdout).toMatch(/^Copied [^\n]+\n$/);
  });

  it('copy with dsv-copy options works as before (no signature check unless asked)', async () => {
    const r = await bin('dsv', ['copy', '--jobs', '2', `oci:${a}:1`, `oci:${dest}:plain`]);
    expect(r.code, r.all).toBe(0);
    expect(tags(dest)).toContain('plain');
    const asked = await bin('dsv', ['--check-signatures', 'copy', '--jobs', '2', `oci:${a}:1`, `oci:${dest}:asked`]);
    expect(asked.code, asked.all).toBe(1);
    expect(tags(dest)).not.toContain('asked');
  });
});

describe('GNUPGHOME alone, in docker-sign and docker-verify', () => {
  it('signs and verifies a docker-save archive with the GnuPG home from GNUPGHOME', async () => {
    const image = await buildSampleImage({ layers: [{ 'etc/legacy': 'legacy\n' }] });
    const archive = join(work, 'saved.tar');
    writeFileSync(archive, dockerSaveArchive([{ image, tags: ['gnupghome/app:1'] }]));
    const copy = join(work, 'saved-copy.tar');
    copyFileSync(archive, copy);
    const s = await bin('docker-sign', ['archive', '--archive', archive, '-k', gpg.fingerprint, '-p', PASS, 'gnupghome/app:1', 'gnupghome/app:signed']);
    expect(s.code, s.all).toBe(0);
    expect(s.all).not.toContain(PASS);
    const v = await bin('docker-verify', ['archive', '--archive', archive, 'gnupghome/app:signed']);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain(gpg.keyId);
  });
});
