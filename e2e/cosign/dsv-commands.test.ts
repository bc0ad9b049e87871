// cosign through dsv's commands against a real docker-registry (distribution 2.8, no referrers API) and
// skopeo: `dsv generate-key-pair --format cosign`, `dsv sign --format cosign [--cosign-bundle]`,
// `dsv verify --trust cosign:FILE` / `--policy` with sigstoreSigned. The containers/image cosign fixtures
// (made by cosign itself) are pushed as the `.sig` manifests cosign writes and judged through the runtime's
// stores; bundles dsv writes are checked with @sigstore/verify (the sigstore project's verifier).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { digestOf } from '@dsv/core';
import { evaluatePolicy, parsePolicy } from '@dsv/policy';
import { addCosignSignatures, parseSerialisedAttachment, publicKeyHint, readPublicKeys, type CosignAttachment } from '@dsv/signature-cosign';
import { createContext, detachedStores, policyFormats } from '@dsv/runtime';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, tempDir, type Ran } from '../helpers/proc.js';
import { runDsv, writeIn } from '../helpers/cli.js';
import { skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '../../packages/signature-cosign/fixtures');
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');
const PASS = 'cosign-e2e-pass';
let reg: StartedRegistry;
let work: string;
let env: NodeJS.ProcessEnv;

const dsv = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => runDsv(args, { ...env, ...extra }, work);

const file = (name: string, body: unknown): string => writeIn(work, name, body);

async function manifest(repo: string, ref: string): Promise<{ bytes: Buffer; json: any }> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  expect(res.status, `${repo}:${ref}`).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { bytes, json: JSON.parse(bytes.toString()) };
}

async function blob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function push(repo: string, tag: string, content: string): Promise<string> {
  const layout = join(work, `layout-${repo.replace(/\W/g, '_')}`);
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/content': `${content}\n` }] }), tag });
  const r = skopeo(['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${reg.host}/${repo}:${tag}`]);
  expect(r.code, r.out).toBe(0);
  return digestOf((await manifest(repo, tag)).bytes);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-cosign-cmd-e2e-');
  env = { PATH: process.env.PATH, HOME: work };
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('dsv generate-key-pair --format cosign', () => {
  it('writes cosign.key (encrypted, 0600) and cosign.pub in the working directory, and refuses to overwrite them', async () => {
    const r = await dsv(['generate-key-pair', '--format', 'cosign'], { COSIGN_PASSWORD: PASS });
    expect(r.code, r.all).toBe(0);
    expect(readFileSync(join(work, 'cosign.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    expect(readFileSync(join(work, 'cosign.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(statSync(join(work, 'cosign.key')).mode & 0o777).toBe(0o600);
    const again = await dsv(['generate-key-pair', '--format', 'cosign'], { COSIGN_PASSWORD: PASS });
    expect(again.code, again.all).toBe(2);
    expect(again.stderr).toContain('refusing to overwrite');
    const againJson = await dsv(['generate-key-pair', '--json', '--format', 'cosign'], { COSIGN_PASSWORD: PASS });
    expect(againJson.code).toBe(2);
    expect(expectValidReport('generate-key-pair', againJson.stdout)).toMatchObject({ ok: false, error: { exitCode: 2 } });
    const json = await dsv(['generate-key-pair', '--json', '--format', 'cosign', '--output-prefix', 'keys/json'], { COSIGN_PASSWORD: PASS });
    expect(json.code, json.all).toBe(0);
    expect(expectValidReport('generate-key-pair', json.stdout)).toMatchObject({ ok: true, format: 'cosign', error: null });
    file('other-pass.txt', 'other\n');
    const other = await dsv(['generate-key-pair', '--format', 'cosign', '--output-prefix', 'keys/other', '--passphrase-file', join(work, 'other-pass.txt')]);
    expect(other.code, other.all).toBe(0);
    expect(existsSync(join(work, 'keys', 'other.key')) && existsSync(join(work, 'keys', 'other.pub'))).toBe(true);
    const none = await dsv(['generate-key-pair', '--format', 'cosign', '--output-prefix', 'nopass']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('COSIGN_PASSWORD');
  });
});

describe('dsv sign --format cosign / dsv verify --trust cosign:', () => {
  it('signs (the image unchanged), verifies with cosign.pub, not with another key; the .sig manifest has cosign\'s shape, field by field', async () => {
    const digest = await push('app/cosign', 'v1', 'cosign signed');
    const r = await dsv(['sign', '--format', 'cosign', '--key', 'cosign.key', `docker://${reg.host}/app/cosign:v1`], { COSIGN_PASSWORD: PASS });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('(cosign); the image is unchanged');
    expect(r.all).not.toContain(PASS);
    expect(digestOf((await manifest('app/cosign', 'v1')).bytes)).toBe(digest);
    const ok = await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/app/cosign:v1`]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toContain('sigstoreSigned: satisfied: cosign signature 1 accepted');
    const no = await dsv(['verify', '--trust', 'cosign:keys/other.pub', `docker://${reg.host}/app/cosign:v1`]);
    expect(no.code, no.all).toBe(1);
    expect(no.stderr).toContain('sigstoreSigned: no signature was accepted');

    // Field by field against the fixture cosign made (containers/image's dir-img-cosign-valid).
    const fixture = parseSerialisedAttachment(readFileSync(join(FIX, 'dir-img-cosign-valid', 'signature-1')));
    const sig = await manifest('app/cosign', `${digest.replace(':', '-')}.sig`);
    expect(sig.json.schemaVersion).toBe(2);
    expect(sig.json.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(sig.json.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(sig.json.layers).toHaveLength(1);
    const layer = sig.json.layers[0];
    expect(layer.mediaType).toBe(fixture.mediaType);
    expect(Object.keys(layer.annotations)).toEqual(Object.keys(fixture.annotations));
    const payload = JSON.parse((await blob('app/cosign', layer.digest)).toString());
    const theirs = JSON.parse(Buffer.from(fixture.payload).toString());
    expect(Object.keys(payload)).toEqual(Object.keys(theirs));
    expect(Object.keys(payload.critical).sort()).toEqual(Object.keys(theirs.critical).sort());
    expect(payload.critical.type).toBe(theirs.critical.type);
    expect(payload.critical.image).toEqual({ 'docker-manifest-digest': digest });
    expect(payload.critical.identity).toEqual({ 'docker-reference': `${reg.host}/app/cosign:v1` });
    const config = JSON.parse((await blob('app/cosign', sig.json.config.digest)).toString());
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [layer.digest] });
    // A second signature is appended as a layer, as cosign does.
    const again = await dsv(['sign', '--format', 'cosign', '--key', 'keys/other.key', '--passphrase-file', 'other-pass.txt', `docker://${reg.host}/app/cosign:v1`]);
    expect(again.code, again.all).toBe(0);
    expect((await manifest('app/cosign', `${digest.replace(':', '-')}.sig`)).json.layers).toHaveLength(2);
    expect((await dsv(['verify', '--trust', 'cosign:keys/other.pub', `docker://${reg.host}/app/cosign:v1`])).code).toBe(0);
  });

  it('a plain PKCS#8 PEM key (openssl) signs too, no passphrase asked', async () => {
    const openssl = requireTool('openssl');
    run(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(work, 'plain.pem')]);
    run(openssl, ['pkey', '-in', join(work, 'plain.pem'), '-pubout', '-out', join(work, 'plain.pub')]);
    await push('app/pkcs8', 'v1', 'pkcs8 key');
    const r = await dsv(['sign', '--format', 'cosign', '--key', 'plain.pem', `docker://${reg.host}/app/pkcs8:v1`]);
    expect(r.code, r.all).toBe(0);
    expect((await dsv(['verify', '--trust', 'cosign:plain.pub', `docker://${reg.host}/app/pkcs8:v1`])).code).toBe(0);
    expect((await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/app/pkcs8:v1`])).code).toBe(1);
  });

  it('a wrong passphrase is exit 2 and writes nothing', async () => {
    const digest = await push('app/wrongpass', 'v1', 'wrong passphrase');
    const r = await dsv(['sign', '--format', 'cosign', '--key', 'cosign.key', `docker://${reg.host}/app/wrongpass:v1`], { COSIGN_PASSWORD: 'nope' });
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('wrong passphrase');
    const j = await dsv(['sign', '--json', '--format', 'cosign', '--key', 'cosign.key', `docker://${reg.host}/app/wrongpass:v1`], { COSIGN_PASSWORD: 'nope' });
    expect(j.code).toBe(2);
    expect(expectValidReport('detached-sign', j.stdout)).toMatchObject({ ok: false, format: 'cosign', error: { exitCode: 2 } });
    const res = await fetch(`http://${reg.host}/v2/app/wrongpass/manifests/${digest.replace(':', '-')}.sig`, { headers: { Accept: ACCEPT } });
    expect(res.status).toBe(404);
  });

  it('skopeo copies the .sig tag like any image: the signature verifies at the destination (remapIdentity policy)', async () => {
    const digest = await push('app/carried', 'v1', 'carried');
    expect((await dsv(['sign', '--format', 'cosign', '--key', 'cosign.key', `docker://${reg.host}/app/carried:v1`], { COSIGN_PASSWORD: PASS })).code).toBe(0);
    for (const tag of ['v1', `${digest.replace(':', '-')}.sig`]) {
      const c = skopeo(['--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/app/carried:${tag}`, `docker://${reg.host}/mirror/carried:${tag}`]);
      expect(c.code, c.out).toBe(0);
    }
    const policy = file('remap.json', {
      default: [{ type: 'reject' }],
      transports: { docker: { [`${reg.host}/mirror`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'cosign.pub'),
        signedIdentity: { type: 'remapIdentity', prefix: `${reg.host}/mirror`, signedPrefix: `${reg.host}/app` } }] } },
    });
    const v = await dsv(['verify', '--policy', policy, `docker://${reg.host}/mirror/carried:v1`]);
    expect(v.code, v.all).toBe(0);
    // Without the remap the identity (the source repository) does not match.
    const plain = await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/mirror/carried:v1`]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(`${reg.host}/app/carried:v1`);
  });

  it('--cosign-bundle: a Sigstore bundle referrer (referrers tag schema) that dsv verifies and @sigstore/verify accepts', async () => {
    const digest = await push('app/bundle', 'v1', 'bundle');
    const r = await dsv(['sign', '--json', '--format', 'cosign', '--cosign-bundle', '--key', 'cosign.key', `docker://${reg.host}/app/bundle:v1`], { COSIGN_PASSWORD: PASS });
    expect(r.code, r.all).toBe(0);
    expect(expectValidReport('detached-sign', r.stdout)).toMatchObject({ ok: true, format: 'cosign', bundle: true, manifestDigest: digest });
    const index = await manifest('app/bundle', digest.replace(':', '-'));
    expect(index.json.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.json.manifests).toHaveLength(1);
    const referrer = await manifest('app/bundle', index.json.manifests[0].digest);
    expect(referrer.json.subject.digest).toBe(digest);
    expect(referrer.json.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const bundle = await blob('app/bundle', referrer.json.layers[0].digest);
    const [publicKey] = readPublicKeys(readFileSync(join(work, 'cosign.pub')));
    const material = toTrustMaterial({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] } as never, (hint: string) => {
      if (hint !== publicKeyHint(publicKey!)) throw new Error(`unknown key hint ${hint}`);
      return { publicKey: publicKey!, validFor: () => true };
    });
    expect(() => new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(JSON.parse(bundle.toString()))))).not.toThrow();
    // The bundle names the repository, not a tag: by digest with --trust cosign:, by tag with matchRepository.
    const byDigest = await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/app/bundle@${digest}`]);
    expect(byDigest.code, byDigest.all).toBe(0);
    expect(byDigest.stdout).toContain('sigstore bundle');
    const repoPolicy = file('repo.json', { default: [{ type: 'sigstoreSigned', keyPath: join(work, 'cosign.pub'), signedIdentity: { type: 'matchRepository' } }] });
    expect((await dsv(['verify', '--policy', repoPolicy, `docker://${reg.host}/app/bundle:v1`])).code).toBe(0);
    expect((await dsv(['verify', '--trust', 'cosign:keys/other.pub', `docker://${reg.host}/app/bundle@${digest}`])).code).toBe(1);
  });

  it('hostile .sig manifests: thousands of layers, a payload for another image — a clear reason, nothing accepted', async () => {
    const digest = await push('app/hostile', 'v1', 'hostile');
    const other = await push('app/hostile-other', 'v1', 'another image');
    // A signature for the other image, copied under this image's .sig tag.
    expect((await dsv(['sign', '--format', 'cosign', '--key', 'cosign.key', `docker://${reg.host}/app/hostile-other:v1`], { COSIGN_PASSWORD: PASS })).code).toBe(0);
    const theirs = await manifest('app/hostile-other', `${other.replace(':', '-')}.sig`);
    for (const d of [theirs.json.config.digest, theirs.json.layers[0].digest]) {
      const m = await fetch(`http://${reg.host}/v2/app/hostile/blobs/uploads/?mount=${d}&from=app/hostile-other`, { method: 'POST' });
      expect(m.status).toBe(201);
    }
    const put = async (m: unknown) => fetch(`http://${reg.host}/v2/app/hostile/manifests/${digest.replace(':', '-')}.sig`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: JSON.stringify(m) });
    expect((await put(theirs.json)).status).toBe(201);
    const swapped = await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/app/hostile:v1`]);
    expect(swapped.code, swapped.all).toBe(1);
    expect(swapped.stderr).toContain(`the signature is for manifest ${other}`);
    const many = { ...theirs.json, layers: Array.from({ length: 1001 }, () => theirs.json.layers[0]) };
    expect((await put(many)).status).toBe(201);
    const lots = await dsv(['verify', '--trust', 'cosign:cosign.pub', `docker://${reg.host}/app/hostile:v1`]);
    expect(lots.code, lots.all).toBe(1);
    expect(lots.stderr).toMatch(/1001 layers, more than 1000/);
  });
});

describe('the containers/image cosign fixtures, pushed as the .sig manifests cosign writes, judged through dsv\'s stores', () => {
  const load = (name: string): { manifest: Uint8Array; attachments: CosignAttachment[] } => ({
    manifest: new Uint8Array(readFileSync(join(FIX, name, 'manifest.json'))),
    attachments: readdirSync(join(FIX, name)).filter((f) => /^signature-\d+$/.test(f)).sort().map((f) => parseSerialisedAttachment(readFileSync(join(FIX, name, f)))),
  });
  const KEY = { type: 'sigstoreSigned', keyPath: 'cosign.pub', signedIdentity: { type: 'matchRepository' } };
  const cases: Array<[string, Record<string, unknown>, string, boolean]> = [
    ['dir-img-cosign-valid', KEY, '192.168.64.2:5000/cosign-signed-single-sample', true],
    ['dir-img-cosign-valid-2', KEY, '192.168.64.2:5000/cosign-signed-single-sample', true],
    ['dir-img-cosign-valid-with-tag', { ...KEY, signedIdentity: { type: 'matchExact' } }, '192.168.64.2:5000/skopeo-signed:tag', true],
    ['dir-img-cosign-mixed', KEY, '192.168.64.2:5000/cosign-signed-single-sample', true],
    ['dir-img-cosign-modified-manifest', KEY, '192.168.64.2:5000/cosign-signed-single-sample', false],
    ['dir-img-cosign-manifest-digest-error', KEY, '192.168.64.2:5000/cosign-signed-single-sample', false],
    ['dir-img-cosign-other-attachment', KEY, '192.168.64.2:5000/cosign-signed-single-sample', false],
    ['dir-img-cosign-valid', { ...KEY, keyPath: 'cosign2.pub' }, '192.168.64.2:5000/cosign-signed-single-sample', false],
    ['dir-img-cosign-key-rekor-valid', { ...KEY, keyPath: 'cosign2.pub', rekorPublicKeyPath: 'rekor.pub' }, '192.168.64.2:5000/cosign-signed/key-1', true],
    ['dir-img-cosign-fulcio-rekor-valid', { type: 'sigstoreSigned', fulcio: { caPath: 'fulcio_v1.crt.pem', oidcIssuer: 'https://github.com/login/oauth', subjectEmail: 'mitr@redhat.com' }, rekorPublicKeyPath: 'rekor.pub', signedIdentity: { type: 'matchRepository' } }, '192.168.64.2:5000/cosign-signed/fulcio-rekor-1', true],
    ['dir-img-cosign-fulcio-rekor-valid', { type: 'sigstoreSigned', fulcio: { caPath: 'fulcio_v1.crt.pem', oidcIssuer: 'https://github.com/login/oauth', subjectEmail: 'someone@example.com' }, rekorPublicKeyPath: 'rekor.pub', signedIdentity: { type: 'matchRepository' } }, '192.168.64.2:5000/cosign-signed/fulcio-rekor-1', false],
    ['dir-img-cosign-pki-valid', { type: 'sigstoreSigned', pki: { caRootsPath: 'pki_root_crts.pem', caIntermediatesPath: 'pki_intermediate_crts.pem', subjectEmail: 'qiwan@redhat.com' }, signedIdentity: { type: 'matchRepository' } }, 'localhost:5000/test', true],
  ];
  it.each(cases)('%s under %j, claimed identity %s: allowed = %s', async (name, requirement, identity, expected) => {
    const ctx = await createContext({ env, references: [`docker://${reg.host}/x`] });
    const stores = await detachedStores(ctx);
    try {
      const { manifest: bytes, attachments } = load(name);
      const manifestDigest = digestOf(bytes);
      const repo = `${reg.host}/fixtures/${name}`;
      await addCosignSignatures(await stores.tagStore(repo), manifestDigest, attachments);
      const sig = await manifest(`fixtures/${name}`, `${manifestDigest.replace(':', '-')}.sig`);
      expect(sig.json.layers).toHaveLength(attachments.length);
      const policy = parsePolicy(Buffer.from(JSON.stringify({ default: [requirement] })));
      const v = await evaluatePolicy(policy, {
        transport: 'docker', dockerReference: identity, manifestDigest, manifestBytes: bytes,
        context: { subject: { dockerReference: `${repo}:v1`, manifestDigest } },
      }, { formats: policyFormats(ctx, stores), baseDir: FIX });
      expect(v.allowed, JSON.stringify(v.requirements)).toBe(expected);
      expect(v.requirements[0]!.signatures.length).toBeGreaterThan(0);
    } finally {
      await stores.close();
    }
  });
});
