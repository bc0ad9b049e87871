// A throwaway docker-registry for the bench: a free port on 127.0.0.1, storage in a temp dir, its own process
// group (stop() signals the group and removes the dir); `pid` lets a row read the registry's CPU from /proc.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export const portOpen = (port) =>
  new Promise((res) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), res(true)));
    c.once('error', () => res(false));
  });

/** `prefix` names its temp dir; rows pass startRegistry itself as a prepare step, which is given the run's index. */
export async function startRegistry({ prefix = 'dsv-bench-reg-' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('/usr/bin/docker-registry', ['serve', cfg], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 200 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    host: `127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
