// Registry credentials from a docker config.json: credential helpers (docker-credential-<name>), then its auths entries.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DsvError } from '@dsv/core/formats';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken` in config.json, or a helper's `<token>` user). */
  identityToken?: string;
}

/** Registry names that all mean Docker Hub. */
export const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** The key docker uses for Docker Hub in config.json and credential helpers. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_NAMES.has(registry.toLowerCase());
}

/** The credentials store docker uses when none is configured: `<home>/.docker/config.json`. */
export function defaultCredentialsStore(home: string): string {
  return join(home, '.docker', 'config.json');
}

/** PATH for credential helpers when no environment is given for them. */
export const DEFAULT_HELPER_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The environment credential helpers get when none is given: the standard PATH and the user's HOME, nothing else. */
export function defaultChildEnv(home: string): Record<string, string> {
  return { PATH: DEFAULT_HELPER_PATH, HOME: home };
}

/** The environment a child process gets (SystemContext.childEnv). */
export type ChildEnv = Readonly<Record<string, string | undefined>>;

/** `https://host:port/v1/` → `host:port`; plain `host:port` unchanged. */
export function normaliseAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return k.toLowerCase();
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string } | null>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/**
 * Finds credentials for `registry` (host[:port], as in references) in a docker config.json:
 * `credHelpers[registry]`, then `credsStore`, through the real `docker-credential-<name>` programs;
 * then `auths` (keys by host[:port] or legacy `https://host/v1/` URLs; `auth` = base64 user:pass,
 * `identitytoken`). Returns undefined when the store or an entry is absent. Helpers run with `childEnv`
 * (default: PATH=DEFAULT_HELPER_PATH only).
 */
export async function resolveCredentials(
  registry: string,
  opts: { credentialsStore: string; childEnv?: ChildEnv; debug?: (m: string) => void },
): Promise<Credentials | undefined> {
  const path = opts.credentialsStore;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DsvError('IoError', `credentials store ${path}: cannot read it`, { path }, { cause: e });
  }
  let config: DockerConfig;
  try {
    config = JSON.parse(text) as DockerConfig;
  } catch {
    throw new DsvError('IoError', `credentials store ${path}: not valid JSON`, { path });
  }
  if (!config || typeof config !== 'object') throw new DsvError('IoError', `credentials store ${path}: not a JSON object`, { path });

  const hub = isDockerHub(registry);
  const wanted = hub ? new Set([...DOCKER_HUB_NAMES]) : new Set([registry.toLowerCase()]);
  const serverUrl = hub ? DOCKER_HUB_CONFIG_KEY : registry;

  const helperFor = (): string | undefined => {
    const helpers = config.credHelpers ?? {};
    for (const [k, v] of Object.entries(helpers)) if (typeof v === 'string' && wanted.has(normaliseAuthKey(k))) return v;
    return typeof config.credsStore === 'string' && config.credsStore ? config.credsStore : undefined;
  };
  const helper = helperFor();
  if (helper) {
    opts.debug?.(`credentials for ${registry}: asking docker-credential-${helper}`);
    const found = await credentialHelperGet(helper, serverUrl, opts.childEnv ?? { PATH: DEFAULT_HELPER_PATH });
    if (found) return found;
  }

  const auths = config.auths ?? {};
  // Exact keys first, then normalised (legacy URL) keys.
  const keys = Object.keys(auths);
  const ordered = [
    ...keys.filter((k) => wanted.has(k.toLowerCase())),
    ...keys.filter((k) => !wanted.has(k.toLowerCase()) && wanted.has(normaliseAuthKey(k))),
  ];
  for (const k of ordered) {
    const entry = auths[k];
    if (!entry || typeof entry !== 'object') continue;
    const creds: Credentials = {};
    if (typeof entry.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new DsvError('AuthFailed', `credentials store ${path}: the auth entry for ${normaliseAuthKey(k)} is not base64 user:password`, { path, registry });
      creds.username = decoded.slice(0, colon);
      creds.password = decoded.slice(colon + 1);
    } else if (typeof entry.username === 'string') {
      creds.username = entry.username;
      if (typeof entry.password === 'string') creds.password = entry.password;
    }
    if (typeof entry.identitytoken === 'string' && entry.identitytoken) creds.identityToken = entry.identitytoken;
    if (creds.username !== undefined || creds.identityToken !== undefined) {
      opts.debug?.(`credentials for ${registry}: from ${path} (${k.startsWith('http') ? 'legacy URL key' : 'host key'})`);
      return creds;
    }
  }
  return undefined;
}

/**
 * Credentials for `registry` from the first of `files` (docker config.json or containers auth.json, same
 * `auths` / `credHelpers` / `credsStore` format) that has an entry for it, with that file's path.
 */
export async function resolveCredentialsInFiles(
  registry: string,
  opts: { files: readonly string[]; childEnv?: ChildEnv; debug?: (m: string) => void },
): Promise<{ credentials: Credentials; file: string } | undefined> {
  for (const file of opts.files) {
    const found = await resolveCredentials(registry, { credentialsStore: file, ...(opts.childEnv ? { childEnv: opts.childEnv } : {}), ...(opts.debug ? { debug: opts.debug } : {}) });
    if (found) return { credentials: found, file };
    opts.debug?.(`credentials for ${registry}: none in ${file}`);
  }
  return undefined;
}

/**
 * Runs `docker-credential-<helper> get` with the server URL on stdin; parses {Username, Secret}.
 * "credentials not found" (in any case) is undefined, not an error. It runs with exactly `childEnv`.
 */
export async function credentialHelperGet(helper: string, serverUrl: string, childEnv: ChildEnv, timeoutMs = 30_000): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(helper)) {
    throw new DsvError('AuthFailed', `credential helper name "${helper.slice(0, 60)}" is not valid`, { helper: helper.slice(0, 60) });
  }
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr, spawnError } = await new Promise<{ code: number | null; stdout: string; stderr: string; spawnError?: NodeJS.ErrnoException }>((resolve) => {
    let out = '';
    let err = '';
    let child;
    try {
      child = spawn(program, ['get'], { env: { ...childEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: null, stdout: '', stderr: '', spawnError: e as NodeJS.ErrnoException });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (out.length < 1024 * 1024) out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 64 * 1024) err += b.toString('utf8');
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: out, stderr: err, spawnError: e as NodeJS.ErrnoException });
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout: out, stderr: err });
    });
    child.stdin.on('error', () => {
      /* the helper may exit without reading */
    });
    child.stdin.end(serverUrl);
  });
  if (spawnError) {
    throw new DsvError('AuthFailed', `credential helper ${program} could not be run (${spawnError.code ?? 'error'})`, { helper: program });
  }
  if (code !== 0) {
    if (/credentials not found/i.test(stdout) || /credentials not found/i.test(stderr)) return undefined;
    // Helper output may echo secrets in odd cases: never include it.
    throw new DsvError('AuthFailed', `credential helper ${program} failed with exit code ${code}`, { helper: program, exitCode: code });
  }
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw new DsvError('AuthFailed', `credential helper ${program} printed something that is not JSON`, { helper: program });
  }
  const username = typeof doc.Username === 'string' ? doc.Username : '';
  const secret = typeof doc.Secret === 'string' ? doc.Secret : '';
  if (!secret) return undefined;
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}
