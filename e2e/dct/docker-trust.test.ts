// dsv trust inspect / dsv verify --dct / dsv trust migrate (the built launcher) against Docker Content Trust
// as the docker CLI 28 writes it: a private dockerd pushes to a real docker-registry, and the docker CLI with
// DOCKER_CONTENT_TRUST=1 and DOCKER_CONTENT_TRUST_SERVER signs through a real notary-server (`docker push`,
// `docker trust signer add`, `docker trust sign`). The multi-platform tag alone is signed with the `notary`
// client in docker's own trust dir (same keys, same metadata): dockerd (20.10 here) cannot push an image
// list, so the docker CLI has no way to sign one; skopeo pushes the OCI index instead. The expired-timestamp
// case runs dsv under faketime (+15 days: notary-server signs timestamps for 14).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';
import {
  DCT_PASSPHRASES, MANIFEST_ACCEPT, dockerTrustEnv, dockerWithTrust, notaryClient, pushTrustTags, servedManifest, signServedTag, startNotaryServer, type NotaryServer,
} from '../helpers/notary.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let reg: StartedRegistry;
let server: NotaryServer;
let d: Dockerd;
let work: string;
let repo: string;
/** The docker CLI's environment with content trust on (and dsv's: same DOCKER_CONFIG). */
let trustEnv: NodeJS.ProcessEnv;
let signerCert: string;
let signerKey: string;

function docker(args: string[], trust = true): string {
  return dockerWithTrust(trustEnv, args, trust);
}
function dsv(args: string[], env: NodeJS.ProcessEnv = trustEnv): Promise<Ran> {
  return runNodeScript(join(root, 'apps/cli/bin/dsv.js'), args, { env, cwd: work });
}
const served = (tag: string) => servedManifest(repo, tag);
/** `docker trust inspect` (JSON) of the repository. */
function dockerInspect(): { SignedTags: Array<{ SignedTag: string; Digest: string; Signers: string[] }>; Signers: Array<{ Name: string; Keys: Array<{ ID: string }> }>; AdministrativeKeys: Array<{ Name: string; Keys: Array<{ ID: string }> }> } {
  return JSON.parse(docker(['trust', 'inspect', repo]))[0];
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [reg, server, d] = await Promise.all([startRegistry({ mode: 'http' }), startNotaryServer({ certDays: 30 }), startDockerd()]);
  work = tempDir('dsv-dct-cli-');
  repo = `${reg.host}/app/dct`;
  // The docker CLI trusts the notary server's CA from $DOCKER_CONFIG/tls/<host:port>/ca.crt; so does dsv.
  trustEnv = dockerTrustEnv(d.env, server);
  // v1 (docker push with content trust initialises the collection, signs in targets), unsigned, repushed.
  pushTrustTags(d, trustEnv, repo);
  // rel: signed by the delegation alice (docker trust signer add creates targets/releases and targets/alice).
  docker(['trust', 'key', 'generate', 'alice', '--dir', work]);
  docker(['trust', 'signer', 'add', '--key', join(work, 'alice.pub'), 'alice', repo]);
  importImage(d, `${repo}:rel`, { 'etc/hello': 'released by alice\n' });
  docker(['trust', 'sign', `${repo}:rel`]);

  // multi: an OCI index pushed by skopeo, signed by the notary client in docker's trust dir with the repository key.
  const amd = await buildSampleImage({ format: 'oci', platform: 'linux/amd64', layers: [{ 'etc/arch': 'amd64\n' }] });
  const arm = await buildSampleImage({ format: 'oci', platform: 'linux/arm64/v8', layers: [{ 'etc/arch': 'arm64\n' }] });
  writeOciLayout(join(work, 'layout'), [{ image: buildSampleIndex([amd, arm], { format: 'oci' }), tag: 'multi' }]);
  run(requireTool('skopeo'), ['--insecure-policy', 'copy', '--all', '--dest-tls-verify=false', `oci:${join(work, 'layout')}:multi`, `docker://${repo}:multi`]);
  const pass = DCT_PASSPHRASES.DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE;
  const notary = notaryClient(server, { trustDir: join(d.env.DOCKER_CONFIG!, 'trust'), passphrases: { NOTARY_TARGETS_PASSPHRASE: pass, NOTARY_SNAPSHOT_PASSPHRASE: pass } });
  await signServedTag(notary, repo, 'multi');

  // The key the migration signs with (dsv's pki signer) and the certificate that verifies it.
  signerKey = join(work, 'migrate.key');
  signerCert = join(work, 'migrate.crt');
  run(requireTool('openssl'), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', signerKey, '-out', signerCert, '-days', '30', '-subj', '/CN=dct migration']);
}, 600_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), server?.stop(), d?.stop()]);
  removeTempDirs();
});

describe('Docker Content Trust written by the docker CLI, read by dsv', () => {
  it('dsv verify --dct: a tag signed by docker push verifies (--server given, no DOCKER_CONTENT_TRUST_SERVER)', async () => {
    const env = { ...trustEnv };
    delete env.DOCKER_CONTENT_TRUST_SERVER;
    const r = await dsv(['verify', '--dct', '--server', server.url, `${repo}:v1`], env);
    expect(r.code, r.all).toBe(0);
    const s = await served('v1');
    expect(r.stdout).toContain(`signed target: ${s.digest} (${s.length} bytes) in targets`);
    expect(r.stdout).toContain('signers: (Repo Admin)');
    expect(r.stdout).toContain(`Verified: ${repo}:v1 (${s.digest})`);
    const j = await dsv(['verify', '--dct', '--json', `${repo}:v1`]);
    expect(j.code, j.all).toBe(0);
    expectValidReport('dct-verify', j.stdout);
    const report = JSON.parse(j.stdout);
    expect(report.results[0].trust).toMatchObject({ digest: s.digest, length: s.length, role: 'targets', signers: ['Repo Admin'] });
    expect(Object.keys(report.results[0].trust.expiries).sort()).toEqual(['root', 'snapshot', 'targets', 'timestamp']);
    expect(report.results[0].images[0].integrity.ok).toBe(true);
    // Without DOCKER_CONTENT_TRUST_SERVER or --server, the docker CLI's default (https://<registry>) is used: nothing listens there.
    const dflt = await dsv(['verify', '--dct', `${repo}:v1`], env);
    expect(dflt.code, dflt.all).toBe(3);
    expect(dflt.stderr).toContain(`https://${reg.host}`.replace('https://', ''));
  });

  it('dsv verify --dct: an unsigned tag fails (exit 1) naming why', async () => {
    const r = await dsv(['verify', '--dct', `${repo}:unsigned`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`no signed trust data for ${repo}:unsigned`);
    expect(r.stdout).toContain(`NOT verified: ${repo}:unsigned`);
  });

  it('dsv verify --dct: a tag re-pushed without signing fails (exit 1): the registry serves another manifest', async () => {
    const now = await served('repushed');
    const signed = dockerInspect().SignedTags.find((t) => t.SignedTag === 'repushed')!;
    expect(`sha256:${signed.Digest}`).not.toBe(now.digest);
    const r = await dsv(['verify', '--dct', `${repo}:repushed`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`the registry serves ${now.digest}, but trust data signs sha256:${signed.Digest}`);
  });

  it('dsv verify --dct and dsv trust inspect: an expired timestamp fails (exit 1), the clock moved 15 days on with faketime', async () => {
    const r = await runNodeScriptUnderFaketime(['verify', '--dct', `${repo}:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/timestamp expired/);
    const i = await runNodeScriptUnderFaketime(['trust', 'inspect', '--json', repo]);
    expect(i.code, i.all).toBe(1);
    expect(expectValidReport('trust-inspect', i.stdout)).toMatchObject({ ok: false, trustVerified: false, error: { code: 'Untrusted' } });
    expect(i.stderr).toMatch(/timestamp expired/);
  });

  it("a delegation signer's signature is attributed to that signer, with docker's key ids", async () => {
    const theirs = dockerInspect();
    const alice = theirs.Signers.find((s) => s.Name === 'alice')!;
    const r = await dsv(['verify', '--dct', '--json', `${repo}:rel`]);
    expect(r.code, r.all).toBe(0);
    expectValidReport('dct-verify', r.stdout);
    const t = JSON.parse(r.stdout).results[0].trust;
    expect(t.role).toBe('targets/releases');
    expect(t.signers).toEqual(['alice']);
    expect(t.canonicalKeyIds).toEqual(alice.Keys.map((k) => k.ID));
    expect(t.digest).toBe((await served('rel')).digest);
  });

  it('dsv trust inspect shows what docker trust inspect shows, plus roles and the registry verdicts', async () => {
    const theirs = dockerInspect();
    const r = await dsv(['trust', 'inspect', '--json', repo]);
    expect(r.code, r.all).toBe(0);
    expectValidReport('trust-inspect', r.stdout);
    const ours = JSON.parse(r.stdout);
    expect(ours.signedTags.map((t: { tag: string; digest: string; signers: string[] }) => [t.tag, t.digest.slice(7), t.signers])).toEqual(
      theirs.SignedTags.map((t) => [t.SignedTag, t.Digest, t.Signers]),
    );
    expect(ours.signers.map((s: { name: string; keys: string[] }) => [s.name, s.keys])).toEqual(theirs.Signers.map((s) => [s.Name, s.Keys.map((k) => k.ID)]));
    const admin = Object.fromEntries(theirs.AdministrativeKeys.map((k) => [k.Name, k.Keys.map((x) => x.ID)]));
    expect(ours.administrativeKeys).toEqual({ root: admin.Root, repository: admin.Repository });
    expect(Object.fromEntries(ours.signedTags.map((t: { tag: string; registry: string }) => [t.tag, t.registry]))).toEqual({ multi: 'matches', rel: 'matches', repushed: 'differs', v1: 'matches' });
    expect(ours.roles.map((x: { role: string }) => x.role)).toEqual(['root', 'targets', 'snapshot', 'timestamp', 'targets/alice', 'targets/releases']);
    for (const role of ours.roles) expect(Date.parse(role.expires)).toBeGreaterThan(Date.now());

    const text = await dsv(['trust', 'inspect', `${repo}:rel`]);
    expect(text.code, text.all).toBe(0);
    expect(text.stdout).toMatch(/SIGNED TAG +DIGEST +SIGNERS +REGISTRY/);
    expect(text.stdout).toMatch(new RegExp(`rel +${(await served('rel')).digest.slice(7)} +alice +serves the signed manifest`));
    expect(text.stdout).not.toMatch(/^v1 /m);
    expect(text.stdout).toContain(`Root Key:\t${admin.Root!.join(', ')}`);
  });

  it('a multi-platform image: the signed target is the index, and every platform under it is checked', async () => {
    const m = await served('multi');
    const r = await dsv(['verify', '--dct', '--json', `${repo}:multi`]);
    expect(r.code, r.all).toBe(0);
    expectValidReport('dct-verify', r.stdout);
    const res = JSON.parse(r.stdout).results[0];
    expect(res.digest).toBe(m.digest);
    expect(res.kind).toBe('index');
    expect(res.images.map((i: { platform: string }) => i.platform).sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(res.images.every((i: { integrity: { ok: boolean } }) => i.integrity.ok)).toBe(true);
  });

  it('dsv trust migrate --to embedded: --dry-run writes nothing; then every verified tag is signed, the re-pushed one never', async () => {
    const key = ['--key', signerKey, '--key-type', 'pki'];
    const dry = await dsv(['trust', 'migrate', repo, '--to', 'embedded', ...key, '--dry-run', '--tags', 'v1']);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain(`Would migrate: v1 ${(await served('v1')).digest}`);
    expect((await fetch(`http://${reg.host}/v2/app/dct/manifests/v1-signed`, { headers: { Accept: MANIFEST_ACCEPT } })).status).toBe(404);

    const r = await dsv(['trust', 'migrate', repo, '--to', 'embedded', ...key, '--json']);
    expect(r.code, r.all).toBe(1);
    expectValidReport('trust-migrate', r.stdout);
    const rows = Object.fromEntries(JSON.parse(r.stdout).tags.map((t: { tag: string }) => [t.tag, t]));
    expect(Object.keys(rows).sort()).toEqual(['multi', 'rel', 'repushed', 'v1']);
    for (const tag of ['multi', 'rel', 'v1']) expect(rows[tag]).toMatchObject({ dct: 'verified', action: 'signed', destination: `docker://${repo}:${tag}-signed` });
    expect(rows.repushed).toMatchObject({ dct: 'failed', action: 'skipped', destination: null });
    expect(rows.repushed.error.code).toBe('DigestMismatch');
    expect(r.stderr).toContain(`${repo} repushed: the registry serves`);
    expect((await fetch(`http://${reg.host}/v2/app/dct/manifests/repushed-signed`, { headers: { Accept: MANIFEST_ACCEPT } })).status).toBe(404);

    // The migrated signatures verify with dsv (embedded), for the single image and every platform of the index.
    for (const tag of ['v1-signed', 'rel-signed', 'multi-signed']) {
      const v = await dsv(['verify', '--trust', signerCert, `${repo}:${tag}`]);
      expect(v.code, `${tag}: ${v.all}`).toBe(0);
    }
    // The DCT-signed tags themselves are untouched.
    const after = await dsv(['verify', '--dct', `${repo}:v1`, `${repo}:rel`, `${repo}:multi`]);
    expect(after.code, after.all).toBe(0);
  });

  it('dsv trust migrate: a tag the trust data does not sign is reported and not signed (exit 1); a pattern without {tag} for several tags is a usage error', async () => {
    const r = await dsv(['trust', 'migrate', repo, '--to', 'embedded', '--key', signerKey, '--key-type', 'pki', '--tags', 'unsigned']);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('NOT migrated: unsigned: DCT check failed: no signed trust data');
    expect((await fetch(`http://${reg.host}/v2/app/dct/manifests/unsigned-signed`, { headers: { Accept: MANIFEST_ACCEPT } })).status).toBe(404);
    const u = await dsv(['trust', 'migrate', repo, '--to', 'embedded', '--key', signerKey, '--key-type', 'pki', '--dest-tag', 'fixed']);
    expect(u.code, u.all).toBe(2);
    expect(u.stderr).toContain('has no {tag}');
  });
});

/** dsv with the clock 15 days on (libfaketime): the timestamp notary-server signed for 14 days has expired. */
function runNodeScriptUnderFaketime(args: string[]): Promise<Ran> {
  const faketime = requireTool('faketime');
  const script = join(work, 'dsv-faketime.sh');
  writeFileSync(script, `#!/bin/sh\nexec "${faketime}" -f +15d "${process.execPath}" "${join(root, 'apps/cli/bin/dsv.js')}" "$@"\n`, { mode: 0o755 });
  return new Promise((resolve, reject) => {
    import('node:child_process').then(({ spawn }) => {
      const child = spawn(script, args, { env: trustEnv, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr, all: `${stdout}${stderr}` }));
    }, reject);
  });
}
