// Docker Content Trust against the real components: notary-server (TLS, memory storage, local timestamp
// signing), the `notary` client publishing targets by hash, skopeo pushing images to a real docker-registry
// (skopeo 1.9 reads only OCI media types from a layout, so the multi-platform image is an OCI index),
// and @dsv/trust-notary reading and verifying what they wrote. The notary client (not docker CLI + dockerd)
// publishes: it writes the same TUF metadata docker's DCT writes, needs no daemon, and can add delegations.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { NotaryClient, assertManifestMatches, canonicalKeyId } from '@dsv/trust-notary';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { notaryClient, servedManifest, signServedTag, startNotaryServer, type NotaryServer } from '../helpers/notary.js';

let reg: StartedRegistry;
let server: NotaryServer;
let publisher: ReturnType<typeof notaryClient>;
let work: string;
let gun: string;
const readers: NotaryClient[] = [];

function push(tag: string, to = tag): void {
  run(requireTool('skopeo'), ['--insecure-policy', 'copy', '--all', '--dest-tls-verify=false', `oci:${join(work, 'layout')}:${tag}`, `docker://${gun}:${to}`]);
}
const served = async (tag: string): Promise<Uint8Array> => (await servedManifest(gun, tag)).body;
/** Signs `tag` as the bytes the registry serves for it now (what `docker push` with DCT does). */
const sign = (tag: string, roles: string[] = []): Promise<void> => signServedTag(publisher, gun, tag, roles);
function reader(extra: Partial<ConstructorParameters<typeof NotaryClient>[0]> = {}): { c: NotaryClient; trustDir: string } {
  const trustDir = tempDir('dsv-trust-');
  const c = new NotaryClient({ server: server.url, trustDir, caFiles: [server.caCert], ...extra });
  readers.push(c);
  return { trustDir, c };
}
async function error(p: Promise<unknown>): Promise<DsvError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(DsvError);
  return e as DsvError;
}
const sha256Of = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

beforeAll(async () => {
  [reg, server] = await Promise.all([startRegistry({ mode: 'http' }), startNotaryServer()]);
  publisher = notaryClient(server);
  work = tempDir('dsv-dct-e2e-');
  gun = `${reg.host}/app/dct`;
  const one = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'content trust one\n' }] });
  const two = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'content trust two\n' }] });
  const amd = await buildSampleImage({ format: 'oci', platform: 'linux/amd64', layers: [{ 'etc/arch': 'amd64\n' }] });
  const arm = await buildSampleImage({ format: 'oci', platform: 'linux/arm64/v8', layers: [{ 'etc/arch': 'arm64\n' }] });
  writeOciLayout(join(work, 'layout'), [
    { image: one, tag: 'one' }, { image: two, tag: 'two' }, { image: buildSampleIndex([amd, arm], { format: 'oci' }), tag: 'multi' },
  ]);
  for (const [from, to] of [['one', 'v1'], ['one', 'unsigned'], ['one', 'repushed'], ['one', 'delegated'], ['multi', 'multi']] as const) push(from, to);
  publisher.run(['init', gun]);
  await sign('v1');
  await sign('repushed');
  await sign('multi');
});

afterAll(async () => {
  await Promise.all(readers.map((r) => r.close()));
  await Promise.all([reg?.stop(), server?.stop()]);
  removeTempDirs();
});

describe('Docker Content Trust with notary-server, the notary client and a real registry', () => {
  it('a signed tag verifies: its target is the manifest the registry serves, and the root is pinned', async () => {
    const { c, trustDir } = reader();
    const v = await c.verifyTag(gun, 'v1');
    const bytes = await served('v1');
    expect(v.digest).toBe(sha256Of(bytes));
    expect(v.length).toBe(bytes.length);
    expect(v.role).toBe('targets');
    expect(v.keyIds).toHaveLength(1);
    expect(Object.keys(v.expiries).sort()).toEqual(['root', 'snapshot', 'targets', 'timestamp']);
    assertManifestMatches(v, bytes);
    expect(existsSync(join(trustDir, 'tuf', gun, 'metadata', 'root.json'))).toBe(true);
    // The notary client's own trust dir (same layout as docker's) pins the same root and reads the same.
    const theirs = new NotaryClient({ server: server.url, trustDir: publisher.trustDir, caFiles: [server.caCert] });
    readers.push(theirs);
    expect((await theirs.verifyTag(gun, 'v1')).digest).toBe(v.digest);
    // The listing agrees with the notary client's.
    expect(publisher.run(['list', gun])).toContain(v.digest.slice('sha256:'.length));
  });

  it('the server certificate is checked: without the test CA the fetch fails', async () => {
    const { c } = reader({ caFiles: [] });
    expect((await error(c.verifyTag(gun, 'v1'))).code).toBe('Network');
  });

  it('an unsigned tag fails', async () => {
    const e = await error(reader().c.verifyTag(gun, 'unsigned'));
    expect(e.code).toBe('NoSignatures');
    expect(e.message).toContain(`${gun}:unsigned`);
  });

  it('a tag re-pushed without signing fails: the served manifest is not the signed target', async () => {
    const { c } = reader();
    const before = await c.verifyTag(gun, 'repushed');
    push('two', 'repushed');
    const bytes = await served('repushed');
    expect(sha256Of(bytes)).not.toBe(before.digest);
    const after = await c.verifyTag(gun, 'repushed');
    let caught: unknown;
    try {
      assertManifestMatches(after, bytes);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DsvError);
    expect((caught as DsvError).code).toBe('DigestMismatch');
  });

  it('an expired timestamp fails (the server signs timestamps for 14 days; the clock is 30 days on)', async () => {
    const { c, trustDir } = reader({ now: () => new Date(Date.now() + 30 * 86_400_000) });
    const e = await error(c.verifyTag(gun, 'v1'));
    expect(e.code).toBe('Untrusted');
    expect(e.message).toMatch(/timestamp expired/);
    expect(existsSync(join(trustDir, 'tuf', gun, 'metadata', 'root.json'))).toBe(false);
  });

  it("a delegation signer's signature is attributed to that signer", async () => {
    const openssl = requireTool('openssl');
    const key = join(work, 'alice.key');
    const cert = join(work, 'alice.crt');
    run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=alice']);
    publisher.run(['delegation', 'add', gun, 'targets/releases', cert, '--all-paths']);
    publisher.run(['publish', gun]);
    publisher.run(['key', 'import', key, '--role', 'targets/releases']);
    await sign('delegated', ['targets/releases']);

    const { c } = reader();
    const v = await c.verifyTag(gun, 'delegated');
    expect(v.digest).toBe(sha256Of(await served('delegated')));
    expect(v.role).toBe('targets/releases');
    expect(v.signers).toEqual(['targets/releases']);
    expect(v.expiries['targets/releases']).toBeDefined();
    // The id the notary CLI shows for alice's key is the canonical id of the bare public key in her certificate.
    const spki = new X509Certificate(readFileSync(cert)).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const aliceId = canonicalKeyId({ keytype: 'ecdsa', keyval: { public: spki } });
    expect(v.canonicalKeyIds).toEqual([aliceId]);
    expect(publisher.run(['delegation', 'list', gun])).toContain(aliceId);
    const s = await c.inspect(gun);
    expect(s.delegations.map((d) => [d.role, d.canonicalKeyIds])).toEqual([['targets/releases', [aliceId]]]);
    expect(s.tags.find((t) => t.tag === 'v1')?.signers).toEqual(['targets']);
  });

  it("a multi-platform image's tag signs the list's digest", async () => {
    const bytes = await served('multi');
    expect(JSON.parse(Buffer.from(bytes).toString()).manifests).toHaveLength(2);
    const v = await reader().c.verifyTag(gun, 'multi');
    expect(v.digest).toBe(sha256Of(bytes));
    assertManifestMatches(v, bytes);
  });

  it('a root rotation signed by the old root is followed from a pinned root', async () => {
    const { c, trustDir } = reader();
    const before = await c.inspect(gun);
    publisher.run(['key', 'rotate', gun, 'root'], 'yes\n');
    const after = await c.inspect(gun);
    expect(after.root.version).toBe((before.root.version ?? 0) + 1);
    expect(after.root.keyIds).not.toEqual(before.root.keyIds);
    const pinned = JSON.parse(readFileSync(join(trustDir, 'tuf', gun, 'metadata', 'root.json'), 'utf8')) as { signed: { version: number } };
    expect(pinned.signed.version).toBe(after.root.version);
    expect((await c.verifyTag(gun, 'v1')).digest).toBe(sha256Of(await served('v1')));
  });
});
