/**
 * The environment the dsv context is built from when the Docker CLI runs us: the endpoint the CLI
 * resolved (-H, --context, DOCKER_HOST, DOCKER_CONTEXT, currentContext) as DOCKER_HOST /
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, and registry credentials from the docker config dir.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { DockerEndpoint } from './docker-context.js';

export interface PluginEnv {
  env: NodeJS.ProcessEnv;
  /** Removes anything made for this run (a cert directory of links). */
  cleanup(): void;
}

const CERT_NAMES = { caFile: 'ca.pem', certFile: 'cert.pem', keyFile: 'key.pem' } as const;

/**
 * DOCKER_CERT_PATH semantics: one directory holding ca.pem, cert.pem and key.pem. When --tlscacert /
 * --tlscert / --tlskey name other files, a private temporary directory of symbolic links is made.
 */
function certDirFor(ep: DockerEndpoint): { dir?: string; temp?: string } {
  const files = Object.entries(CERT_NAMES).filter(([k]) => ep[k as keyof typeof CERT_NAMES] !== undefined);
  if (files.length === 0) return ep.certPath ? { dir: ep.certPath } : {};
  const standard = files.every(([k, name]) => ep.certPath !== undefined && resolve(ep[k as keyof typeof CERT_NAMES]!) === resolve(ep.certPath, name));
  if (standard && ep.certPath) return { dir: ep.certPath };
  const temp = mkdtempSync(join(tmpdir(), 'dsv-docker-tls-'));
  for (const [k, name] of files) {
    const target = resolve(ep[k as keyof typeof CERT_NAMES]!);
    if (existsSync(target)) symlinkSync(target, join(temp, name));
  }
  // Files not given fall back to the standard names of the cert path, as the docker CLI does.
  if (ep.certPath) {
    for (const [k, name] of Object.entries(CERT_NAMES)) {
      if (ep[k as keyof typeof CERT_NAMES] === undefined && existsSync(join(ep.certPath, name))) symlinkSync(resolve(ep.certPath, name), join(temp, name));
    }
  }
  return { dir: temp, temp };
}

export function buildPluginEnv(ep: DockerEndpoint, base: NodeJS.ProcessEnv): PluginEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.DOCKER_HOST;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  env.DOCKER_HOST = ep.host;
  if (ep.tlsVerify) env.DOCKER_TLS_VERIFY = '1';
  const certs = certDirFor(ep);
  if (certs.dir) env.DOCKER_CERT_PATH = certs.dir;
  if (!env.DSV_CREDENTIALS_STORE) env.DSV_CREDENTIALS_STORE = join(ep.configDir, 'config.json');
  return {
    env,
    cleanup() {
      if (certs.temp && dirname(certs.temp) === tmpdir()) rmSync(certs.temp, { recursive: true, force: true });
    },
  };
}
