// `dsv sign --format simple` against the real peers: the BUILT dsv signs images in a real docker-registry
// (a key file, or a key in a GnuPG home through the gpg binary) into a lookaside store named by a temp
// registries.d; skopeo 1.9 then pulls them under a policy requiring signedBy our key. Also: remapIdentity
// for a mirrored image, and a manifest swapped after signing, rejected by both.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { runDsv, writeIn } from '../helpers/cli.js';
import { lookasideRegistriesD, skopeo } from '../helpers/skopeo.js';
import { blobDataPath, startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';

const PASS = 'simple-sign-pass';
let reg: StartedRegistry;
let work: string;
let regd: string;
let store: string;
let ours: GpgHome;
let other: GpgHome;
let env: NodeJS.ProcessEnv;

const dsv = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => runDsv(args, { ...env, ...extra }, work);

const file = (name: string, body: unknown): string => writeIn(work, name, body);

const insecure = () => join(work, 'insecure.json');
const digestOf = (ref: string) => JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`]).out).Digest as string;

/** Pushes a fresh one-layer image (unsigned) to `repo:tag`. */
async function push(repo: string, tag: string, content: string): Promise<string> {
  const layout = join(work, `layout-${repo.replace(/\W/g, '_')}-${tag}`);
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/content': `${content}\n` }, { 'etc/more': 'more\n' }] }), tag });
  const r = skopeo(['--policy', insecure(), 'copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${reg.host}/${repo}:${tag}`]);
  expect(r.code, r.out).toBe(0);
  return digestOf(`${reg.host}/${repo}:${tag}`);
}

function skopeoPull(ref: string, keyFile: string, scope = ref.replace(/:[^:/]+$/, '')): { code: number; out: string } {
  const policy = file(`skopeo-${ref.replace(/\W/g, '_')}-${keyFile}.json`, {
    default: [{ type: 'reject' }],
    transports: { docker: { [scope]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, keyFile) }] } },
  });
  return skopeo(['--policy', policy, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${tempDir('dsv-simple-pull-')}`]);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-simple-sign-e2e-');
  store = join(work, 'sigstore');
  regd = lookasideRegistriesD(join(work, 'registries.d'), store);
  ours = makeGpgHome({ withKey: { name: 'Dsv Signer', email: 'dsv@dsv.invalid', passphrase: PASS } });
  other = makeGpgHome({ withKey: { name: 'Other Signer', email: 'other@dsv.invalid' } });
  file('ours.pub', ours.exportPublic());
  file('other.pub', other.exportPublic());
  file('ours.sec.asc', ours.gpg(['--passphrase-fd', '0', '--armor', '--export-secret-keys', '--', ours.fingerprint], `${PASS}\n`));
  file('pass.txt', `${PASS}\n`);
  file('insecure.json', { default: [{ type: 'insecureAcceptAnything' }] });
  env = { PATH: process.env.PATH, HOME: work };
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv sign --format simple', () => {
  it('signs with a key file; the image is unchanged; skopeo accepts it under signedBy our key and rejects it for another key', async () => {
    const digest = await push('app/keyfile', 'v1', 'key file');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--registries.d', regd, `docker://${reg.host}/app/keyfile:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.stdout).toContain(`as ${reg.host}/app/keyfile:v1 with key ${ours.fingerprint} (simple signing); the image is unchanged`);
    expect(r.all).not.toContain(PASS);
    expect(digestOf(`${reg.host}/app/keyfile:v1`)).toBe(digest);
    expect(readdirSync(join(store, `app/keyfile@${digest.replace(':', '=')}`))).toEqual(['signature-1']);
    const ok = skopeoPull(`${reg.host}/app/keyfile:v1`, 'ours.pub');
    expect(ok.code, ok.out).toBe(0);
    const no = skopeoPull(`${reg.host}/app/keyfile:v1`, 'other.pub');
    expect(no.code).not.toBe(0);
    expect(no.out).toMatch(/Source image rejected/);
    // And dsv agrees.
    const v = await dsv(['verify', '--policy', file('ours-policy.json', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'ours.pub') }] }), '--registries.d', regd, `docker://${reg.host}/app/keyfile:v1`]);
    expect(v.code, v.all).toBe(0);
  });

  it('signs with a key in a GnuPG home (gpg binary, passphrase from DSV_KEYPASS), DSV_SIGNATURE_FORMAT=simple as the default', async () => {
    const digest = await push('app/home', 'v1', 'gnupg home');
    const r = await dsv(['sign', '--key', ours.fingerprint, '--registries.d', regd, `docker://${reg.host}/app/home:v1`],
      { DSV_SIGNATURE_FORMAT: 'simple', GNUPGHOME: ours.home, DSV_KEYPASS: PASS });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`with key ${ours.fingerprint} (simple signing)`);
    const ok = skopeoPull(`${reg.host}/app/home:v1`, 'ours.pub');
    expect(ok.code, ok.out).toBe(0);
    // A wrong passphrase (a home whose key gpg-agent has not unlocked yet): exit 2, nothing written.
    const locked = makeGpgHome({ withKey: { name: 'Locked Signer', email: 'locked@dsv.invalid', passphrase: PASS } });
    const bad = await dsv(['sign', '--key', locked.fingerprint, '--registries.d', regd, `docker://${reg.host}/app/home:v1`],
      { DSV_SIGNATURE_FORMAT: 'simple', GNUPGHOME: locked.home, DSV_KEYPASS: 'wrong' });
    expect(bad.code, bad.all).toBe(2);
    expect(bad.stderr).toContain('passphrase');
    expect(bad.all).not.toContain('wrong');
    expect(readdirSync(join(store, `app/home@${digest.replace(':', '=')}`))).toEqual(['signature-1']);
  });

  it('after the tag moves to another image, skopeo and dsv reject it (the signature is for the old manifest)', async () => {
    await push('app/moving', 'v1', 'first');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--registries.d', regd, `docker://${reg.host}/app/moving:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(skopeoPull(`${reg.host}/app/moving:v1`, 'ours.pub').code).toBe(0);
    await push('app/moving', 'v1', 'second, never signed');
    const no = skopeoPull(`${reg.host}/app/moving:v1`, 'ours.pub');
    expect(no.code).not.toBe(0);
    const v = await dsv(['verify', '--policy', join(work, 'ours-policy.json'), '--registries.d', regd, `docker://${reg.host}/app/moving:v1`]);
    expect(v.code, v.all).toBe(1);
    expect(v.stderr).toContain('a signature was required, but the image has none');
  });

  it('a manifest swapped after signing (its signatures copied beside it) is rejected by skopeo and by dsv', async () => {
    const signedDigest = await push('app/swap', 'v1', 'the signed one');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--registries.d', regd, `docker://${reg.host}/app/swap:v1`]);
    expect(r.code, r.all).toBe(0);
    const swapped = await push('app/swap', 'v1', 'the swapped one');
    cpSync(join(store, `app/swap@${signedDigest.replace(':', '=')}`), join(store, `app/swap@${swapped.replace(':', '=')}`), { recursive: true });
    const no = skopeoPull(`${reg.host}/app/swap:v1`, 'ours.pub');
    expect(no.code).not.toBe(0);
    expect(no.out).toMatch(/does not match|rejected/i);
    const v = await dsv(['verify', '--policy', join(work, 'ours-policy.json'), '--registries.d', regd, `docker://${reg.host}/app/swap:v1`]);
    expect(v.code, v.all).toBe(1);
    expect(v.stderr).toContain(`the signature is for manifest ${signedDigest}`);
  });

  it('remapIdentity: an image mirrored to another repository verifies only with the remap scope', async () => {
    await push('app/origin', 'v1', 'mirrored');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--registries.d', regd, `docker://${reg.host}/app/origin:v1`]);
    expect(r.code, r.all).toBe(0);
    // skopeo copies the image and its simple signatures to the mirror.
    const c = skopeo(['--policy', insecure(), '--registries.d', regd, 'copy', '--src-tls-verify=false', '--dest-tls-verify=false',
      `docker://${reg.host}/app/origin:v1`, `docker://${reg.host}/mirror/app/origin:v1`]);
    expect(c.code, c.out).toBe(0);
    const key = join(work, 'ours.pub');
    const plain = file('mirror-plain.json', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: key }] });
    const no = await dsv(['verify', '--policy', plain, '--registries.d', regd, `docker://${reg.host}/mirror/app/origin:v1`]);
    expect(no.code, no.all).toBe(1);
    expect(no.stderr).toContain(`${reg.host}/app/origin:v1`);
    const remap = file('mirror-remap.json', {
      default: [{ type: 'reject' }],
      transports: { docker: { [`${reg.host}/mirror`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: key,
        signedIdentity: { type: 'remapIdentity', prefix: `${reg.host}/mirror`, signedPrefix: reg.host } }] } },
    });
    const ok = await dsv(['verify', '--policy', remap, '--registries.d', regd, `docker://${reg.host}/mirror/app/origin:v1`]);
    expect(ok.code, ok.all).toBe(0);
    // skopeo agrees on both.
    const sk = skopeo(['--policy', remap, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${reg.host}/mirror/app/origin:v1`, `dir:${tempDir('dsv-remap-')}`]);
    expect(sk.code, sk.out).toBe(0);
    expect(skopeoPull(`${reg.host}/mirror/app/origin:v1`, 'ours.pub').code).not.toBe(0);
  });

  it('--sign-identity names the identity signed', async () => {
    await push('app/identity', 'v1', 'identity');
    const r = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--sign-identity', 'registry.example/prod/app:1.0',
      '--registries.d', regd, '--json', `docker://${reg.host}/app/identity:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'sign', ok: true, format: 'simple', identity: 'registry.example/prod/app:1.0', imageChanged: false });
    const exact = file('identity.json', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'ours.pub'), signedIdentity: { type: 'exactReference', dockerReference: 'registry.example/prod/app:1.0' } }] });
    expect((await dsv(['verify', '--policy', exact, '--registries.d', regd, `docker://${reg.host}/app/identity:v1`])).code).toBe(0);
    expect((await dsv(['verify', '--policy', join(work, 'ours-policy.json'), '--registries.d', regd, `docker://${reg.host}/app/identity:v1`])).code).toBe(1);
  });

  it('usage errors: a DEST, no store configured, a corrupt image (exit 1, nothing written)', async () => {
    await push('app/usage', 'v1', 'usage');
    const args = ['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt')];
    const dest = await dsv([...args, '--registries.d', regd, `docker://${reg.host}/app/usage:v1`, `docker://${reg.host}/app/usage:v2`]);
    expect(dest.code, dest.all).toBe(2);
    expect(dest.stderr).toContain('give no DESTINATION');
    const empty = join(work, 'no-lookaside.d');
    mkdirSync(empty, { recursive: true });
    const none = await dsv([...args, '--registries.d', empty, `docker://${reg.host}/app/usage:v1`]);
    expect(none.code, none.all).toBe(2);
    expect(none.stderr).toMatch(/nowhere to store a simple signature .*lookaside-staging/);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const corrupt = await push('app/corrupt', 'v1', 'a layer to corrupt, only here');
    const manifest = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/app/corrupt:v1`]).out);
    const path = blobDataPath(reg, manifest.layers[0].digest);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(path, bytes);
    const bad = await dsv([...args, '--registries.d', regd, `docker://${reg.host}/app/corrupt:v1`]);
    expect(bad.code, bad.all).toBe(1);
    expect(bad.stderr).toContain(manifest.layers[0].digest);
    expect(existsSync(join(store, `app/corrupt@${corrupt.replace(':', '=')}`))).toBe(false);
  });
});
