// The docker-credential-<name> store / erase protocol (get is in @dsv/source-registry): JSON or the server URL on stdin.
import { spawn } from 'node:child_process';
import { DsvError } from '@dsv/core/formats';

export type ChildEnv = Readonly<Record<string, string | undefined>>;

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; its output is never shown (it may echo secrets). */
export async function runCredentialHelper(helper: string, action: 'store' | 'erase', input: string, childEnv: ChildEnv, timeoutMs = 30_000): Promise<{ code: number | null; notFound: boolean }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(helper)) {
    throw new DsvError('Usage', `credential helper name "${helper.slice(0, 60)}" is not valid`, { helper: helper.slice(0, 60) });
  }
  const program = `docker-credential-${helper}`;
  const r = await new Promise<{ code: number | null; out: string; spawnError?: NodeJS.ErrnoException }>((resolve) => {
    let out = '';
    const child = spawn(program, [action], { env: { ...childEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const take = (b: Buffer) => {
      if (out.length < 64 * 1024) out += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, out, spawnError: e as NodeJS.ErrnoException });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
  if (r.spawnError) throw new DsvError('AuthFailed', `credential helper ${program} could not be run (${r.spawnError.code ?? 'error'}): is it on PATH?`, { helper: program });
  const notFound = /credentials not found/i.test(r.out);
  if (r.code !== 0 && !(action === 'erase' && notFound)) {
    throw new DsvError('AuthFailed', `credential helper ${program} ${action} failed with exit code ${r.code}`, { helper: program, exitCode: r.code });
  }
  return { code: r.code, notFound };
}
