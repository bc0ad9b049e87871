// How many Engine API requests `docker sign` costs on a local image: the real docker 28 CLI runs the
// installed plugin against the real dockerd, through an in-process unix-socket proxy that counts the
// requests passing it (a tap on the real traffic, not a fake daemon). A 4-layer image whose layers the
// export lists in another order than the manifest: the sign reads the export exactly once (the source
// spools it to a temp file while scanning it, then serves every blob from the spool in any order).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPlugins } from '@dsv/docker-plugin';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';

const GPG_PASS = 'engine-requests-passphrase';

/** A unix-socket proxy to dockerd that records each HTTP request line sent to it. */
function countingProxy(target: string, socket: string): Promise<{ requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((client) => {
    const upstream = createConnection(target);
    // Request lines are found in the client's byte stream (bodies of ours never hold one); a line may
    // straddle two chunks, so a tail of the previous chunk is kept.
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      for (const m of text.matchAll(/(?:^|\r\n)(GET|HEAD|POST|PUT|DELETE) (\/\S*) HTTP\/1\.[01]\r\n/g)) requests.push(`${m[1]} ${m[2]}`);
      tail = text.slice(-300);
      // A match inside the kept tail must not be counted twice.
      const last = tail.lastIndexOf('\r\n');
      tail = last >= 0 ? tail.slice(last) : tail;
    });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(socket, () => resolve({ requests, server })));
}

/** The docker CLI, asynchronously (the proxy runs in this process). */
function docker(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; all: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(requireTool('docker'), args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let all = '';
    p.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      all += c.toString();
    });
    p.stderr.on('data', (c: Buffer) => (all += c.toString()));
    p.on('close', (code) => resolve({ code, all, stdout }));
  });
}

/** Layer entries as `docker save` writes them, and as its manifest.json lists them. */
const exportOrder = () => run('sh', ['-c', 'docker save dsv-engine/four:1 | tar t'], { env: d.env }).split('\n').filter((l) => l.endsWith('/layer.tar'));
const manifestOrder = (): string[] => JSON.parse(run('sh', ['-c', 'docker save dsv-engine/four:1 | tar xO manifest.json'], { env: d.env }))[0].Layers;

let d: Dockerd;
let gpg: GpgHome;
let work: string;
let proxy: { requests: string[]; server: Server };
let env: NodeJS.ProcessEnv;
let passFile: string;

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  d = await startDockerd();
  work = tempDir('dsv-engine-req-');
  gpg = makeGpgHome({ withKey: { name: 'Engine Requests', email: 'engine-requests@dsv.invalid', passphrase: GPG_PASS } });
  passFile = join(work, 'passphrase');
  writeFileSync(passFile, `${GPG_PASS}\n`, { mode: 0o600 });
  // Four layers of different sizes (the legacy builder: one layer per COPY). docker save names layer
  // directories by an id made from their content and config, so their order in the export is random: built
  // again until it is not the manifest's (1 in 24 builds), else this would prove little.
  const ctx = join(work, 'ctx');
  run('mkdir', ['-p', ctx]);
  const sizes = [40_000, 400_000, 4_000, 120_000];
  writeFileSync(join(ctx, 'Dockerfile'), `FROM scratch\n${sizes.map((_, i) => `COPY f${i} /f${i}\n`).join('')}`);
  for (let attempt = 0; attempt < 8; attempt++) {
    sizes.forEach((n, i) => writeFileSync(join(ctx, `f${i}`), randomBytes(n)));
    run('docker', ['build', '-q', '-t', 'dsv-engine/four:1', ctx], { env: { ...d.env, DOCKER_BUILDKIT: '0' } });
    if (exportOrder().join() !== manifestOrder().join()) break;
  }
  const proxySocket = join(work, 'p.sock');
  proxy = await countingProxy(d.socket, proxySocket);
  env = { PATH: process.env.PATH, HOME: work, DOCKER_HOST: `unix://${proxySocket}`, DOCKER_CONFIG: d.env.DOCKER_CONFIG, DSV_GPG_DATASTORE: gpg.home };
  installPlugins({ dir: join(d.env.DOCKER_CONFIG!, 'cli-plugins') });
}, 300_000);

afterAll(async () => {
  await new Promise((r) => proxy?.server.close(r));
  await d?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('docker sign on a local 4-layer image', () => {
  it('exports the image once in all; six Engine requests in all', async () => {
    const info = JSON.parse(d.docker(['image', 'inspect', 'dsv-engine/four:1']))[0];
    expect(info.RootFS.Layers).toHaveLength(4);
    // The export lists layer directories by name, not in manifest order (see beforeAll).
    expect(exportOrder()).toHaveLength(4);
    expect(exportOrder()).not.toEqual(manifestOrder());

    proxy.requests.length = 0;
    const r = await docker(['sign', '-k', gpg.keyId, '--passphrase-file', passFile, 'dsv-engine/four:1', 'dsv-engine/four:signed'], env, work);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Integrity check passed.');
    const all = proxy.requests.join('\n');
    const exports = proxy.requests.filter((q) => /^GET (?:\/v[0-9.]+)?\/images\/[^/]+\/get$/.test(q));
    expect(exports, all).toHaveLength(1);
    // By image id, so a tag moved meanwhile cannot change what is read.
    expect(exports[0], all).toContain(encodeURIComponent(info.Id));
    // Every request, API version prefixes and ids aside: the docker CLI's own ping; two inspects of the
    // name (the plugin's "is the image local?" probe, then the copy's source); the one export; the signed
    // image goes in with one load and one tag. Five besides the export.
    const shapes = proxy.requests.map((q) => q.replace(/ \/v[0-9.]+\//, ' /').replace(/sha256%3A[0-9a-f]{64}/g, 'ID'));
    expect(shapes, all).toEqual([
      'HEAD /_ping',
      'GET /images/dsv-engine/four%3A1/json',
      'GET /images/dsv-engine/four%3A1/json',
      'GET /images/ID/get',
      'POST /images/load?quiet=1',
      'POST /images/ID/tag?repo=dsv-engine%2Ffour&tag=signed',
    ]);

    const v = await docker(['verify', 'dsv-engine/four:signed'], env, work);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toContain('Signature check passed.');
  });
});
