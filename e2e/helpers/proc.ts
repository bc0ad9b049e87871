// Shared plumbing for e2e tests: free ports, temp dirs, real server processes stopped by PID.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Fails (never skips) when a real component is missing: tools/setup-system installs them. */
export function requireTool(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/bin', '/sbin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} is not installed: run tools/setup-system (as root)`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const tempDirs: string[] = [];
export function tempDir(prefix = 'dsv-e2e-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a long-running server and resolves once `ready()` returns true (polled), or rejects with the
 * process's output when it exits or the timeout passes.
 */
export async function startProcess(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { ready: () => Promise<boolean>; timeoutMs?: number; name?: string },
): Promise<RunningProcess> {
  // Output goes to a file, never a pipe: tests block their event loop in spawnSync/execFileSync, and a
  // server writing to an undrained pipe would stall once the pipe buffer fills (a deadlock with the client).
  const logFile = join(tempDir('dsv-log-'), `${opts.name ?? 'process'}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, ...opts, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const out = () => {
    try {
      const text = readFileSync(logFile, 'utf8');
      return text.length > 1_000_000 ? text.slice(-1_000_000) : text;
    } catch {
      return '';
    }
  };
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
    await done;
    clearTimeout(t);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`${opts.name ?? cmd} exited during start-up:\n${out().slice(-4000)}`);
    if (await opts.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name ?? cmd} did not become ready:\n${out().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, pid: child.pid!, output: out, stop };
}

/** Runs a command to completion; returns stdout, throws with stderr on failure. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status}): ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  all: string;
}

/** Runs a Node script (a built bin) as a child without blocking the test's event loop; killed after 120 s. */
export function runNodeScript(script: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, all: `${stdout}${stderr}` });
    });
  });
}
