// The shipped command lines (the BUILT bins, spawned as processes) against the real docker-registry,
// real skopeo, a real GnuPG home and openssl-made PKI keys.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { skopeoOkAsync as skopeo } from '../helpers/skopeo.js';
import { blobDataPath, startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { launcher } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

let reg: StartedRegistry;
let work: string;
let gpgHome: GpgHome;
let otherHome: GpgHome;
let baseEnv: NodeJS.ProcessEnv;
let pki: { keypair: string; ca: string; otherCa: string };
const GPG_PASS = 'e2e-gpg-passphrase';

function bin(name: 'dsv' | 'docker-sign' | 'docker-verify', args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env: { ...baseEnv, ...env }, cwd: work });
}

/** skopeo inspect flags for this registry (plain HTTP). */
const inspectFlags = () => ['--tls-verify=false'];

function makePki(dir: string) {
  const openssl = requireTool('openssl');
  const o = (args: string[]) => run(openssl, args, { cwd: dir });
  const ca = (name: string) => {
    o(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
    o(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '30', '-out', `${name}.pem`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  ca('ca');
  ca('other-ca');
  o(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key']);
  o(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=dsv e2e signer', '-out', 'leaf.csr']);
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
  o(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'leaf.pem', '-extfile', 'leaf.ext']);
  const keypair = join(dir, 'keypair.pem');
  writeFileSync(keypair, readFileSync(join(dir, 'leaf.key'), 'utf8') + readFileSync(join(dir, 'leaf.pem'), 'utf8'));
  return { keypair, ca: join(dir, 'ca.pem'), otherCa: join(dir, 'other-ca.pem') };
}

beforeAll(async () => {
  // The tests prove the shipped CLI: build it (incremental, serialised with other builders).
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-cli-e2e-');
  gpgHome = makeGpgHome({ withKey: { name: 'CLI E2E Signer', email: 'cli-e2e@dsv.invalid', passphrase: GPG_PASS } });
  otherHome = makeGpgHome({ withKey: { name: 'Somebody Else', email: 'else@dsv.invalid' } });
  pki = makePki(work);
  baseEnv = {
    PATH: process.env.PATH,
    HOME: work,
    DSV_GPG_DATASTORE: gpgHome.home,
    DSV_PKI_DATASTORE: pki.ca,
  };
  const sample = join(work, 'sample-oci');
  writeOciLayout(sample, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello\n' }, { 'app/run.sh': '#!/bin/sh\necho cli e2e\n' }] }), tag: '1' });
  await skopeo(['copy', '--quiet', ...reg.skopeoFlags('dest'), `oci:${sample}:1`, `docker://${reg.host}/e2e/sample:1`]);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('docker-sign / docker-verify registry (GPG)', () => {
  it('--help works on the built bins', async () => {
    for (const name of ['dsv', 'docker-sign', 'docker-verify'] as const) {
      const r = await bin(name, ['--help']);
      expect(r.code, r.all).toBe(0);
      expect(r.stdout).toContain(name === 'dsv' ? 'verify' : 'registry');
    }
    // The bins npm links for the workspace (npm ci / npm install): npx finds them without installing anything.
    const npx = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      execFile('npx', ['--no-install', 'docker-sign', '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 }, (err, stdout) =>
        err && typeof err.code !== 'number' ? reject(err) : resolve({ code: err ? (err.code as number) : 0, out: stdout }),
      );
    });
    expect(npx.code).toBe(0);
    expect(npx.out).toContain('Creates and embeds signatures');
  });

  it('signs an image pushed by skopeo with a key from a GnuPG home', async () => {
    const r = await bin('docker-sign', ['registry', '-k', gpgHome.keyId, `${reg.host}/e2e/sample:1`, `${reg.host}/e2e/sample:gpg`], { DSV_KEYPASS: GPG_PASS });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Created new image');
    expect(r.stdout).toContain('config digest (signed)');
    expect(r.all).not.toContain(GPG_PASS);
  });

  it('verifies the signed tag', async () => {
    const r = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:gpg`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.stdout).toContain('Signature check passed.');
    expect(r.stdout).toContain(gpgHome.signingKeyId);
  });

  it('shows the signatures label to skopeo inspect --config', async () => {
    const config = JSON.parse(await skopeo(['inspect', '--config', ...inspectFlags(), `docker://${reg.host}/e2e/sample:gpg`]));
    const label = config.config.Labels.signatures as string;
    expect(JSON.parse(label)).toHaveLength(1);
    expect(label).toContain('BEGIN PGP SIGNATURE');
  });

  it('fails on the unsigned tag (exit 1)', async () => {
    const r = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/docker-verify: error: .*sample:1/);
  });

  it('fails when the trusted keys do not include the signer, naming the key', async () => {
    const r = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:gpg`], { DSV_GPG_DATASTORE: otherHome.home });
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(gpgHome.signingKeyId);
  });

  it('refuses a wrong passphrase with exit 2 and never prints it', async () => {
    const wrong = 'wrong-passphrase-4711';
    const r = await bin('docker-sign', ['registry', '-k', gpgHome.keyId, '-p', wrong, `${reg.host}/e2e/sample:1`, `${reg.host}/e2e/sample:never`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(/^docker-sign: error: /);
    expect(r.all).not.toContain(wrong);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('writes nothing on --dry-run', async () => {
    const r = await bin('docker-sign', ['--dry-run', 'registry', '-k', gpgHome.keyId, `${reg.host}/e2e/sample:1`, `${reg.host}/e2e/sample:dry`], { DSV_KEYPASS: GPG_PASS });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Dry run');
    await expect(skopeo(['inspect', ...inspectFlags(), `docker://${reg.host}/e2e/sample:dry`])).rejects.toThrow();
  });

  it('answers a bad reference with exit 2', async () => {
    const r = await bin('docker-verify', ['registry', `${reg.host}/e2e/UPPER:1`]);
    expect(r.code, r.all).toBe(2);
  });

  it('answers an unreachable registry with exit 3', async () => {
    const r = await bin('docker-verify', ['registry', '127.0.0.1:1/e2e/sample:1']);
    expect(r.code, r.all).toBe(3);
  });
});

describe('PKI, co-signatures and endorsements', () => {
  it('signs with an openssl-made PKI key and verifies against the CA', async () => {
    const s = await bin('docker-sign', ['registry', '-t', 'pki', '-k', pki.keypair, `${reg.host}/e2e/sample:1`, `${reg.host}/e2e/sample:pki`], { DSV_KEYPASS: '' });
    expect(s.code, s.all).toBe(0);
    const v = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:pki`]);
    expect(v.code, v.all).toBe(0);
    const other = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:pki`], { DSV_PKI_DATASTORE: pki.otherCa });
    expect(other.code, other.all).toBe(1);
  });

  it('passes with two co-signatures and an endorsement', async () => {
    const co = await bin('docker-sign', ['-s', 'sign', 'registry', '-t', 'PKI', '-k', pki.keypair, `${reg.host}/e2e/sample:gpg`, `${reg.host}/e2e/sample:cosigned`]);
    expect(co.code, co.all).toBe(0);
    const en = await bin('docker-sign', ['registry', '--signature-type', 'endorse', '-k', gpgHome.keyId, `${reg.host}/e2e/sample:cosigned`, `${reg.host}/e2e/sample:endorsed`], { DSV_KEYPASS: GPG_PASS });
    expect(en.code, en.all).toBe(0);
    const v = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:endorsed`]);
    expect(v.code, v.all).toBe(0);
    const j = await bin('dsv', ['verify', '--json', `docker://${reg.host}/e2e/sample:endorsed`]);
    expect(j.code, j.all).toBe(0);
    const report = JSON.parse(j.stdout);
    const sigs = report.results[0].images[0].signatures;
    expect(sigs.map((s: { role: string; type: string }) => `${s.role}:${s.type}`)).toEqual(['signature:gpg', 'signature:pki', 'endorsement:gpg']);
    expect(sigs.every((s: { valid: boolean; trusted: boolean }) => s.valid && s.trusted)).toBe(true);
    // Without the PKI CA the co-signature is not trusted: the whole image fails, naming signature 1.
    const partial = await bin('docker-verify', ['registry', `${reg.host}/e2e/sample:endorsed`], { DSV_PKI_DATASTORE: pki.otherCa });
    expect(partial.code, partial.all).toBe(1);
    expect(partial.stderr).toMatch(/signature 1/);
  });
});

describe('a blob corrupted in the registry storage', () => {
  it('makes verify fail and name the blob', async () => {
    const dir = join(work, 'corrupt-oci');
    const img = await buildSampleImage({ format: 'oci', layers: [{ 'data/unique': `corrupt me ${Date.now()}\n`.repeat(50) }] });
    writeOciLayout(dir, { image: img, tag: '1' });
    await skopeo(['copy', '--quiet', ...reg.skopeoFlags('dest'), `oci:${dir}:1`, `docker://${reg.host}/e2e/corrupt:1`]);
    const s = await bin('docker-sign', ['registry', '-k', gpgHome.keyId, `${reg.host}/e2e/corrupt:1`, `${reg.host}/e2e/corrupt:signed`], { DSV_KEYPASS: GPG_PASS });
    expect(s.code, s.all).toBe(0);
    expect((await bin('docker-verify', ['registry', `${reg.host}/e2e/corrupt:signed`])).code).toBe(0);
    const layer = img.layers[0]!.descriptor.digest;
    const path = blobDataPath(reg, layer);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(path, bytes);
    const v = await bin('docker-verify', ['registry', `${reg.host}/e2e/corrupt:signed`]);
    expect(v.code, v.all).toBe(1);
    expect(v.stderr).toContain(layer);
  });
});

describe('multi-platform images', () => {
  it('signs every platform image of an index pushed by skopeo --all and verifies each', async () => {
    const dir = join(work, 'multi-oci');
    const images = [
      await buildSampleImage({ format: 'oci', layers: [{ 'arch.txt': 'amd64\n' }], platform: 'linux/amd64' }),
      await buildSampleImage({ format: 'oci', layers: [{ 'arch.txt': 'arm64\n' }], platform: 'linux/arm64/v8' }),
    ];
    writeOciLayout(dir, { image: buildSampleIndex(images), tag: 'multi' });
    await skopeo(['copy', '--quiet', '--all', ...reg.skopeoFlags('dest'), `oci:${dir}:multi`, `docker://${reg.host}/e2e/multi:1`]);
    const s = await bin('dsv', ['sign', '--key', gpgHome.keyId, `docker://${reg.host}/e2e/multi:1`, `docker://${reg.host}/e2e/multi:signed`], { DSV_KEYPASS: GPG_PASS });
    expect(s.code, s.all).toBe(0);
    const j = await bin('dsv', ['verify', '--json', `docker://${reg.host}/e2e/multi:signed`]);
    expect(j.code, j.all).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(report.results[0].kind).toBe('index');
    const platforms = report.results[0].images.map((i: { platform: string }) => i.platform).sort();
    expect(platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
    for (const img of report.results[0].images) {
      expect(img.ok).toBe(true);
      expect(img.signatures).toHaveLength(1);
      expect(img.integrity.layers.every((l: { ok: boolean }) => l.ok)).toBe(true);
    }
    const one = await bin('dsv', ['verify', '--json', '--platform', 'linux/arm64/v8', `docker://${reg.host}/e2e/multi:signed`]);
    expect(one.code, one.all).toBe(0);
    expect(JSON.parse(one.stdout).results[0].images).toHaveLength(1);
    const raw = JSON.parse(await skopeo(['inspect', '--raw', ...inspectFlags(), `docker://${reg.host}/e2e/multi:signed`]));
    expect(raw.manifests).toHaveLength(2);
    // The unsigned index fails for every platform.
    const unsigned = await bin('docker-verify', ['registry', `${reg.host}/e2e/multi:1`]);
    expect(unsigned.code, unsigned.all).toBe(1);
    expect(unsigned.stderr).toContain('linux/amd64');
    expect(unsigned.stderr).toContain('linux/arm64');
  });
});
