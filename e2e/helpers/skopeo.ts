// skopeo 1.9, the peer dsv is judged against, as the e2e tests run it (one timeout, buffer and way of reporting
// its exit and output), and the registries.d and policy files they hand it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireTool, tempDir } from './proc.js';

/** How a skopeo run ended: its exit code (1 when it was killed) and stdout followed by stderr. */
export interface SkopeoResult {
  code: number;
  out: string;
}

const OPTIONS = { encoding: 'utf8' as const, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 };
const envWith = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...process.env, ...extra });

/** skopeo `args` to completion, never throwing; `env` is added to this process's environment. */
export function skopeo(args: string[], env: NodeJS.ProcessEnv = {}): SkopeoResult {
  try {
    return { code: 0, out: execFileSync(requireTool('skopeo'), args, { ...OPTIONS, env: envWith(env), stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** The same without blocking the event loop, for a test whose own in-process server answers skopeo. */
export function skopeoAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SkopeoResult> {
  return new Promise((resolve) => {
    execFile(requireTool('skopeo'), args, { ...OPTIONS, env: envWith(env) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

const failed = (args: string[], r: SkopeoResult) => new Error(`skopeo ${args.join(' ')} failed (${r.code}): ${r.out}`);

/** skopeo that must succeed: its stdout; a failure throws with its exit code and output. */
export function skopeoOk(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(requireTool('skopeo'), args, { ...OPTIONS, env: envWith(env), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string };
    throw failed(args, { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` });
  }
}

/** skopeoOk without blocking the event loop. */
export async function skopeoOkAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(requireTool('skopeo'), args, { ...OPTIONS, env: envWith(env) }, (err, stdout, stderr) => {
      if (err) reject(failed(args, { code: typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1, out: `${stdout}${stderr}` }));
      else resolve(stdout);
    });
  });
}

/** The options skopeo takes before its command that the e2e tests pass: a containers-policy.json and a registries.d. */
export interface SkopeoGlobals {
  policy?: string;
  registriesD?: string;
}

const globalArgs = (g: SkopeoGlobals): string[] => [...(g.policy ? ['--policy', g.policy] : []), ...(g.registriesD ? ['--registries.d', g.registriesD] : [])];

/**
 * Whether skopeo accepts the registry image `ref` (host/repo:tag, plain HTTP) under the policy in `globals`:
 * `skopeo inspect` does not apply a policy, a copy does, so it copies the image (signatures removed) into a
 * scratch dir: and says whether that succeeded.
 */
export function skopeoAccepts(ref: string, globals: SkopeoGlobals & { policy: string }): boolean {
  return skopeo([...globalArgs(globals), 'copy', '--remove-signatures', '--src-tls-verify=false', `docker://${ref}`, `dir:${tempDir('dsv-skopeo-accepts-')}`]).code === 0;
}

/**
 * A registries.d at `dir` (made) whose default.yaml puts every docker registry's signatures in the lookaside
 * store `store` (read and written); `sigstoreAttachments`: also use-sigstore-attachments. Returns `dir`.
 */
export function lookasideRegistriesD(dir: string, store: string, opts: { sigstoreAttachments?: boolean } = {}): string {
  mkdirSync(dir, { recursive: true });
  const url = pathToFileURL(store).href;
  writeFileSync(join(dir, 'default.yaml'), `default-docker:\n  lookaside: ${url}\n  lookaside-staging: ${url}\n${opts.sigstoreAttachments ? '  use-sigstore-attachments: true\n' : ''}`);
  return dir;
}

/** A containers-policy.json at `path` that accepts anything (skopeo's --policy for pushes and reads). Returns `path`. */
export function insecurePolicy(path: string): string {
  writeFileSync(path, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return path;
}

/** A registries.d at `dir` (made) whose stores.yaml gives each registry host its own lookaside store (read and written). Returns `dir`. */
export function perRegistryLookaside(dir: string, stores: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  const lines = ['docker:'];
  for (const [host, store] of Object.entries(stores)) {
    const url = pathToFileURL(store).href;
    lines.push(`  ${host}:`, `    lookaside: ${url}`, `    lookaside-staging: ${url}`);
  }
  writeFileSync(join(dir, 'stores.yaml'), `${lines.join('\n')}\n`);
  return dir;
}
