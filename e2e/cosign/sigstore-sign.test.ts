// Bundles made by the sigstore project's own signer (@sigstore/sign: DSSEBundleBuilder with a local P-256 key,
// no Fulcio, no transparency log) attached to images in a real docker-registry (distribution 2.8) verify in
// dsv (`dsv verify --trust cosign:KEY.pub`, a sigstoreSigned policy); a bundle about another digest is refused.
// The OCI 1.1 referrers API: distribution 2.8 does not implement it, so an in-process HTTP server in front of
// the real registry implements exactly `GET /v2/<name>/referrers/<digest>[?artifactType=]` (indexing the
// manifests with a `subject` that are PUT through it) and forwards every other request to the registry.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { digestOf } from '@dsv/core';
import { RegistryClient, REFERRERS_LIMIT_BYTES } from '@dsv/source-registry';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { freePort, removeTempDirs, requireTool, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { execFileSync } from 'node:child_process';
import { launcher } from '../helpers/cli.js';

const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';
let reg: StartedRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let key: { privateKey: KeyObject; publicKey: KeyObject };
let other: { privateKey: KeyObject; publicKey: KeyObject };

function dsv(args: string[]): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env, cwd: work });
}

async function push(host: string, repo: string, tag: string, content: string): Promise<{ digest: string; size: number }> {
  const layout = join(work, `layout-${repo.replace(/\W/g, '_')}-${tag}`);
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/content': `${content}\n` }] }), tag });
  execFileSync(requireTool('skopeo'), ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${host}/${repo}:${tag}`], { stdio: 'pipe', timeout: 120_000 });
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { digest: digestOf(bytes), size: bytes.length };
}

async function putBlob(host: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(start.status).toBe(202);
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', digest);
  const done = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  expect(done.status).toBe(201);
  return digest;
}

async function putManifest(host: string, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  expect(res.status, await res.text()).toBe(201);
}

/** A Sigstore bundle made by @sigstore/sign: a DSSE envelope over cosign v3's in-toto statement, signed with a local key. */
async function sigstoreBundle(privateKey: KeyObject, repository: string, digest: string): Promise<Buffer> {
  const signer: Signer = {
    async sign(data) {
      return { signature: cryptoSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: '', hint: 'local-p256' } };
    },
  };
  const [alg, hex] = digest.split(':') as [string, string];
  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: repository, digest: { [alg]: hex } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} };
  const bundle = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}

/** Attaches a bundle as a referrer of `subject`; `tagSchema`: also records it in the `sha256-<hex>` index. */
async function attach(host: string, repo: string, subject: { digest: string; size: number }, bundle: Buffer, tagSchema: boolean): Promise<string> {
  const empty = Buffer.from('{}');
  await putBlob(host, repo, empty);
  const layer = await putBlob(host, repo, bundle);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE,
    config: { mediaType: EMPTY, digest: digestOf(empty), size: empty.length },
    layers: [{ mediaType: BUNDLE, digest: layer, size: bundle.length }],
    subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size },
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
  }));
  const digest = digestOf(manifest);
  await putManifest(host, repo, digest, manifest, OCI_MANIFEST);
  if (tagSchema) {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest, size: manifest.length, artifactType: BUNDLE }] }));
    await putManifest(host, repo, subject.digest.replace(':', '-'), index, OCI_INDEX);
  }
  return digest;
}

/** The referrers API in front of the real registry: indexes manifests with a subject PUT through it; forwards the rest. */
async function referrersFront(target: string): Promise<{ host: string; server: Server; calls: string[] }> {
  const referrers = new Map<string, Array<Record<string, unknown>>>();
  const calls: string[] = [];
  const body = (req: IncomingMessage): Promise<Buffer> => new Promise((ok, ko) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => ok(Buffer.concat(chunks))).on('error', ko);
  });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const api = /^\/v2\/(.+)\/referrers\/([a-z0-9]+:[0-9a-f]+)$/.exec(url.pathname);
    if (api && req.method === 'GET') {
      calls.push(url.pathname + url.search);
      if (api[1] === 'huge/app') {
        // Hostile: an endless index; the client must stop at its cap.
        res.writeHead(200, { 'content-type': OCI_INDEX });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const more = (): void => { while (sent < REFERRERS_LIMIT_BYTES + 2 * chunk.length) { sent += chunk.length; if (!res.write(chunk)) { res.once('drain', more); return; } } res.end(); };
        res.on('error', () => undefined);
        more();
        return;
      }
      const want = url.searchParams.get('artifactType');
      const all = referrers.get(`${api[1]}@${api[2]}`) ?? [];
      const manifests = want ? all.filter((m) => m.artifactType === want) : all;
      res.writeHead(200, { 'content-type': OCI_INDEX, ...(want ? { 'oci-filters-applied': 'artifactType' } : {}) });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
      return;
    }
    const data = await body(req);
    const put = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname);
    if (put && req.method === 'PUT') {
      try {
        const m = JSON.parse(data.toString());
        if (m.subject?.digest) {
          const k = `${put[1]}@${m.subject.digest}`;
          referrers.set(k, [...(referrers.get(k) ?? []), { mediaType: m.mediaType, digest: digestOf(data), size: data.length, artifactType: m.artifactType ?? m.config?.mediaType, ...(m.annotations ? { annotations: m.annotations } : {}) }]);
        }
      } catch { /* not JSON: the registry answers */ }
    }
    const [h, p] = target.split(':');
    const up = httpRequest({ host: h, port: Number(p), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    up.end(data);
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { host: `127.0.0.1:${port}`, server, calls };
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-sigstore-sign-e2e-');
  env = { PATH: process.env.PATH, HOME: work };
  key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(work, 'key.pub'), key.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(work, 'other.pub'), other.publicKey.export({ type: 'spki', format: 'pem' }));
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('bundles made by @sigstore/sign (key-based, no transparency log)', () => {
  it('a referrer (referrers tag schema) verifies with dsv verify --trust cosign: and a sigstoreSigned policy; another key is refused', async () => {
    const img = await push(reg.host, 'sig/app', 'v1', 'sigstore-sign');
    const bundle = await sigstoreBundle(key.privateKey, `${reg.host}/sig/app`, img.digest);
    expect(JSON.parse(bundle.toString()).mediaType).toBe(BUNDLE);
    await attach(reg.host, 'sig/app', img, bundle, true);
    const ok = await dsv(['verify', '--trust', 'cosign:key.pub', `docker://${reg.host}/sig/app@${img.digest}`]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toContain('sigstore bundle');
    const policy = join(work, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: join(work, 'key.pub'), signedIdentity: { type: 'matchRepository' } }] }));
    const byPolicy = await dsv(['verify', '--policy', policy, `docker://${reg.host}/sig/app:v1`]);
    expect(byPolicy.code, byPolicy.all).toBe(0);
    const wrong = await dsv(['verify', '--trust', 'cosign:other.pub', `docker://${reg.host}/sig/app@${img.digest}`]);
    expect(wrong.code, wrong.all).toBe(1);
  });

  it('a bundle whose statement is about another digest, attached to this image, is refused (exit 1, reason named)', async () => {
    const img = await push(reg.host, 'sig/swapped', 'v1', 'swapped-target');
    const elsewhere = await push(reg.host, 'sig/swapped', 'v2', 'swapped-other');
    await attach(reg.host, 'sig/swapped', img, await sigstoreBundle(key.privateKey, `${reg.host}/sig/swapped`, elsewhere.digest), true);
    const r = await dsv(['verify', '--trust', 'cosign:key.pub', `docker://${reg.host}/sig/swapped@${img.digest}`]);
    expect(r.code, r.all).toBe(1);
    expect(r.all).toContain('another image');
  });
});

describe('the OCI 1.1 referrers API (in-process endpoint in front of the real registry; distribution 2.8 has none)', () => {
  it('a bundle referrer listed only by the API (no sha256-<hex> tag) verifies; without the API it is not found', async () => {
    const front = await referrersFront(reg.host);
    try {
      // skopeo runs synchronously (it would block the in-process server), so the image goes straight to the registry.
      const img = await push(reg.host, 'api/app', 'v1', 'referrers-api');
      await attach(front.host, 'api/app', img, await sigstoreBundle(key.privateKey, `${front.host}/api/app`, img.digest), false);
      const tagSchema = await fetch(`http://${reg.host}/v2/api/app/manifests/${img.digest.replace(':', '-')}`, { headers: { Accept: ACCEPT } });
      expect(tagSchema.status).toBe(404);
      const ok = await dsv(['verify', '--trust', 'cosign:key.pub', `docker://${front.host}/api/app@${img.digest}`]);
      expect(ok.code, ok.all).toBe(0);
      expect(ok.stdout).toContain('sigstore bundle');
      expect(front.calls).toContain(`/v2/api/app/referrers/${img.digest}`);
      const filtered = await fetch(`http://${front.host}/v2/api/app/referrers/${img.digest}?artifactType=${encodeURIComponent(BUNDLE)}`);
      expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
      // The same registry without the API (distribution 2.8 answers 404): the tag schema has nothing, so nothing is accepted.
      const direct = await dsv(['verify', '--trust', 'cosign:key.pub', `docker://${reg.host}/api/app@${img.digest}`]);
      expect(direct.code, direct.all).toBe(1);
      // dsv inspect lists it, and dsv-copy carries it (written at DEST in the referrers tag schema), read through the API.
      const ins = await dsv(['inspect', '--trust', 'cosign:key.pub', `docker://${front.host}/api/app@${img.digest}`]);
      expect(ins.code, ins.all).toBe(0);
      expect(ins.stdout).toContain('sigstore bundle');
      const copied = await runNodeScript(launcher('dsv-copy'), [`docker://${front.host}/api/app@${img.digest}`, `docker://${reg.host}/api-copy/app:v1`], { env, cwd: work });
      expect(copied.code, copied.all).toBe(0);
      // At DEST the carried bundle is found and checks with the key; it names the source repository, so the identity differs.
      const there = await dsv(['verify', '--trust', 'cosign:key.pub', `docker://${reg.host}/api-copy/app@${img.digest}`]);
      expect(there.stdout).toMatch(/sigstore bundle sha256:[0-9a-f]{64} by key [0-9a-f]+, identity [^:]+:\d+\/api\/app: not accepted: signed identity/);
    } finally {
      await new Promise((ok) => front.server.close(ok));
    }
  });
});

describe('RegistryClient.listReferrers', () => {
  const ctx = () => ({ certsDirs: [], insecureRegistries: [], retryTimes: 0 });
  it('distribution 2.8 (404): undefined, the caller falls back to the tag schema; the API: the index and OCI-Filters-Applied; an oversized index: LimitExceeded', async () => {
    const img = await push(reg.host, 'client/app', 'v1', 'client-referrers');
    const direct = new RegistryClient({ registry: reg.host, ctx: ctx() });
    try {
      expect(await direct.listReferrers('client/app', img.digest)).toBeUndefined();
    } finally {
      await direct.close();
    }
    const front = await referrersFront(reg.host);
    const c = new RegistryClient({ registry: front.host, ctx: ctx() });
    try {
      const referrer = await attach(front.host, 'client/app', img, await sigstoreBundle(key.privateKey, `${front.host}/client/app`, img.digest), false);
      const all = await c.listReferrers('client/app', img.digest);
      expect(all!.filtersApplied).toEqual([]);
      expect(JSON.parse(Buffer.from(all!.index).toString()).manifests.map((m: { digest: string }) => m.digest)).toEqual([referrer]);
      const none = await c.listReferrers('client/app', img.digest, { artifactType: 'application/example' });
      expect(none!.filtersApplied).toEqual(['artifactType']);
      expect(JSON.parse(Buffer.from(none!.index).toString()).manifests).toEqual([]);
      await expect(c.listReferrers('huge/app', img.digest)).rejects.toMatchObject({ code: 'LimitExceeded' });
    } finally {
      await c.close();
      await new Promise((ok) => front.server.close(ok));
    }
  });
});
