// dsv-copy (the BUILT bin) and detached signatures, between two real docker-registry instances, with skopeo
// 1.9 and gpg as the peers: simple signatures carried from the source's lookaside to the destination's
// (registries.d via --registries.d), cosign .sig attachments and bundle referrers carried, --remove-signatures,
// --sign-by --format simple|cosign (the digest unchanged), --policy gating before anything is written.
// Only private GnuPG homes, temp dirs and skopeo's --policy / --registries.d flags are used.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { createDockerTransport } from '@dsv/source-registry';
import {
  addBundleReferrer, bundleReferrerManifest, createImageBundle, OCI_INDEX, OCI_MANIFEST, referrersTag, parseCosignPayload, readBundleReferrers, readCosignSignatures, signImage, tagStoreFor, verifyCosignAttachment,
} from '@dsv/signature-cosign';
import { readPublicKeys, verifySimpleSignature } from '@dsv/signature-simple';
import { removeTempDirs, requireTool, runNodeScript, tempDir } from '../helpers/proc.js';
import { insecurePolicy, perRegistryLookaside, skopeo, skopeoAsync } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { startExtensionServer, type ExtensionServer } from './signature-extension-server.js';
import { launcher } from '../helpers/cli.js';

const dsvCopy = launcher('dsv-copy');
const PASS = 'copy-sigs-pass';

let a: StartedRegistry;
let b: StartedRegistry;
let work: string;
let regd: string;
let storeA: string;
let storeB: string;
let theirs: GpgHome;
let ours: GpgHome;
let other: GpgHome;
let env: NodeJS.ProcessEnv;
const cosignKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const docker = createDockerTransport({});

function copy(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [dsvCopy, ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000, cwd: work });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}

const insecure = () => join(work, 'insecure.json');
const digestAt = (ref: string) => {
  const r = skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', '--raw', ref]);
  if (r.code !== 0) return undefined;
  return JSON.parse(skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', ref]).out).Digest as string;
};
const lookasideFiles = (store: string, repo: string, digest: string) => {
  const dir = join(store, `${repo}@${digest.replace(':', '=')}`);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};
const tagStore = (ref: string) => tagStoreFor(docker.parseReference(`//${ref}`));

function policy(name: string, body: unknown): string {
  const p = join(work, name);
  writeFileSync(p, JSON.stringify(body));
  return p;
}

function pullArgs(ref: string, keyFile: string, identity?: unknown): string[] {
  const req = { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, keyFile), ...(identity ? { signedIdentity: identity } : {}) };
  const p = policy(`pull-${Math.random().toString(36).slice(2)}.json`, { default: [{ type: 'reject' }], transports: { docker: { [ref.replace(/:[^:/]*$/, '')]: [req] } } });
  return ['--policy', p, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${tempDir('dsv-copysigs-pull-')}`];
}

/** skopeo copy from a registry under a signedBy policy for `keyFile` (and `identity` when given). */
function skopeoPull(ref: string, keyFile: string, identity?: unknown): { code: number; out: string } {
  return skopeo(pullArgs(ref, keyFile, identity));
}

/** The same without blocking the event loop (for registries served by this process). */
const skopeoPullAsync = (ref: string, keyFile: string, identity?: unknown) => skopeoAsync(pullArgs(ref, keyFile, identity));
const copyAsync = (args: string[]) => runNodeScript(dsvCopy, args, { env, cwd: work });

/** Pushes the sample layout to a registry tag with skopeo, signing with `signer` when given (lookaside per registries.d). */
function push(dest: string, signer?: GpgHome): void {
  const r = skopeo(['--policy', insecure(), '--registries.d', regd, 'copy', '--dest-tls-verify=false', ...(signer ? ['--sign-by', signer.fingerprint] : []),
    `oci:${join(work, 'layout')}:v1`, `docker://${dest}`], signer ? { GNUPGHOME: signer.home } : {});
  expect(r.code, r.out).toBe(0);
}

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry({ mode: 'http' }), startRegistry({ mode: 'http' })]);
  work = tempDir('dsv-copysigs-e2e-');
  storeA = join(work, 'sigstore-a');
  storeB = join(work, 'sigstore-b');
  // Each registry its own lookaside: a carried signature must land in the destination's.
  regd = perRegistryLookaside(join(work, 'registries.d'), { [a.host]: storeA, [b.host]: storeB });
  mkdirSync(join(work, 'regd-only-a'));
  writeFileSync(join(work, 'regd-only-a', 'a.yaml'), `docker:\n  ${a.host}:\n    lookaside: ${pathToFileURL(storeA).href}\n`);
  theirs = makeGpgHome({ withKey: { name: 'Skopeo Signer', email: 'skopeo@dsv.invalid' } });
  ours = makeGpgHome({ withKey: { name: 'Copy Signer', email: 'copy@dsv.invalid', passphrase: PASS } });
  other = makeGpgHome({ withKey: { name: 'Other Signer', email: 'other@dsv.invalid' } });
  for (const [name, home] of [['theirs', theirs], ['ours', ours], ['other', other]] as const) writeFileSync(join(work, `${name}.pub`), home.exportPublic());
  writeFileSync(join(work, 'pass'), `${PASS}\n`);
  writeFileSync(join(work, 'cosign.key'), cosignKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  insecurePolicy(insecure());
  env = { ...process.env, DSV_GPG_DATASTORE: ours.home, DOCKER_CONFIG: join(work, 'docker'), HOME: work };
  delete env.DSV_KEYPASS;
  delete env.DSV_POLICY;
  writeOciLayout(join(work, 'layout'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'copied with signatures\n' }, { 'app/x.bin': Buffer.alloc(100_000, 5) }] }), tag: 'v1' });
  push(`${a.host}/app/simple:v1`, theirs);
  push(`${a.host}/app/unsigned:v1`);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv-copy carries simple signatures (skopeo --sign-by, lookaside per registries.d)', () => {
  it('the skopeo signature lands in the destination lookaside unchanged and skopeo accepts the copy under signedBy (remapped identity)', async () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    expect(lookasideFiles(storeA, 'app/simple', digest)).toEqual(['signature-1']);
    const r = copy(['--registries.d', regd, '--json', `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/simple:v1`]);
    expect(r.code, r.all).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.sameDigest).toBe(true);
    expect(summary.signatures.carried).toMatchObject({ simple: 1, cosign: 0, referrers: 0 });
    expect(digestAt(`docker://${b.host}/app/simple:v1`)).toBe(digest);
    expect(lookasideFiles(storeB, 'app/simple', digest)).toEqual(['signature-1']);
    const carried = readFileSync(join(storeB, `app/simple@${digest.replace(':', '=')}`, 'signature-1'));
    expect(carried.equals(readFileSync(join(storeA, `app/simple@${digest.replace(':', '=')}`, 'signature-1')))).toBe(true);
    const v = await verifySimpleSignature(new Uint8Array(carried), await readPublicKeys(new TextEncoder().encode(theirs.exportPublic())));
    expect(v.valid, v.reason).toBe(true);
    expect(v.payload).toMatchObject({ dockerReference: `${a.host}/app/simple:v1`, manifestDigest: digest });

    // The signature names the source's identity: skopeo accepts the mirror with remapIdentity, and rejects another key.
    const remap = { type: 'remapIdentity', prefix: b.host, signedPrefix: a.host };
    const ok = skopeoPull(`${b.host}/app/simple:v1`, 'theirs.pub', remap);
    expect(ok.code, ok.out).toBe(0);
    const wrongKey = skopeoPull(`${b.host}/app/simple:v1`, 'other.pub', remap);
    expect(wrongKey.code).not.toBe(0);
    // Without the remap the identity is wrong: proof the signature was carried as made, not re-made.
    const exact = skopeoPull(`${b.host}/app/simple:v1`, 'theirs.pub');
    expect(exact.code).not.toBe(0);
    expect(exact.out).toMatch(/not accepted|does not match|identity/i);
  });

  it('--dry-run says what would be carried and writes nothing', () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    const r = copy(['--registries.d', regd, '--dry-run', `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/dry:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/signatures would carry: 1 simple, 0 cosign \(\.sig\), 0 referrer\(s\)/);
    expect(digestAt(`docker://${b.host}/app/dry:v1`)).toBeUndefined();
    expect(lookasideFiles(storeB, 'app/dry', digest)).toEqual([]);
  });

  it('a second copy adds nothing (the same signature is not stored twice)', () => {
    const r = copy(['--registries.d', regd, `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/simple:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(lookasideFiles(storeB, 'app/simple', digestAt(`docker://${a.host}/app/simple:v1`)!)).toEqual(['signature-1']);
  });

  it('refuses (exit 2, nothing written) when the destination has no store for the signatures, naming --remove-signatures', () => {
    const r = copy(['--registries.d', join(work, 'regd-only-a'), `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/nostore:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(/cannot carry the 1 simple signature\(s\) of .*: nowhere to store a simple signature/);
    expect(r.stderr).toMatch(/--remove-signatures/);
    expect(r.stderr.trim().split('\n').filter((l) => l.includes('error:'))).toHaveLength(1);
    expect(digestAt(`docker://${b.host}/app/nostore:v1`)).toBeUndefined();
  });

  it('refuses to copy simple signatures into an oci: layout (it has no signature store), as skopeo does', () => {
    const dest = join(work, 'oci-simple');
    const r = copy(['--registries.d', regd, `docker://${a.host}/app/simple:v1`, `oci:${dest}:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(/cannot hold the 1 simple signature/);
    expect(existsSync(join(dest, 'index.json'))).toBe(false);
  });

  it('--remove-signatures carries none: the destination lookaside stays empty and the digest is unchanged', () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    const r = copy(['--registries.d', regd, '--remove-signatures', `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/removed:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/none carried \(--remove-signatures\)/);
    expect(digestAt(`docker://${b.host}/app/removed:v1`)).toBe(digest);
    expect(lookasideFiles(storeB, 'app/removed', digest)).toEqual([]);
    expect(skopeoPull(`${b.host}/app/removed:v1`, 'theirs.pub', { type: 'matchRepository' }).code).not.toBe(0);
  });
});

describe('dsv-copy and the registry signature extension API (an in-process server in front of a real registry: none installable here speaks it)', () => {
  let ext: ExtensionServer;
  beforeAll(async () => {
    ext = await startExtensionServer(b.host);
  });
  afterAll(async () => {
    await ext?.stop();
  });

  it('carries a lookaside signature into the extension API (one PUT per signature); skopeo reads it there and accepts the copy', async () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    const r = await copyAsync(['--registries.d', regd, '--json', `docker://${a.host}/app/simple:v1`, `docker://${ext.host}/ext/simple:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).signatures.carried).toMatchObject({ simple: 1 });
    const stored = ext.signatures.get(`ext/simple@${digest}`) ?? [];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.equals(readFileSync(join(storeA, `app/simple@${digest.replace(':', '=')}`, 'signature-1')))).toBe(true);
    expect(ext.puts.at(-1)).toMatchObject({ schemaVersion: 2, type: 'atomic', name: expect.stringMatching(new RegExp(`^${digest}@[0-9a-f]{32}$`)) });
    const ok = await skopeoPullAsync(`${ext.host}/ext/simple:v1`, 'theirs.pub', { type: 'remapIdentity', prefix: `${ext.host}/ext`, signedPrefix: `${a.host}/app` });
    expect(ok.code, ok.out).toBe(0);
  });

  it('carries signatures out of the extension API into a lookaside, and --sign-by --format simple adds one through it', async () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    const r = await copyAsync(['--registries.d', regd, `docker://${ext.host}/ext/simple:v1`, `docker://${b.host}/fromext/simple:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(lookasideFiles(storeB, 'fromext/simple', digest)).toEqual(['signature-1']);
    const s = await copyAsync(['--registries.d', regd, '--sign-by', ours.fingerprint, '--format', 'simple', '--passphrase-file', join(work, 'pass'),
      `docker://${a.host}/app/unsigned:v1`, `docker://${ext.host}/ext/signed:v1`]);
    expect(s.code, s.all).toBe(0);
    expect(ext.signatures.get(`ext/signed@${digestAt(`docker://${a.host}/app/unsigned:v1`)}`) ?? []).toHaveLength(1);
    const ok = await skopeoPullAsync(`${ext.host}/ext/signed:v1`, 'ours.pub');
    expect(ok.code, ok.out).toBe(0);
  });
});

describe('dsv-copy --sign-by --format simple', () => {
  it('adds one signature (GnuPG home key, --passphrase-file) that skopeo accepts; the image and its digest are unchanged', () => {
    const digest = digestAt(`docker://${a.host}/app/unsigned:v1`)!;
    const r = copy(['--registries.d', regd, '--json', '--sign-by', ours.fingerprint, '--format', 'simple', '--passphrase-file', join(work, 'pass'),
      `docker://${a.host}/app/unsigned:v1`, `docker://${b.host}/app/signed:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.all).not.toContain(PASS);
    const summary = JSON.parse(r.stdout);
    expect(summary.sameDigest).toBe(true);
    expect(summary.signatures.added).toMatchObject({ format: 'simple', identity: `${b.host}/app/signed:v1`, digest });
    expect(digestAt(`docker://${b.host}/app/signed:v1`)).toBe(digest);
    expect(lookasideFiles(storeB, 'app/signed', digest)).toEqual(['signature-1']);
    const ok = skopeoPull(`${b.host}/app/signed:v1`, 'ours.pub');
    expect(ok.code, ok.out).toBe(0);
    const no = skopeoPull(`${b.host}/app/signed:v1`, 'other.pub');
    expect(no.code).not.toBe(0);
  });

  it('a wrong passphrase fails before DEST changes (exit 2, nothing written)', () => {
    writeFileSync(join(work, 'wrong-pass'), 'not-it\n');
    // gpg-agent caches the passphrase of the previous test's signing: restart it so the wrong one is asked for.
    execFileSync(requireTool('gpgconf'), ['--homedir', ours.home, '--kill', 'gpg-agent']);
    const r = copy(['--registries.d', regd, '--sign-by', ours.fingerprint, '--format', 'simple', '--passphrase-file', join(work, 'wrong-pass'),
      `docker://${a.host}/app/unsigned:v1`, `docker://${b.host}/app/badpass:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(/passphrase/i);
    expect(digestAt(`docker://${b.host}/app/badpass:v1`)).toBeUndefined();
  });
});

describe('dsv-copy and cosign signatures', () => {
  it('--sign-by cosign.key --format cosign attaches a .sig (tag sha256-<hex>.sig) without changing the image', async () => {
    const digest = digestAt(`docker://${a.host}/app/unsigned:v1`)!;
    const r = copy(['--json', '--sign-by', join(work, 'cosign.key'), '--format', 'cosign', `oci:${join(work, 'layout')}:v1`, `docker://${a.host}/app/cosigned:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).signatures.added).toMatchObject({ format: 'cosign', identity: `${a.host}/app/cosigned:v1`, digest });
    expect(digestAt(`docker://${a.host}/app/cosigned:v1`)).toBe(digest);
    expect(digestAt(`docker://${a.host}/app/cosigned:sha256-${digest.slice(7)}.sig`)).toBeDefined();
    const sigs = await readCosignSignatures(tagStore(`${a.host}/app/cosigned:v1`), digest);
    expect(sigs).toHaveLength(1);
    const v = verifyCosignAttachment(sigs[0]!, { keys: [createPublicKey(cosignKey.privateKey)] });
    expect(v.valid, v.reason).toBe(true);
    expect(parseCosignPayload(sigs[0]!.payload)).toMatchObject({ dockerReference: `${a.host}/app/cosigned:v1`, manifestDigest: digest });
  });

  it('carries the .sig attachment and a bundle referrer (referrers tag schema) to the destination repository; both still verify there', async () => {
    const digest = digestAt(`docker://${a.host}/app/cosigned:v1`)!;
    // A second cosign signature, made with the library (as cosign does), and a Sigstore bundle referrer.
    await signImage(tagStore(`${a.host}/app/cosigned:v1`), { dockerReference: `${a.host}/app/cosigned:v1`, manifestDigest: digest, privateKey: cosignKey.privateKey, optional: { by: 'e2e' } });
    const manifest = JSON.parse(skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/cosigned:v1`]).out);
    const size = Buffer.byteLength(skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/cosigned:v1`]).out);
    const bundle = createImageBundle({ repository: `${a.host}/app/cosigned`, manifestDigest: digest, privateKey: cosignKey.privateKey });
    const referrer = await addBundleReferrer(tagStore(`${a.host}/app/cosigned:v1`), { mediaType: manifest.mediaType, digest, size }, bundle);

    const r = copy(['--json', `docker://${a.host}/app/cosigned:v1`, `docker://${b.host}/prod/cosigned:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).signatures.carried).toMatchObject({ simple: 0, cosign: 2, referrers: 1 });
    expect(digestAt(`docker://${b.host}/prod/cosigned:v1`)).toBe(digest);
    const sigs = await readCosignSignatures(tagStore(`${b.host}/prod/cosigned:v1`), digest);
    expect(sigs).toHaveLength(2);
    for (const s of sigs) expect(verifyCosignAttachment(s, { keys: [createPublicKey(cosignKey.privateKey)] }).valid).toBe(true);
    const bundles = await readBundleReferrers(tagStore(`${b.host}/prod/cosigned:v1`), digest);
    expect(bundles.map((x) => x.referrer)).toEqual([referrer]);
    expect(Buffer.from(bundles[0]!.bundle).equals(Buffer.from(bundle))).toBe(true);
  });

  it('carries .sig and referrers into an oci: layout and back out of it to a registry', async () => {
    const digest = digestAt(`docker://${a.host}/app/cosigned:v1`)!;
    const layout = join(work, 'oci-cosigned');
    const r = copy(['--json', `docker://${a.host}/app/cosigned:v1`, `oci:${layout}:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).signatures.carried).toMatchObject({ cosign: 2, referrers: 1 });
    const names = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests as { annotations?: Record<string, string> }[])
      .map((m) => m.annotations?.['org.opencontainers.image.ref.name']).sort();
    expect(names).toEqual([`sha256-${digest.slice(7)}`, `sha256-${digest.slice(7)}.sig`, 'v1']);

    const back = copy(['--json', `oci:${layout}:v1`, `docker://${b.host}/fromlayout/cosigned:v1`]);
    expect(back.code, back.all).toBe(0);
    expect(JSON.parse(back.stdout).signatures.carried).toMatchObject({ cosign: 2, referrers: 1 });
    const sigs = await readCosignSignatures(tagStore(`${b.host}/fromlayout/cosigned:v1`), digest);
    expect(sigs).toHaveLength(2);
    expect((await readBundleReferrers(tagStore(`${b.host}/fromlayout/cosigned:v1`), digest))).toHaveLength(1);
  });

  it('--remove-signatures leaves no .sig and no referrers at the destination', () => {
    const digest = digestAt(`docker://${a.host}/app/cosigned:v1`)!;
    const r = copy(['--remove-signatures', `docker://${a.host}/app/cosigned:v1`, `docker://${b.host}/prod/bare:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(digestAt(`docker://${b.host}/prod/bare:v1`)).toBe(digest);
    expect(digestAt(`docker://${b.host}/prod/bare:sha256-${digest.slice(7)}.sig`)).toBeUndefined();
    expect(digestAt(`docker://${b.host}/prod/bare:sha256-${digest.slice(7)}`)).toBeUndefined();
  });
});

describe('dsv-copy: which manifests keep their signatures', () => {
  it('a multi-platform copy carries the signatures of the index and of each image; --platform those of that image only', async () => {
    const layout = join(work, 'multi');
    writeOciLayout(layout, { image: buildSampleIndex([
      await buildSampleImage({ format: 'oci', layers: [{ 'p/amd64': 'amd64\n' }], platform: 'linux/amd64' }),
      await buildSampleImage({ format: 'oci', layers: [{ 'p/arm64': 'arm64\n' }], platform: 'linux/arm64/v8' }),
    ]), tag: 'v1' });
    expect(skopeo(['--policy', insecure(), 'copy', '--all', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${a.host}/app/multi:v1`]).code).toBe(0);
    const index = JSON.parse(skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/multi:v1`]).out);
    const top = digestAt(`docker://${a.host}/app/multi:v1`)!;
    const arm = (index.manifests as { digest: string; platform: { architecture: string } }[]).find((m) => m.platform.architecture === 'arm64')!.digest;
    for (const d of [top, arm]) await signImage(tagStore(`${a.host}/app/multi:v1`), { dockerReference: `${a.host}/app/multi:v1`, manifestDigest: d, privateKey: cosignKey.privateKey });

    const all = copy(['--json', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/app/multi:v1`]);
    expect(all.code, all.all).toBe(0);
    expect(JSON.parse(all.stdout).signatures.carried).toMatchObject({ cosign: 2 });
    for (const d of [top, arm]) expect(await readCosignSignatures(tagStore(`${b.host}/app/multi:v1`), d)).toHaveLength(1);

    const one = copy(['--json', '--platform', 'linux/arm64/v8', `docker://${a.host}/app/multi:v1`, `docker://${b.host}/app/arm:v1`]);
    expect(one.code, one.all).toBe(0);
    expect(JSON.parse(one.stdout).signatures.carried).toMatchObject({ cosign: 1 });
    expect(digestAt(`docker://${b.host}/app/arm:v1`)).toBe(arm);
    expect(await readCosignSignatures(tagStore(`${b.host}/app/arm:v1`), arm)).toHaveLength(1);
    expect(await readCosignSignatures(tagStore(`${b.host}/app/arm:v1`), top)).toHaveLength(0);
  });

  it('an embedded --sign-by changes the image: the old digest\'s detached signatures are not carried, and the summary says so', () => {
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    const r = copy(['--registries.d', regd, '--sign-by', ours.fingerprint, '--passphrase-file', join(work, 'pass'), `docker://${a.host}/app/simple:v1`, `docker://${b.host}/app/embedded:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`1 detached signature(s) of ${digest} not carried: the copy changed that manifest`);
    const now = digestAt(`docker://${b.host}/app/embedded:v1`)!;
    expect(now).not.toBe(digest);
    expect(lookasideFiles(storeB, 'app/embedded', digest)).toEqual([]);
    expect(lookasideFiles(storeB, 'app/embedded', now)).toEqual([]);
  });
});

describe('dsv-copy and hostile referrers', () => {
  it('a referrer listed for the image but whose subject is another image refuses the copy (one line, nothing written)', async () => {
    push(`${a.host}/app/lying:v1`);
    const digest = digestAt(`docker://${a.host}/app/lying:v1`)!;
    const raw = skopeo(['--policy', insecure(), 'inspect', '--tls-verify=false', '--raw', `docker://${a.host}/app/lying:v1`]).out;
    const otherSubject = { mediaType: JSON.parse(raw).mediaType as string, digest: `sha256:${'1'.repeat(64)}`, size: 100 };
    const bundle = createImageBundle({ repository: `${a.host}/app/lying`, manifestDigest: otherSubject.digest, privateKey: cosignKey.privateKey });
    // A real referrer of ANOTHER subject, listed in this image's referrers tag index.
    await addBundleReferrer(tagStore(`${a.host}/app/lying:v1`), otherSubject, bundle, { created: new Date(0) });
    const referrer = bundleReferrerManifest(otherSubject, bundle, { created: new Date(0) });
    const { digestOf } = await import('@dsv/core');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf(referrer), size: referrer.length }] }));
    const dest = await tagStore(`${a.host}/app/lying:v1`).openDestination(referrersTag(digest));
    await dest.putManifest(referrer, OCI_MANIFEST, digestOf(referrer));
    await dest.putManifest(index, OCI_INDEX);
    await dest.commit();
    await dest.close();

    const r = copy([`docker://${a.host}/app/lying:v1`, `docker://${b.host}/app/lying:v1`]);
    expect(r.code, r.all).not.toBe(0);
    expect(r.stderr).toMatch(/its subject is sha256:1{64}, not sha256:/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(digestAt(`docker://${b.host}/app/lying:v1`)).toBeUndefined();
  });
});

describe('dsv-copy --policy', () => {
  const signedOnly = () => policy('signed-only.json', {
    default: [{ type: 'reject' }],
    transports: { docker: { [a.host]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'theirs.pub') }] } },
  });

  it('rejects an unsigned source: exit 1 with the reason, nothing written at DEST', () => {
    const r = copy(['--registries.d', regd, '--policy', signedOnly(), `docker://${a.host}/app/unsigned:v1`, `docker://${b.host}/gated/app:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/rejected/);
    expect(r.stderr).toMatch(/signedBy: not satisfied/);
    expect(digestAt(`docker://${b.host}/gated/app:v1`)).toBeUndefined();
  });

  it('copies a source the policy accepts, carrying its signature', () => {
    const r = copy(['--registries.d', regd, '--policy', signedOnly(), `docker://${a.host}/app/simple:v1`, `docker://${b.host}/gated/app:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/Source accepted by policy/);
    const digest = digestAt(`docker://${a.host}/app/simple:v1`)!;
    expect(digestAt(`docker://${b.host}/gated/app:v1`)).toBe(digest);
    expect(lookasideFiles(storeB, 'gated/app', digest)).toEqual(['signature-1']);
  });

  it('DSV_POLICY gates a copy as --policy does', () => {
    const r = copy(['--registries.d', regd, `docker://${a.host}/app/unsigned:v1`, `docker://${b.host}/gated/env:v1`], { DSV_POLICY: signedOnly() });
    expect(r.code, r.all).toBe(1);
    expect(digestAt(`docker://${b.host}/gated/env:v1`)).toBeUndefined();
  });

  it('a policy that cannot be parsed is a usage error (exit 2), never "accept"', () => {
    const r = copy(['--registries.d', regd, '--policy', policy('bad.json', { default: [{ type: 'acceptEverythingPlease' }] }), `docker://${a.host}/app/simple:v1`, `docker://${b.host}/gated/bad:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(digestAt(`docker://${b.host}/gated/bad:v1`)).toBeUndefined();
  });
});
