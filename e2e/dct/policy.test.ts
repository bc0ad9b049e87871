// `dsv verify --policy` with the dockerContentTrust requirement (the built launcher) against Docker Content
// Trust as the docker CLI 28 writes it: a private dockerd pushes to a real docker-registry and the docker CLI
// with DOCKER_CONTENT_TRUST=1 signs through a real notary-server (the setup of docker-trust.test.ts, minimal).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { dockerTrustEnv, pushTrustTags, startNotaryServer, type NotaryServer } from '../helpers/notary.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

let reg: StartedRegistry;
let server: NotaryServer;
let d: Dockerd;
let work: string;
let repo: string;
let trustEnv: NodeJS.ProcessEnv;

function dsv(args: string[], env: NodeJS.ProcessEnv = trustEnv): Promise<Ran> {
  return runNodeScript(join(root, 'apps/cli/bin/dsv.js'), args, { env, cwd: work });
}
function policy(name: string, requirement: object): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [repo]: [requirement] } } }));
  return path;
}
async function digestOf(tag: string): Promise<string> {
  const res = await fetch(`http://${reg.host}/v2/app/dctpolicy/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  return res.headers.get('docker-content-digest')!;
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [reg, server, d] = await Promise.all([startRegistry({ mode: 'http' }), startNotaryServer({ certDays: 30 }), startDockerd()]);
  work = tempDir('dsv-dct-policy-');
  repo = `${reg.host}/app/dctpolicy`;
  // The docker CLI trusts the notary server's CA from $DOCKER_CONFIG/tls/<host:port>/ca.crt; so does dsv.
  trustEnv = dockerTrustEnv(d.env, server);
  pushTrustTags(d, trustEnv, repo);
}, 600_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), server?.stop(), d?.stop()]);
  removeTempDirs();
});

describe('dsv verify --policy with {"type":"dockerContentTrust"}', () => {
  it('a tag signed by docker push passes (server from DOCKER_CONTENT_TRUST_SERVER, or the requirement)', async () => {
    const r = await dsv(['verify', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('dockerContentTrust: satisfied');
    expect(r.stdout).toContain(`${repo}:v1 signed in targets at ${server.url}`);
    const j = await dsv(['verify', '--json', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}:v1`]);
    expect(j.code, j.all).toBe(0);
    expect(j.stdout).toContain(await digestOf('v1'));
    // The requirement's server wins; without it and without DOCKER_CONTENT_TRUST_SERVER, docker's default (https://<registry>) has no server.
    const env = { ...trustEnv };
    delete env.DOCKER_CONTENT_TRUST_SERVER;
    const s = await dsv(['verify', '--policy', policy('server.json', { type: 'dockerContentTrust', server: server.url }), `${repo}:v1`], env);
    expect(s.code, s.all).toBe(0);
    const dflt = await dsv(['verify', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}:v1`], env);
    expect(dflt.code, dflt.all).toBe(1);
    expect(dflt.stdout).toContain('dockerContentTrust: NOT satisfied');
    expect(dflt.stdout).toContain(`https://${reg.host}`);
  });

  it('an unsigned tag fails (exit 1) naming why', async () => {
    const r = await dsv(['verify', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}:unsigned`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('dockerContentTrust: NOT satisfied');
    expect(r.stdout).toContain(`no signed trust data for ${repo}:unsigned`);
  });

  it('a tag re-pushed without signing fails (exit 1): the signed target is another manifest', async () => {
    const now = await digestOf('repushed');
    const r = await dsv(['verify', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}:repushed`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('dockerContentTrust: NOT satisfied');
    expect(r.stdout).toMatch(new RegExp(`the signature is for manifest sha256:[0-9a-f]{64}, the image's is ${now}`));
  });

  it("a pulled image (docker-daemon:) is judged by the registry tag it came from", async () => {
    const path = join(work, 'local.json');
    writeFileSync(path, JSON.stringify({ default: [{ type: 'dockerContentTrust' }] }));
    const r = await dsv(['verify', '--policy', path, `docker-daemon:${repo}:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('dockerContentTrust: satisfied');
    const u = await dsv(['verify', '--policy', path, `docker-daemon:${repo}:unsigned`]);
    expect(u.code, u.all).toBe(1);
    expect(u.stdout).toContain('dockerContentTrust: NOT satisfied');
  });

  it('an image named by digest fails (exit 1): DCT signs tags', async () => {
    const r = await dsv(['verify', '--policy', policy('dct.json', { type: 'dockerContentTrust' }), `${repo}@${await digestOf('v1')}`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stdout).toContain('Docker Content Trust signs tags');
  });

  it('an unknown field in the requirement: policy invalid, exit 2', async () => {
    const r = await dsv(['verify', '--policy', policy('bad.json', { type: 'dockerContentTrust', keyPath: '/k' }), `${repo}:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('unknown field "keyPath"');
  });
});
