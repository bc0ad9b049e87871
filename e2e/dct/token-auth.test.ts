// Docker Content Trust behind a registry's token auth, as Docker Hub and most private registries run it: the
// docker-registry and notary-server both accept tokens of the same issuer, `docker login` stores the
// credentials, `docker push` with content trust signs through the notary-server (the docker CLI answers
// its challenge at the registry's realm), and dsv answers the same challenge with the same credentials.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { dockerTrustEnv, startNotaryServer, type NotaryServer } from '../helpers/notary.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let reg: StartedRegistry;
let server: NotaryServer;
let d: Dockerd;
let env: NodeJS.ProcessEnv;
let repo: string;

/** The docker CLI without blocking the event loop: the token issuer answering it runs in this process. */
function dockerAsync(args: string[], e: NodeJS.ProcessEnv, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(' ')} failed (${code}): ${out}`))));
    child.stdin.end(input ?? '');
  });
}

function dsv(args: string[], e: NodeJS.ProcessEnv = env): Promise<Ran> {
  return runNodeScript(join(root, 'apps/cli/bin/dsv.js'), args, { env: e, cwd: tempDir('dsv-dct-token-') });
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [reg, d] = await Promise.all([startRegistry({ mode: 'token' }), startDockerd()]);
  server = await startNotaryServer({ tokenAuth: reg.tokenAuth! });
  repo = `${reg.host}/team/app`;
  env = {
    ...dockerTrustEnv(d.env, server),
    // dsv's registry reads use the same docker config (the trust server's token auth reads it by default).
    DSV_CREDENTIALS_STORE: join(d.env.DOCKER_CONFIG!, 'config.json'),
  };
  await dockerAsync(['login', '--username', reg.username!, '--password-stdin', reg.host], env, reg.password!);
  importImage(d, `${repo}:1`, { 'etc/hello': 'behind token auth\n' });
  await dockerAsync(['push', `${repo}:1`], { ...env, DOCKER_CONTENT_TRUST: '1' });
}, 600_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), server?.stop(), d?.stop()]);
  removeTempDirs();
});

describe('Docker Content Trust behind registry token auth', () => {
  it('dsv verify --dct and dsv trust inspect get a token for the collection with the registry credentials', async () => {
    const before = reg.tokenRequests.length;
    const r = await dsv(['verify', '--dct', `${repo}:1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Verified: ${repo}:1`);
    const asked = reg.tokenRequests.slice(before);
    expect(asked.some((t) => t.granted && t.user === reg.username && t.scopes.includes(`repository:${repo}:pull`))).toBe(true);
    const i = await dsv(['trust', 'inspect', '--json', repo]);
    expect(i.code, i.all).toBe(0);
    expect(JSON.parse(i.stdout).signedTags.map((t: { tag: string; registry: string }) => [t.tag, t.registry])).toEqual([['1', 'matches']]);
  });

  it('without credentials the trust server refuses: an operational failure (exit 3), nothing trusted', async () => {
    const r = await dsv(['verify', '--dct', `${repo}:1`], { ...env, DSV_CREDENTIALS_STORE: join(tempDir('dsv-nocreds-'), 'config.json'), DOCKER_CONFIG: d.env.DOCKER_CONFIG });
    expect(r.code, r.all).toBe(3);
    expect(r.stderr).toMatch(/error: .*(401|token|auth)/i);
  });
});
