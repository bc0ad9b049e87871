// Runs the real dockerd (Debian docker.io) on a private data root, exec root and unix socket, so tests never
// touch a system daemon. Stopped by PID in afterAll.
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { requireTool, run, startProcess, tempDir, type RunningProcess } from './proc.js';

export interface Dockerd {
  /** `unix:///…/docker.sock` — pass as DOCKER_HOST. */
  host: string;
  socket: string;
  /** --data-root: the on-disk store (image/<driver>/…, <driver>/<cache-id>/…). */
  dataRoot: string;
  driver: string;
  /** Environment for the docker CLI / our tools pointing at this daemon (DOCKER_HOST, DOCKER_CONFIG, DSV_DOCKER_ROOT). */
  env: NodeJS.ProcessEnv;
  /** Runs the real docker CLI against this daemon and returns stdout. */
  docker(args: string[], input?: string | Buffer): string;
  process: RunningProcess;
  stop(): Promise<void>;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

export async function startDockerd(opts: { driver?: 'overlay2' | 'vfs' } = {}): Promise<Dockerd> {
  const dockerd = requireTool('dockerd');
  requireTool('docker');
  const driver = opts.driver ?? 'overlay2';
  // Short paths: unix socket paths are limited to ~107 bytes.
  const dir = tempDir('dsvd-');
  const dataRoot = join(dir, 'root');
  const execRoot = join(dir, 'exec');
  const socket = join(dir, 'docker.sock');
  const dockerConfig = join(dir, 'cfg');
  mkdirSync(dataRoot);
  mkdirSync(execRoot);
  mkdirSync(dockerConfig);
  const ns = `dsv${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const args = [
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--host', `unix://${socket}`,
    '--pidfile', join(dir, 'docker.pid'),
    '--storage-driver', driver,
    '--iptables=false', '--ip6tables=false', '--bridge=none',
    '--containerd-namespace', ns,
    '--containerd-plugins-namespace', `${ns}p`,
  ];
  const proc = await startProcess(dockerd, args, {
    name: 'dockerd',
    ready: async () => existsSync(socket) && (await ping(socket)),
    timeoutMs: 90_000,
  });
  const host = `unix://${socket}`;
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig, DSV_DOCKER_ROOT: dataRoot };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  return {
    host,
    socket,
    dataRoot,
    driver: readDriver(dataRoot) ?? driver,
    env,
    docker: (a, input) => run('docker', a, { env, input }),
    process: proc,
    stop: () => proc.stop(),
  };
}

function readDriver(dataRoot: string): string | undefined {
  for (const d of ['overlay2', 'vfs', 'aufs', 'devicemapper']) {
    if (existsSync(join(dataRoot, 'image', d, 'repositories.json')) || existsSync(join(dataRoot, 'image', d))) return d;
  }
  return undefined;
}

/** `docker import` a tar of the given files as NAME:TAG; returns the image id. */
export function importImage(d: Dockerd, name: string, files: Record<string, string>): string {
  const work = tempDir('dsvimp-');
  const rootfs = join(work, 'rootfs');
  mkdirSync(rootfs);
  for (const [p, content] of Object.entries(files)) {
    const full = join(rootfs, p);
    mkdirSync(join(full, '..'), { recursive: true });
    run('sh', ['-c', 'cat > "$1"', 'sh', full], { input: content });
  }
  const tarPath = join(work, 'layer.tar');
  run('tar', ['-C', rootfs, '-cf', tarPath, '.']);
  return d.docker(['import', tarPath, name]).trim();
}

export function readPid(d: Dockerd): number {
  return Number(readFileSync(join(d.dataRoot, '..', 'docker.pid'), 'utf8'));
}
