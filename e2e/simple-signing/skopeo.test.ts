// Simple signing against the real peers: skopeo 1.9 (signing with GnuPG, verifying with policy.json),
// gpg, and a real docker-registry, with a lookaside store named by a registries.d directory. Only
// skopeo's --policy/--registries.d flags and private GnuPG homes are used: nothing global is touched.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core';
import { evaluatePolicy, parsePolicy } from '@dsv/policy';
import {
  addLookasideSignature, createSimpleSignature, keyFileSigner, loadRegistriesD, lookasideBase, lookasideSource,
  readLookasideSignatures, readPublicKeys, simpleSigningFormat, verifySimpleSignature, type PayloadSigner,
} from '@dsv/signature-simple';
import { removeTempDirs, requireTool, tempDir } from '../helpers/proc.js';
import { lookasideRegistriesD, skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';

let reg: StartedRegistry;
let work: string;
let regd: string;
let store: string;
let theirs: GpgHome;
let ours: GpgHome;
let other: GpgHome;
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

function policyFile(name: string, body: unknown): string {
  const p = join(work, name);
  writeFileSync(p, JSON.stringify(body));
  return p;
}

async function manifestOf(repo: string, tag: string): Promise<Uint8Array> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

beforeAll(async () => {
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-simple-e2e-');
  store = join(work, 'sigstore');
  regd = lookasideRegistriesD(join(work, 'registries.d'), store);
  theirs = makeGpgHome({ withKey: { name: 'Skopeo Signer', email: 'skopeo@dsv.invalid' } });
  ours = makeGpgHome({ withKey: { name: 'Dsv Signer', email: 'dsv@dsv.invalid' } });
  other = makeGpgHome({ withKey: { name: 'Other Signer', email: 'other@dsv.invalid' } });
  for (const [name, home] of [['theirs', theirs], ['ours', ours], ['other', other]] as const) writeFileSync(join(work, `${name}.pub`), home.exportPublic());
  writeOciLayout(join(work, 'layout'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'simple signing\n' }] }), tag: 'v1' });
  policyFile('insecure.json', { default: [{ type: 'insecureAcceptAnything' }] });
});

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('simple signing with skopeo, gpg and a real registry', () => {
  it('skopeo copy --sign-by writes a lookaside signature that our library reads, verifies and accepts under signedBy', async () => {
    const r = skopeo(['--policy', join(work, 'insecure.json'), '--registries.d', regd, 'copy', '--dest-tls-verify=false',
      '--sign-by', theirs.fingerprint, `oci:${join(work, 'layout')}:v1`, `docker://${reg.host}/app/signed:v1`], { GNUPGHOME: theirs.home });
    expect(r.code, r.out).toBe(0);

    const manifest = await manifestOf('app/signed', 'v1');
    const digest = digestOf(manifest);
    const ref = `${reg.host}/app/signed:v1`;
    const config = await loadRegistriesD([regd]);
    const base = lookasideBase(config, ref, false)!;
    const sigs = await readLookasideSignatures(base, ref, digest);
    expect(sigs).toHaveLength(1);

    const v = await verifySimpleSignature(sigs[0]!, await readPublicKeys(new TextEncoder().encode(theirs.exportPublic())));
    expect(v.valid, v.reason).toBe(true);
    expect(v.fingerprint).toBe(theirs.fingerprint);
    expect(v.payload).toMatchObject({ dockerReference: ref, manifestDigest: digest });

    const format = simpleSigningFormat({ source: lookasideSource(config) });
    const image = { transport: 'docker', dockerReference: ref, manifestDigest: digest, manifestBytes: manifest };
    const accept = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'theirs.pub') }] }));
    const ok = await evaluatePolicy(accept, image, { formats: [format] });
    expect(ok.allowed, ok.requirements[0]!.reason).toBe(true);
    expect(ok.requirements[0]!.signatures[0]).toMatchObject({ accepted: true, keyId: theirs.fingerprint, identity: ref });

    const wrongKey = parsePolicy(JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'other.pub') }] }));
    const no = await evaluatePolicy(wrongKey, image, { formats: [format] });
    expect(no.allowed).toBe(false);
    expect(no.requirements[0]!.signatures[0]!.code).toBe('unknown-key');

    const wrongIdentity = await evaluatePolicy(accept, { ...image, dockerReference: `${reg.host}/app/signed:v2` }, { formats: [format] });
    expect(wrongIdentity.allowed).toBe(false);
    expect(wrongIdentity.requirements[0]!.signatures[0]!.code).toBe('wrong-identity');
  });

  /** Pushes the layout unsigned to `repo:tag`, signs it with `signer`, and stores the signature in the lookaside. */
  async function pushAndSign(repo: string, signer: PayloadSigner): Promise<void> {
    const r = skopeo(['--policy', join(work, 'insecure.json'), '--registries.d', regd, 'copy', '--dest-tls-verify=false',
      `oci:${join(work, 'layout')}:v1`, `docker://${reg.host}/${repo}:v1`]);
    expect(r.code, r.out).toBe(0);
    const manifest = await manifestOf(repo, 'v1');
    const ref = `${reg.host}/${repo}:v1`;
    const sig = await createSimpleSignature({ dockerReference: ref, manifestBytes: manifest, signer, creator: 'dsv e2e' });
    const base = lookasideBase(await loadRegistriesD([regd]), ref, true)!;
    expect(await addLookasideSignature(base, ref, digestOf(manifest), sig)).toBe(1);
  }

  function skopeoPull(repo: string, keyFile: string): { code: number; out: string } {
    const policy = policyFile(`policy-${repo.replace(/\W/g, '_')}-${keyFile}.json`, {
      default: [{ type: 'reject' }],
      transports: { docker: { [`${reg.host}/${repo}`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, keyFile) }] } },
    });
    const dest = tempDir('dsv-simple-pull-');
    return skopeo(['--policy', policy, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${reg.host}/${repo}:v1`, `dir:${dest}`]);
  }

  it('a signature our library writes with a key file is accepted by skopeo under signedBy our key, and rejected for another key', async () => {
    const secret = ours.gpg(['--armor', '--export-secret-keys', '--', ours.fingerprint]);
    await pushAndSign('app/ours', keyFileSigner({ keyFile: new TextEncoder().encode(secret) }));
    const ok = skopeoPull('app/ours', 'ours.pub');
    expect(ok.code, ok.out).toBe(0);
    const no = skopeoPull('app/ours', 'other.pub');
    expect(no.code).not.toBe(0);
    expect(no.out).toMatch(/Source image rejected: Invalid GPG signature/);
  });

  it('a signature made through an injected gpg signer (a GnuPG home) is accepted by skopeo too', async () => {
    const gpgSigner: PayloadSigner = async (payload) =>
      new Uint8Array(execFileSync(requireTool('gpg'), ['--homedir', other.home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '',
        '--local-user', other.fingerprint, '--sign', '--output', '-'], { input: payload }));
    await pushAndSign('app/gpg', gpgSigner);
    const ok = skopeoPull('app/gpg', 'other.pub');
    expect(ok.code, ok.out).toBe(0);
    expect(skopeoPull('app/gpg', 'ours.pub').code).not.toBe(0);
  });
});
