// --pki-format / DSV_PKI_FORMAT through the shipped command lines: docker-sign with a bare RSA key writes
// docker-sign-verify's `PKI SIGNATURE` armour; --pki-format v2 writes `DSV PKI SIGNATURE`; legacy asked
// for a key that carries a certificate chain is a usage error (exit 2, one line).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, dockerSaveArchive } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';


let work: string;
let rsaKey: string; // bare RSA key, no certificate: what the original signs with
let rsaPub: string;
let chained: string; // a key followed by its certificate and the CA's
let archive: string;

function bin(name: 'dsv' | 'docker-sign' | 'docker-verify', args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env: { PATH: process.env.PATH, HOME: work, ...extra }, cwd: work });
}

const armourOf = (text: string) => /-----BEGIN ((?:DSV )?PKI SIGNATURE)-----/.exec(text)?.[1];

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  work = tempDir('dsv-pki-cli-');
  const o = (args: string[]) => run(requireTool('openssl'), args, { cwd: work });
  rsaKey = join(work, 'rsa.pem');
  o(['genrsa', '-traditional', '-out', rsaKey, '2048']);
  rsaPub = join(work, 'rsa.pub.pem');
  o(['rsa', '-in', rsaKey, '-pubout', '-out', rsaPub]);
  o(['req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=format ca', '-days', '30', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  o(['req', '-new', '-key', rsaKey, '-subj', '/CN=format signer', '-out', 'leaf.csr']);
  writeFileSync(join(work, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  o(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'leaf.pem', '-extfile', 'leaf.ext']);
  chained = join(work, 'chained.pem');
  writeFileSync(chained, readFileSync(rsaKey, 'utf8') + readFileSync(join(work, 'leaf.pem'), 'utf8') + readFileSync(join(work, 'ca.pem'), 'utf8'));
  archive = join(work, 'img.tar');
  writeFileSync(archive, dockerSaveArchive([{ image: await buildSampleImage({ layers: [{ 'etc/pki': 'pki\n' }] }), tags: ['pki/app:1'] }]));
}, 300_000);

afterAll(() => removeTempDirs());

describe('PKI signature format on the command line', () => {
  it('docker-sign -t pki with a bare RSA key writes the original armour, and docker-verify trusts it', async () => {
    const dry = await bin('docker-sign', ['--dry-run', 'archive', '--archive', archive, '-t', 'pki', '-k', rsaKey, 'pki/app:1', 'pki/app:2']);
    expect(dry.code, dry.all).toBe(0);
    expect(armourOf(dry.stdout)).toBe('PKI SIGNATURE');
    const signed = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'pki', '-k', rsaKey, 'pki/app:1', 'pki/app:legacy']);
    expect(signed.code, signed.all).toBe(0);
    const v = await bin('docker-verify', ['archive', '--archive', archive, 'pki/app:legacy'], { DSV_PKI_TRUST: rsaPub });
    expect(v.code, v.all).toBe(0);
  });

  it('--pki-format v2 (docker-sign, dsv sign, dsv copy --sign-by) writes DSV PKI SIGNATURE', async () => {
    const legacy = await bin('docker-sign', ['--dry-run', '--pki-format', 'v2', 'archive', '--archive', archive, '-t', 'pki', '-k', rsaKey, 'pki/app:1', 'pki/app:3']);
    expect(legacy.code, legacy.all).toBe(0);
    expect(armourOf(legacy.stdout)).toBe('DSV PKI SIGNATURE');
    const dsv = await bin('dsv', ['sign', '--dry-run', '--pki-format', 'v2', '-t', 'pki', '-k', rsaKey, `docker-archive:${archive}:pki/app:1`, `docker-archive:${archive}:pki/app:4`]);
    expect(dsv.code, dsv.all).toBe(0);
    expect(armourOf(dsv.stdout)).toBe('DSV PKI SIGNATURE');
    const viaEnv = await bin('dsv', ['sign', '--dry-run', '-t', 'pki', '-k', rsaKey, `docker-archive:${archive}:pki/app:1`, `docker-archive:${archive}:pki/app:4`], { DSV_PKI_FORMAT: 'v2' });
    expect(armourOf(viaEnv.stdout)).toBe('DSV PKI SIGNATURE');
    const oci = join(work, 'copied');
    const copied = await bin('dsv', ['copy', '--sign-by', rsaKey, '-t', 'pki', '--pki-format', 'v2', `docker-archive:${archive}:pki/app:1`, `oci:${oci}:v2`]);
    expect(copied.code, copied.all).toBe(0);
    const blobs = run('grep', ['-rl', 'DSV PKI SIGNATURE', join(oci, 'blobs')]);
    expect(blobs.trim()).not.toBe('');
  });

  it('DSV_PKI_FORMAT=legacy (or --pki-format legacy) with a chained key is a usage error: exit 2, one line', async () => {
    const r = await bin('docker-sign', ['archive', '--archive', archive, '-t', 'pki', '-k', chained, 'pki/app:1', 'pki/app:5'], { DSV_PKI_FORMAT: 'legacy' });
    expect(r.code, r.all).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^docker-sign: error: .*legacy.*certificate/)]);
    const flag = await bin('dsv', ['sign', '--pki-format', 'legacy', '-t', 'pki', '-k', chained, `docker-archive:${archive}:pki/app:1`, `docker-archive:${archive}:pki/app:5`]);
    expect(flag.code, flag.all).toBe(2);
    const bad = await bin('dsv', ['sign', '--pki-format', 'pem', '-t', 'pki', '-k', rsaKey, `docker-archive:${archive}:pki/app:1`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^dsv: error: invalid --pki-format "pem"/m);
  });
});
