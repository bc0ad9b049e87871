// dsv list-tags, dsv inspect --raw / --config, dsv sign --digestfile and --key recognised by content, through the
// BUILT dsv against the real docker-registry, with the real skopeo as the reference for every byte.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';
import { launcher } from '../helpers/cli.js';

const dsvBin = launcher('dsv');

let reg: StartedRegistry;
let work: string;
let env: NodeJS.ProcessEnv;

/** The built dsv; stdout kept as bytes. */
function dsv(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [dsvBin, ...args], { env: { ...env, ...extraEnv }, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

const skopeo = (args: string[]) => run(requireTool('skopeo'), args);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const skopeoRaw = (args: string[]): Buffer => Buffer.from(run(requireTool('skopeo'), args), 'utf8');

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-registry-tools-e2e-');
  env = { PATH: process.env.PATH, HOME: work };
  const single = join(work, 'single');
  writeOciLayout(single, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/tools': 'tools e2e\n' }] }), tag: '1' });
  for (const tag of ['1', '2', '3', 'latest', 'v1.0']) skopeo(['copy', '--quiet', ...reg.skopeoFlags('dest'), `oci:${single}:1`, `docker://${reg.host}/tools/app:${tag}`]);
  const multi = join(work, 'multi');
  const images = [
    await buildSampleImage({ format: 'oci', layers: [{ 'arch.txt': 'amd64\n' }], platform: 'linux/amd64' }),
    await buildSampleImage({ format: 'oci', layers: [{ 'arch.txt': 'arm64\n' }], platform: 'linux/arm64/v8' }),
  ];
  writeOciLayout(multi, { image: buildSampleIndex(images), tag: 'multi' });
  skopeo(['copy', '--quiet', '--all', ...reg.skopeoFlags('dest'), `oci:${multi}:multi`, `docker://${reg.host}/tools/multi:1`]);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('dsv list-tags', () => {
  it('lists what skopeo list-tags lists, in text and JSON; REPO with or without docker://', async () => {
    const expected = (JSON.parse(skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/tools/app`])) as { Tags: string[] }).Tags;
    const text = await dsv(['list-tags', `docker://${reg.host}/tools/app`]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toBe(expected.map((t) => `${t}\n`).join(''));
    const json = await dsv(['list-tags', '--json', `${reg.host}/tools/app`]);
    expect(expectValidReport('list-tags', json.stdout.toString())).toEqual({ schemaVersion: 1, command: 'list-tags', ok: true, repository: `${reg.host}/tools/app`, tags: expected, truncated: false, limit: 10000 });
  });

  it('stops at --limit and says so (stderr in text, truncated in JSON)', async () => {
    const r = await dsv(['list-tags', '--limit', '3', `${reg.host}/tools/app`]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString().split('\n').filter(Boolean)).toHaveLength(3);
    expect(r.stderr).toBe(`dsv list-tags: note: ${reg.host}/tools/app has more than 3 tags; only the first 3 are listed (--limit N for more)\n`);
    const j = JSON.parse((await dsv(['list-tags', '--json', '--limit', '5', `${reg.host}/tools/app`])).stdout.toString()) as { tags: string[]; truncated: boolean };
    expect(j.tags).toHaveLength(5);
    expect(j.truncated).toBe(false);
  });

  it('refuses a tag, a digest, another transport and a bad --limit (exit 2); an unknown repository is the registry\'s NotFound', async () => {
    for (const [args, message] of [
      [[`${reg.host}/tools/app:1`], `"${reg.host}/tools/app:1" names a tag or digest: give the repository alone (docker://HOST/REPO)`],
      [[`oci:${work}/single`], `list-tags lists registry repositories (docker://HOST/REPO), not "oci:${work}/single"`],
      [['--limit', '0', `${reg.host}/tools/app`], 'invalid --limit "0": a whole number from 1 to 1000000'],
    ] as const) {
      const r = await dsv(['list-tags', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`dsv list-tags: error: ${message}\ndsv list-tags: see dsv list-tags --help\n`);
    }
    const missing = await dsv(['list-tags', `${reg.host}/tools/nothing-here`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^dsv list-tags: error: .*tools\/nothing-here/);
    const missingJson = await dsv(['list-tags', '--json', `${reg.host}/tools/nothing-here`]);
    expect(missingJson.code).toBe(missing.code);
    expect(expectValidReport('list-tags', missingJson.stdout.toString())).toMatchObject({ command: 'list-tags', ok: false, error: { code: expect.any(String) } });
  });
});

describe('dsv inspect --raw / --config', () => {
  it('prints exactly the bytes skopeo inspect --raw prints, and nothing else (manifest, index, child by digest)', async () => {
    for (const ref of [`${reg.host}/tools/app:1`, `${reg.host}/tools/multi:1`]) {
      const raw = await dsv(['inspect', '--raw', ref]);
      expect(raw.stderr).toBe('');
      expect(raw.code).toBe(0);
      expect(raw.stdout.equals(skopeoRaw(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]))).toBe(true);
      const inspected = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])) as unknown;
      expect(inspected).toBeTruthy();
      const digest = (await dsv(['inspect', '--json', ref])).stdout.toString();
      expect(digest).toContain(sha256(raw.stdout));
    }
    const index = JSON.parse((await dsv(['inspect', '--raw', `${reg.host}/tools/multi:1`])).stdout.toString()) as { manifests: Array<{ digest: string }> };
    const child = await dsv(['inspect', '--raw', `docker://${reg.host}/tools/multi@${index.manifests[1]!.digest}`]);
    expect(sha256(child.stdout)).toBe(index.manifests[1]!.digest);
  });

  it('--config prints the configuration\'s exact bytes (skopeo inspect --config --raw); a list needs --platform', async () => {
    const cfg = await dsv(['inspect', '--config', `${reg.host}/tools/app:1`]);
    expect(cfg.code).toBe(0);
    expect(cfg.stdout.equals(skopeoRaw(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${reg.host}/tools/app:1`]))).toBe(true);
    const manifest = JSON.parse((await dsv(['inspect', '--raw', `${reg.host}/tools/app:1`])).stdout.toString()) as { config: { digest: string } };
    expect(sha256(cfg.stdout)).toBe(manifest.config.digest);
    const multi = await dsv(['inspect', '--config', `${reg.host}/tools/multi:1`]);
    expect(multi.code).toBe(2);
    expect(multi.stderr).toBe(`dsv: error: docker://${reg.host}/tools/multi:1 is a multi-platform image (linux/amd64, linux/arm64/v8): give --platform os/arch[/variant] to say whose configuration\n`);
    const arm = await dsv(['--platform', 'linux/arm64/v8', 'inspect', '--config', `${reg.host}/tools/multi:1`]);
    expect(arm.code).toBe(0);
    expect(JSON.parse(arm.stdout.toString())).toMatchObject({ architecture: 'arm64', os: 'linux' });
    expect(arm.stdout.equals(skopeoRaw(['inspect', '--config', '--raw', '--tls-verify=false', '--override-arch', 'arm64', '--override-variant', 'v8', `docker://${reg.host}/tools/multi:1`]))).toBe(true);
    const both = await dsv(['inspect', '--raw', '--config', `${reg.host}/tools/app:1`]);
    expect(both.code).toBe(2);
  });
});

describe('dsv sign --digestfile and --key by content', () => {
  it('signs with a PEM key given without -t pki, and writes the digest of the manifest stored at DEST', async () => {
    const o = (args: string[]) => run(requireTool('openssl'), args, { cwd: work });
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.pem', '-days', '2', '-subj', '/CN=dsv tools e2e']);
    const keypair = join(work, 'keypair.pem');
    writeFileSync(keypair, readFileSync(join(work, 'leaf.key'), 'utf8') + readFileSync(join(work, 'leaf.pem'), 'utf8'));
    const digestFile = join(work, 'sign.digest');
    const r = await dsv(['sign', '--key', keypair, '--digestfile', digestFile, `${reg.host}/tools/app:1`, `${reg.host}/tools/app:signed`], { DSV_KEYPASS: '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const stored = (JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/tools/app:signed`])) as { Digest: string }).Digest;
    expect(readFileSync(digestFile, 'utf8')).toBe(stored);
    const v = await dsv(['verify', '--trust', join(work, 'leaf.pem'), `${reg.host}/tools/app:signed`]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const wrongType = await dsv(['sign', '-t', 'gpg', '--key', keypair, `${reg.host}/tools/app:1`, `${reg.host}/tools/app:never`], { DSV_KEYPASS: '' });
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toBe(`dsv: error: --key ${keypair} is a PEM private key (a pki key), but the key type given is gpg: give -t pki or leave the type out\n`);
  });
});
