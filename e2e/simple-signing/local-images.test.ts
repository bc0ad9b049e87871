// Local images judged by the signatures of the registry manifest they came from: a real dockerd (private
// root and socket) pulls an image from a real docker-registry where dsv signed it (simple signing into a
// temp lookaside, and cosign); `dsv verify --policy` / `--trust cosign:` on docker-daemon:, docker-storage:,
// docker-archive: (docker save) and oci: (a layout naming its image) find the registry manifest (RepoDigests,
// RepoTags, io.containerd.image.name), prove its config digest and diff_ids are the local image's, and
// judge its signatures. `docker verify` (the CLI plugin) does the same.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, tempDir, type Ran } from '../helpers/proc.js';
import { runDsv } from '../helpers/cli.js';
import { lookasideRegistriesD, skopeoOk } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { importImage, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';

let reg: StartedRegistry;
let d: Dockerd;
let work: string;
let regd: string;
let ours: GpgHome;
let env: NodeJS.ProcessEnv;
let policy: string;

const dsv = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> => runDsv(args, { ...env, ...extra }, work);

function skopeo(args: string[]): void {
  skopeoOk(['--insecure-policy', ...args]);
}

async function pushSigned(repo: string, content: string): Promise<void> {
  const layout = join(work, `layout-${repo.replace(/\W/g, '_')}`);
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/content': `${content}\n` }, { 'etc/other': 'other\n' }] }), tag: 'v1' });
  skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/${repo}:v1`]);
  const s = await dsv(['sign', '--format', 'simple', '--key', join(work, 'ours.sec.asc'), '--registries.d', regd, `docker://${reg.host}/${repo}:v1`]);
  expect(s.code, s.all).toBe(0);
  const c = await dsv(['sign', '--format', 'cosign', '--key', join(work, 'cosign.key'), `docker://${reg.host}/${repo}:v1`], { COSIGN_PASSWORD: 'pw' });
  expect(c.code, c.all).toBe(0);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  d = await startDockerd();
  work = tempDir('dsv-local-e2e-');
  regd = lookasideRegistriesD(join(work, 'registries.d'), join(work, 'sigstore'));
  ours = makeGpgHome({ withKey: { name: 'Local Signer', email: 'local@dsv.invalid' } });
  writeFileSync(join(work, 'ours.pub'), ours.exportPublic());
  writeFileSync(join(work, 'ours.sec.asc'), ours.gpg(['--armor', '--export-secret-keys', '--', ours.fingerprint]));
  env = { PATH: process.env.PATH, HOME: work, DOCKER_HOST: d.host, DSV_DOCKER_ROOT: d.dataRoot };
  expect((await dsv(['generate-key-pair', '--format', 'cosign'], { COSIGN_PASSWORD: 'pw' })).code).toBe(0);
  policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'ours.pub') }] }));
  await pushSigned('app/local', 'pulled into docker');
  d.docker(['pull', `${reg.host}/app/local:v1`]);
  d.docker(['tag', `${reg.host}/app/local:v1`, 'app:1']);
}, 300_000);

afterAll(async () => {
  await d?.stop();
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('local images judged by their registry signatures', () => {
  it.each(['docker-daemon', 'docker-storage'])('%s:app:1 — RepoDigests, config digest = image ID, diff_ids — accepted under signedBy', async (transport) => {
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `${transport}:app:1`]);
    expect(r.code, r.all).toBe(0);
    const id = d.docker(['image', 'inspect', '--format', '{{.Id}}', 'app:1']).trim();
    expect(r.stdout).toContain('Integrity check passed.');
    expect(r.stdout).toMatch(new RegExp(`registry manifest: ${reg.host}/app/local:v1@sha256:[0-9a-f]{64} \\(from RepoDigests ${reg.host}/app/local@sha256:[0-9a-f]{64}; config ${id} and 2 diff_ids match the local image\\)`));
    expect(r.stdout).toContain('signedBy: satisfied');
  });

  it('--trust cosign: on docker-daemon: checks the cosign signature of the registry manifest', async () => {
    const r = await dsv(['verify', '--trust', `cosign:${join(work, 'cosign.pub')}`, 'docker-daemon:app:1']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('sigstoreSigned: satisfied: cosign signature 1 accepted');
  });

  it('a local image that came from no registry has no detached signatures: exit 1, saying so', async () => {
    importImage(d, 'local/only:1', { 'etc/x': 'never pushed\n' });
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, 'docker-daemon:local/only:1']);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain('a signature was required, but the image has none');
  });

  it('docker-archive: (docker save) and oci: (a layout naming its image) — the names they carry, proved by config digest', async () => {
    const tar = join(work, 'saved.tar');
    d.docker(['save', '-o', tar, `${reg.host}/app/local:v1`]);
    const a = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker-archive:${tar}`]);
    expect(a.code, a.all).toBe(0);
    expect(a.stdout).toMatch(/from the archive's RepoTags/);
    // This Docker's save is the legacy layout; an OCI layout names its image the way containerd's export
    // does (io.containerd.image.name in index.json): skopeo writes the layout, the name is added here.
    const dir = join(work, 'named-layout');
    skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/app/local:v1`, `oci:${dir}:v1`]);
    const unnamed = await dsv(['verify', '--policy', policy, '--registries.d', regd, `oci:${dir}:v1`]);
    expect(unnamed.code, unnamed.all).toBe(1);
    expect(unnamed.stderr).toContain('a signature was required, but the image has none');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    index.manifests[0].annotations['io.containerd.image.name'] = `${reg.host}/app/local:v1`;
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const o = await dsv(['verify', '--policy', policy, '--registries.d', regd, `oci:${dir}:v1`]);
    expect(o.code, o.all).toBe(0);
    expect(o.stdout).toMatch(/from the layout's io.containerd.image.name/);
  });

  it('when the name in an archive now points at another image, its signatures are not taken for this one', async () => {
    await pushSigned('app/moved', 'first');
    d.docker(['pull', `${reg.host}/app/moved:v1`]);
    const tar = join(work, 'moved.tar');
    d.docker(['save', '-o', tar, `${reg.host}/app/moved:v1`]);
    await pushSigned('app/moved', 'second: the tag moved');
    const r = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker-archive:${tar}`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/could not be proved to be this image .*config digest is not the local image's/);
  });

  it('dsv inspect lists every signature in every format (format, key, signer, identity, timestamp, valid or why not), text and --json', async () => {
    const args = ['inspect', '--registries.d', regd, '--trust', join(work, 'ours.pub'), '--trust', `cosign:${join(work, 'cosign.pub')}`];
    const j = await dsv([...args, '--json', 'docker-daemon:app:1']);
    expect(j.code, j.all).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(report.detached.subject.dockerReference).toBe(`${reg.host}/app/local:v1`);
    const sigs = report.detached.signatures;
    expect(sigs).toEqual([
      expect.objectContaining({ format: 'simple-signing', keyId: ours.fingerprint, signer: 'Local Signer <local@dsv.invalid>', identity: `${reg.host}/app/local:v1`, valid: true, timestamp: expect.stringMatching(/^20\d\d-/) }),
      expect.objectContaining({ format: 'cosign', identity: `${reg.host}/app/local:v1`, valid: true, keyId: expect.stringMatching(/^[0-9a-f]{16}$/) }),
    ]);
    const t = await dsv([...args, 'docker-daemon:app:1']);
    expect(t.stdout).toContain(`detached signatures of ${reg.host}/app/local:v1@`);
    expect(t.stdout).toMatch(/simple-signing simple signature 1 key [0-9A-F]{40} \(valid\)/);
    // Without keys: listed, not checked.
    const unchecked = await dsv(['inspect', '--registries.d', regd, '--json', `docker://${reg.host}/app/local:v1`]);
    expect(unchecked.code, unchecked.all).toBe(0);
    expect(JSON.parse(unchecked.stdout).detached.signatures.map((x: { valid: unknown; reason: string }) => [x.valid, x.reason.slice(0, 12)])).toEqual([[null, 'not checked:'], [null, 'not checked:']]);
  });

  it('docker verify --policy (the CLI plugin) judges a local image the same way', async () => {
    const pluginDir = join(work, 'docker-config', 'cli-plugins');
    mkdirSync(pluginDir, { recursive: true });
    const inst = await dsv(['docker-plugin', 'install', '--dir', pluginDir]);
    expect(inst.code, inst.all).toBe(0);
    const out = (() => {
      try {
        return { code: 0, text: execFileSync(requireTool('docker'), ['verify', '--policy', policy, '--registries.d', regd, 'app:1'], { env: { ...env, DOCKER_CONFIG: join(work, 'docker-config') }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
      } catch (e) {
        const err = e as { status: number; stdout: string; stderr: string };
        return { code: err.status, text: `${err.stdout}${err.stderr}` };
      }
    })();
    expect(out.code, out.text).toBe(0);
    expect(out.text).toContain('signedBy: satisfied');
  });
});
