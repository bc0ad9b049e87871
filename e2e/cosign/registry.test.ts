// cosign's tag scheme against a real docker-registry (distribution 2.8) through the registry transport:
// the containers/image fixture signature stored as a `.sig` manifest verifies; an image we sign verifies;
// skopeo copy --all of the image and its `.sig` tag to another repository keeps it verifying there.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, type SystemContext } from '@dsv/core';
import { evaluatePolicy, parsePolicy } from '@dsv/policy';
import { dockerTransport } from '@dsv/source-registry';
import {
  addBundleReferrer, addCosignSignatures, createImageBundle, cosignFormat, readBundleReferrers, referrersTag, referrersTagSource, generateKeyPair, parseSerialisedAttachment, readCosignSignatures, readPrivateKey,
  signImage, signatureTag, tagSchemeSource, tagStoreFor, writeKeyPair, MAX_ATTACHMENT_LAYERS,
} from '@dsv/signature-cosign';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '../../packages/signature-cosign/fixtures');
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

let reg: StartedRegistry;
let work: string;
let ctx: SystemContext;

async function manifestOf(repo: string, tag: string): Promise<Uint8Array> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

function storeFor(repo: string) {
  return tagStoreFor(dockerTransport.parseReference(`${reg.host}/${repo}:latest`), ctx);
}

async function judge(repo: string, dockerReference: string, manifestBytes: Uint8Array, requirement: object) {
  const policy = parsePolicy(Buffer.from(JSON.stringify({ default: [requirement] })));
  const format = cosignFormat({ source: tagSchemeSource(() => storeFor(repo)) });
  return evaluatePolicy(policy, { transport: 'docker', dockerReference, manifestDigest: digestOf(manifestBytes), manifestBytes }, { formats: [format], baseDir: work });
}

beforeAll(async () => {
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-cosign-e2e-');
  ctx = { insecureRegistries: [reg.host] };
  writeFileSync(join(work, 'insecure.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  writeOciLayout(join(work, 'layout'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'cosign\n' }] }), tag: 'v1' });
});

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('cosign tag scheme with a real registry', () => {
  it('the fixture signature, stored as a .sig manifest in the registry, verifies with cosign.pub through the registry transport', async () => {
    // The fixture image's own blobs are not part of the fixtures, so the registry cannot take its manifest;
    // its exact bytes are the image the policy judges, and the signature travels through the registry.
    const manifest = new Uint8Array(readFileSync(join(FIX, 'dir-img-cosign-valid/manifest.json')));
    const att = parseSerialisedAttachment(readFileSync(join(FIX, 'dir-img-cosign-valid/signature-1')));
    await addCosignSignatures(storeFor('cosign-signed-single-sample'), digestOf(manifest), [att]);
    const sigManifest = JSON.parse(Buffer.from(await manifestOf('cosign-signed-single-sample', signatureTag(digestOf(manifest)))).toString());
    expect(sigManifest.layers[0].annotations['dev.cosignproject.cosign/signature']).toBe(att.annotations['dev.cosignproject.cosign/signature']);
    const v = await judge('cosign-signed-single-sample', '192.168.64.2:5000/cosign-signed-single-sample', manifest,
      { type: 'sigstoreSigned', keyPath: join(FIX, 'cosign.pub'), signedIdentity: { type: 'matchRepository' } });
    expect(v.allowed, JSON.stringify(v)).toBe(true);
    const other = await judge('cosign-signed-single-sample', '192.168.64.2:5000/cosign-signed-single-sample', manifest,
      { type: 'sigstoreSigned', keyPath: join(FIX, 'cosign2.pub'), signedIdentity: { type: 'matchRepository' } });
    expect(other.allowed).toBe(false);
  });

  it('an image signed with a generated cosign.key verifies, and still does after skopeo copy --all of both tags to another repository', async () => {
    const r = skopeo(['--policy', join(work, 'insecure.json'), 'copy', ...reg.skopeoFlags('dest'), `oci:${join(work, 'layout')}:v1`, `docker://${reg.host}/app/signed:v1`]);
    expect(r.code, r.out).toBe(0);
    const manifest = await manifestOf('app/signed', 'v1');
    const digest = digestOf(manifest);
    const { keyPath, pubPath } = writeKeyPair(join(work, 'keys'), generateKeyPair({ passphrase: 'e2e passphrase' }));
    const privateKey = readPrivateKey(readFileSync(keyPath), { passphrase: 'e2e passphrase' });
    const ref = `${reg.host}/app/signed:v1`;
    expect(await signImage(storeFor('app/signed'), { dockerReference: ref, manifestDigest: digest, privateKey })).toMatch(/^sha256:/);
    expect(await readCosignSignatures(storeFor('app/signed'), digest)).toHaveLength(1);
    const req = { type: 'sigstoreSigned', keyPath: pubPath, signedIdentity: { type: 'matchRepository' } };
    expect((await judge('app/signed', ref, manifest, req)).allowed).toBe(true);

    for (const tag of ['v1', signatureTag(digest)]) {
      const c = skopeo(['--policy', join(work, 'insecure.json'), 'copy', '--all', ...reg.skopeoFlags('src'), ...reg.skopeoFlags('dest'),
        `docker://${reg.host}/app/signed:${tag}`, `docker://${reg.host}/mirror/app:${tag}`]);
      expect(c.code, c.out).toBe(0);
    }
    const copied = await manifestOf('mirror/app', 'v1');
    expect(digestOf(copied)).toBe(digest);
    const there = await judge('mirror/app', `${reg.host}/mirror/app:v1`, copied, { ...req, signedIdentity: { type: 'remapIdentity', prefix: `${reg.host}/mirror/app`, signedPrefix: `${reg.host}/app/signed` } });
    expect(there.allowed, JSON.stringify(there)).toBe(true);
    // The signature names the original repository; an exact identity at the mirror rejects it.
    expect((await judge('mirror/app', `${reg.host}/mirror/app:v1`, copied, { ...req, signedIdentity: { type: 'matchExact' } })).allowed).toBe(false);
  });

  it('a .sig manifest with more than the layer cap, pushed to the registry, is refused with LimitExceeded', async () => {
    const manifest = await manifestOf('app/signed', 'v1');
    const att = parseSerialisedAttachment(readFileSync(join(FIX, 'dir-img-cosign-valid/signature-1')));
    const layers = Array.from({ length: MAX_ATTACHMENT_LAYERS + 1 }, (_, i) => ({
      mediaType: att.mediaType, size: att.payload.length, digest: digestOf(att.payload), annotations: { n: String(i) },
    }));
    // The registry requires the blobs to exist: store the one payload and a config, then the manifest.
    await addCosignSignatures(storeFor('hostile/app'), digestOf(manifest), [att]);
    const first = JSON.parse(Buffer.from(await manifestOf('hostile/app', signatureTag(digestOf(manifest)))).toString());
    const big = Buffer.from(JSON.stringify({ ...first, layers }));
    const put = await fetch(`http://${reg.host}/v2/hostile/app/manifests/${signatureTag(digestOf(manifest))}`, {
      method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: big,
    });
    expect(put.status).toBe(201);
    await expect(readCosignSignatures(storeFor('hostile/app'), digestOf(manifest))).rejects.toMatchObject({ code: 'LimitExceeded' });
    const v = await judge('hostile/app', `${reg.host}/hostile/app:v1`, manifest, { type: 'sigstoreSigned', keyPath: join(FIX, 'cosign.pub') });
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.reason).toMatch(/more than 1000/);
  });

  it('cosign v3 bundle: a referrer (subject = the image) recorded in the referrers tag schema of distribution 2.8 verifies through the registry transport', async () => {
    const manifest = await manifestOf('app/signed', 'v1');
    const digest = digestOf(manifest);
    const api = await fetch(`http://${reg.host}/v2/app/signed/referrers/${digest}`);
    expect(api.status).toBe(404); // distribution 2.8 has no referrers API: the tag schema is the way
    const { privateKey } = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = createImageBundle({ repository: `${reg.host}/app/signed`, manifestDigest: digest, privateKey });
    const subject = { mediaType: JSON.parse(Buffer.from(manifest).toString()).mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length };
    const referrer = await addBundleReferrer(storeFor('app/signed'), subject, bundle);
    const res = await fetch(`http://${reg.host}/v2/app/signed/manifests/${referrersTag(digest)}`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    const index = JSON.parse(await res.text());
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([referrer]);
    const read = await readBundleReferrers(storeFor('app/signed'), digest);
    expect(Buffer.from(read[0]!.bundle).equals(Buffer.from(bundle))).toBe(true);
    const pem = (await import('node:crypto')).createPublicKey(privateKey).export({ format: 'pem', type: 'spki' });
    writeFileSync(join(work, 'bundle.pub'), pem);
    const policy = parsePolicy(Buffer.from(JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: join(work, 'bundle.pub'), signedIdentity: { type: 'matchRepository' } }] })));
    const format = cosignFormat({ source: tagSchemeSource(() => storeFor('app/signed')), bundles: referrersTagSource(() => storeFor('app/signed')) });
    const v = await evaluatePolicy(policy, { transport: 'docker', dockerReference: `${reg.host}/app/signed:v1`, manifestDigest: digest, manifestBytes: manifest }, { formats: [format] });
    expect(v.allowed, JSON.stringify(v)).toBe(true);
    expect(v.requirements[0]!.signatures.find((s) => s.accepted)!.origin).toBe(`sigstore bundle ${referrer}`);
  });
});
