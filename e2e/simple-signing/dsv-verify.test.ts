// `dsv verify --policy` (and DSV_POLICY) against the real peers: skopeo 1.9 signs with `--sign-by` in a
// private GnuPG home into a lookaside store named by a temp registries.d; the BUILT dsv judges the image
// in a real docker-registry by a containers-policy.json. Nothing global is read or written.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { runDsv, writeIn } from '../helpers/cli.js';
import { lookasideRegistriesD, skopeo } from '../helpers/skopeo.js';
import { blobDataPath, startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';

let reg: StartedRegistry;
let work: string;
let regd: string;
let theirs: GpgHome;
let other: GpgHome;
let env: NodeJS.ProcessEnv;

const dsv = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => runDsv(args, { ...env, ...extra }, work);

const file = (name: string, body: unknown): string => writeIn(work, name, body);

const signedBy = (keyPath: string, signedIdentity?: unknown) => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath, ...(signedIdentity ? { signedIdentity } : {}) });

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-policy-e2e-');
  regd = lookasideRegistriesD(join(work, 'registries.d'), join(work, 'sigstore'));
  theirs = makeGpgHome({ withKey: { name: 'Skopeo Signer', email: 'skopeo@dsv.invalid' } });
  other = makeGpgHome({ withKey: { name: 'Other Signer', email: 'other@dsv.invalid' } });
  file('theirs.pub', theirs.exportPublic());
  file('other.pub', other.exportPublic());
  file('insecure.json', { default: [{ type: 'insecureAcceptAnything' }] });
  writeOciLayout(join(work, 'layout'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'policy verify\n' }, { 'etc/two': 'two\n' }] }), tag: 'v1' });
  const r = skopeo(['--policy', join(work, 'insecure.json'), '--registries.d', regd, 'copy', '--dest-tls-verify=false', '--sign-by', theirs.fingerprint,
    `oci:${join(work, 'layout')}:v1`, `docker://${reg.host}/app/signed:v1`], { GNUPGHOME: theirs.home });
  expect(r.code, r.out).toBe(0);
  // The same manifest under another tag, unsigned for that name.
  expect(skopeo(['--policy', join(work, 'insecure.json'), 'copy', '--src-tls-verify=false', '--dest-tls-verify=false',
    `docker://${reg.host}/app/signed:v1`, `docker://${reg.host}/app/signed:v2`]).code).toBe(0);
  env = { PATH: process.env.PATH, HOME: work };
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv verify --policy with signatures skopeo made', () => {
  it('accepts the image under signedBy the signing key, printing the reason per requirement', async () => {
    const policy = file('theirs.json', { default: [{ type: 'reject' }], transports: { docker: { [`${reg.host}/app`]: [signedBy(join(work, 'theirs.pub'))] } } });
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.stdout).toContain(`Judging by policy ${policy}: transports.docker["${reg.host}/app"]`);
    expect(r.stdout).toMatch(new RegExp(`signedBy: satisfied: simple signature 1 accepted: signed by key ${theirs.fingerprint} Skopeo Signer`));
    expect(r.stdout).toContain(`Verified: docker://${reg.host}/app/signed:v1`);
  });

  it('--json carries the verdict, the scope, and each signature judged', async () => {
    const policy = file('theirs-default.json', { default: [signedBy(join(work, 'theirs.pub'))] });
    const r = await dsv(['verify', '--json', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ command: 'verify', ok: true, exitCode: 0 });
    expect(j.results[0].images[0].integrity.ok).toBe(true);
    expect(j.results[0].policy).toMatchObject({
      allowed: true, scope: 'default', transport: 'docker',
      requirements: [{ type: 'signedBy', allowed: true, signatures: [{ format: 'simple-signing', accepted: true, keyId: theirs.fingerprint, identity: `${reg.host}/app/signed:v1` }] }],
    });
  });

  it('DSV_POLICY names the policy when --policy is not given', async () => {
    const policy = file('env.json', { default: [signedBy(join(work, 'theirs.pub'))] });
    const r = await dsv(['verify', '--registries.d', regd, `docker://${reg.host}/app/signed:v1`], { DSV_POLICY: policy });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Judging by policy ${policy}`);
  });

  it('a wrong key: exit 1 with the reason', async () => {
    const policy = file('other.json', { default: [signedBy(join(work, 'other.pub'))] });
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('NOT verified');
    expect(r.stderr).toMatch(/signedBy: no signature was accepted: simple signature 1: .*(key|signing)/i);
  });

  it('a wrong identity: the same manifest under :v2 is not what was signed (matchRepoDigestOrExact), exactReference elsewhere neither', async () => {
    const policy = file('theirs-v2.json', { default: [signedBy(join(work, 'theirs.pub'))] });
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/signed:v2`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`signedBy: no signature was accepted: simple signature 1:`);
    expect(r.stderr).toContain(`${reg.host}/app/signed:v1`);
    const exact = file('exact.json', { default: [signedBy(join(work, 'theirs.pub'), { type: 'exactReference', dockerReference: `${reg.host}/app/other:v1` })] });
    const e = await dsv(['verify', '--policy', exact, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
    expect(e.code, e.all).toBe(1);
    expect(e.stderr).toContain(`${reg.host}/app/other:v1`);
  });

  it('without a lookaside store configured the image has no signatures: exit 1, saying so', async () => {
    const empty = join(work, 'empty-registries.d');
    mkdirSync(empty, { recursive: true });
    const policy = file('theirs-nolookaside.json', { default: [signedBy(join(work, 'theirs.pub'))] });
    const r = await dsv(['verify', '--policy', policy, '--registries.d', empty, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain('a signature was required, but the image has none');
  });

  it('an unparsable policy, an unknown requirement, a missing policy file: exit 2 (never "accept")', async () => {
    for (const body of ['{"default": [', { default: [{ type: 'trustMeBro' }] }, { default: [] }]) {
      const policy = file('bad.json', body);
      const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
      expect(r.code, `${JSON.stringify(body)}: ${r.all}`).toBe(2);
      expect(r.stderr).toMatch(/invalid policy/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const missing = await dsv(['verify', '--policy', join(work, 'nope.json'), `docker://${reg.host}/app/signed:v1`]);
    expect(missing.code).toBe(2);
  });

  it('without --policy or DSV_POLICY, verify behaves as before (embedded signatures; the detached ones do not count)', async () => {
    const r = await dsv(['verify', `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain('no signatures');
  });

  it('dsvSigned judges the embedded signatures; every requirement of the scope must hold', async () => {
    file('theirs.sec.asc', theirs.gpg(['--armor', '--export-secret-keys', '--', theirs.fingerprint]));
    const s = await dsv(['sign', '--key', join(work, 'theirs.sec.asc'), '--key-type', 'gpg', `docker://${reg.host}/app/signed:v1`, `docker://${reg.host}/app/embedded:v1`], { DSV_KEYPASS: '' });
    expect(s.code, s.all).toBe(0);
    const embedded = file('embedded.json', { default: [{ type: 'dsvSigned', keyPath: join(work, 'theirs.pub') }] });
    const ok = await dsv(['verify', '--policy', embedded, `docker://${reg.host}/app/embedded:v1`]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toMatch(/dsvSigned: satisfied: embedded signatures \(1\) accepted: signed by key [0-9A-F]+/);
    const wrong = await dsv(['verify', '--policy', file('embedded-other.json', { default: [{ type: 'dsvSigned', keyPath: join(work, 'other.pub') }] }), `docker://${reg.host}/app/embedded:v1`]);
    expect(wrong.code, wrong.all).toBe(1);
    expect(wrong.stderr).toContain('no valid embedded signature by these keys');
    // The simple-signed image has no embedded signature: both requirements are needed, one fails.
    const both = file('both.json', { default: [signedBy(join(work, 'theirs.pub')), { type: 'dsvSigned', keyPath: join(work, 'theirs.pub') }] });
    const r = await dsv(['verify', '--policy', both, '--registries.d', regd, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('signedBy: satisfied');
    expect(r.stderr).toContain('dsvSigned: a signature was required, but the image has none');
  });

  it('integrity is still checked: a corrupted layer fails although the signature and the policy accept the manifest', async () => {
    const layout = join(work, 'layout-corrupt');
    const image = await buildSampleImage({ format: 'oci', layers: [{ 'etc/corrupt-me': 'only in this image\n' }] });
    writeOciLayout(layout, { image, tag: 'v1' });
    const c = skopeo(['--policy', join(work, 'insecure.json'), '--registries.d', regd, 'copy', '--dest-tls-verify=false', '--sign-by', theirs.fingerprint,
      `oci:${layout}:v1`, `docker://${reg.host}/app/corrupt:v1`], { GNUPGHOME: theirs.home });
    expect(c.code, c.out).toBe(0);
    const policy = file('theirs-corrupt.json', { default: [signedBy(join(work, 'theirs.pub'))] });
    const before = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/corrupt:v1`]);
    expect(before.code, before.all).toBe(0);
    const manifest = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/app/corrupt:v1`]).out);
    const path = blobDataPath(reg, manifest.layers[0].digest);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(path, bytes);
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/app/corrupt:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('Integrity check FAILED.');
    expect(r.stdout).toContain('signedBy: satisfied');
    expect(r.stderr).toContain(manifest.layers[0].digest);
  });
});
