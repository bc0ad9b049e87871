// --timeout beyond the registry, through the BUILT bins: a Docker Engine API that accepts requests and
// never answers, and a containerd socket that accepts connections and never speaks gRPC. In-process fakes
// on unix sockets in a temp dir: a real dockerd or containerd cannot be made to stall on purpose.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, runNodeScript, tempDir } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';

const bins = {
  dsv: launcher('dsv'),
  'docker-verify': launcher('docker-verify'),
  'dsv-copy': launcher('dsv-copy'),
};

let dir: string;
let env: NodeJS.ProcessEnv;
const closers: Array<() => Promise<void>> = [];
const seen: string[] = [];

beforeAll(async () => {
  dir = tempDir('dsv-timeouts-');
  // The Engine API: reads every request, answers none.
  const engine: Server = createHttpServer((req) => {
    seen.push(`${req.method} ${req.url}`);
  });
  const engineSock = join(dir, 'docker.sock');
  await new Promise<void>((r) => engine.listen(engineSock, () => r()));
  closers.push(async () => {
    engine.closeAllConnections();
    await new Promise((r) => engine.close(r));
  });
  // containerd: accepts connections, says nothing.
  const sockets: Socket[] = [];
  const containerd = createNetServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  const containerdSock = join(dir, 'containerd.sock');
  await new Promise<void>((r) => containerd.listen(containerdSock, () => r()));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => containerd.close(() => r(undefined)));
  });
  env = {
    ...process.env,
    HOME: dir,
    DOCKER_HOST: `unix://${engineSock}`,
    CONTAINERD_ADDRESS: containerdSock,
    CONTAINERD_NAMESPACE: 'dsv-e2e',
    DSV_DOCKER_ROOT: join(dir, 'no-docker-root'),
  };
  for (const k of ['DSV_TIMEOUT', 'DSV_SIGNER_PLUGINS', 'DOCKER_TLS_VERIFY', 'DOCKER_CONTEXT']) delete env[k];
});

afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  removeTempDirs();
});

async function timed(bin: keyof typeof bins, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const started = Date.now();
  const r = await runNodeScript(bins[bin], args, { env: { ...env, ...extraEnv }, cwd: dir });
  return { ...r, ms: Date.now() - started };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('--timeout with a Docker daemon that never answers', () => {
  it('dsv verify, docker-verify repository and dsv-copy end with 3, naming the daemon and the request', async () => {
    const runs = await Promise.all([
      timed('dsv', ['verify', '--timeout', '1s', 'docker-daemon:app:1']),
      timed('docker-verify', ['--timeout', '1s', 'repository', 'app:1']),
      timed('dsv-copy', ['--timeout', '1s', 'docker-daemon:app:1', `oci:${join(dir, 'out')}:v1`]),
    ]);
    for (const r of runs) {
      expect(r.code, r.all).toBe(3);
      expect(r.stderr, r.all).toMatch(new RegExp(`error: .*Docker daemon at unix://${esc(dir)}/docker\\.sock: .*no answer within 1 s \\(request deadline; --timeout\\)`));
      expect(r.ms).toBeLessThan(30_000);
    }
    expect(seen.length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('DSV_TIMEOUT applies the same deadline', async () => {
    const r = await timed('dsv', ['inspect', 'docker-daemon:app:1'], { DSV_TIMEOUT: '1500ms' });
    expect(r.code, r.all).toBe(3);
    expect(r.stderr).toMatch(/no answer within 1\.5 s \(request deadline; --timeout\)/);
  }, 60_000);
});

describe('--timeout with a containerd socket that never speaks gRPC', () => {
  it('dsv verify and dsv-copy end with 3 at the deadline (default 60 s), naming the call', async () => {
    const runs = await Promise.all([
      timed('dsv', ['verify', '--timeout', '2s', 'containerd:docker.io/library/app:1']),
      timed('dsv-copy', ['--timeout', '2s', 'containerd:docker.io/library/app:1', `oci:${join(dir, 'out2')}:v1`]),
    ]);
    for (const r of runs) {
      expect(r.code, r.all).toBe(3);
      expect(r.stderr, r.all).toMatch(/error: .*containerd at .*containerd\.sock: images\.Get: no answer within 2 s \(request deadline; --timeout\)/);
      expect(r.ms).toBeLessThan(30_000);
    }
  }, 120_000);
});
