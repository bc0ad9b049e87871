// The real notary-server (memory storage, its local signing service for timestamps) over TLS with a CA
// made here with openssl, the real `notary` client in a private trust dir with passphrases from the env, and
// the docker CLI's content trust setup (its CA trust, passphrases, the tags the DCT command tests push).
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { importImage, type Dockerd } from './dockerd.js';
import { freePort, requireTool, run, startProcess, tempDir, type RunningProcess } from './proc.js';
import { makeTestTls } from './tls.js';

export interface NotaryServer {
  url: string;
  caCert: string;
  stop(): Promise<void>;
}

/**
 * `certDays`: the test CA's and server certificate's lifetime (a test that moves the clock on needs more
 * than the default 2). `tokenAuth`: accept a registry token issuer's tokens (notary-server's `auth.token`).
 */
export async function startNotaryServer(opts: { certDays?: number; tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string } } = {}): Promise<NotaryServer> {
  const dir = tempDir('dsv-notary-');
  const tls = makeTestTls(dir, { cn: 'dsv notary e2e CA', days: opts.certDays ?? 2 });
  const port = await freePort();
  const config = join(dir, 'server.json');
  writeFileSync(config, JSON.stringify({
    server: { http_addr: `127.0.0.1:${port}`, tls_key_file: tls.serverKey, tls_cert_file: tls.serverCert },
    trust_service: { type: 'local', hostname: '', port: '', key_algorithm: 'ecdsa' },
    logging: { level: 'info' },
    storage: { backend: 'memory' },
    ...(opts.tokenAuth
      ? { auth: { type: 'token', options: { realm: opts.tokenAuth.realm, service: opts.tokenAuth.service, issuer: opts.tokenAuth.issuer, rootcertbundle: opts.tokenAuth.rootCertBundle } } }
      : {}),
  }));
  const ca = readFileSync(tls.caCert, 'utf8');
  const proc: RunningProcess = await startProcess(requireTool('notary-server'), ['-config', config, '-logf', 'logfmt'], {
    name: 'notary-server',
    ready: () => new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    }),
  });
  return { url: `https://127.0.0.1:${port}`, caCert: tls.caCert, stop: () => proc.stop() };
}

/** The passphrases the `notary` client reads for its keys, unless a test gives its own. */
const NOTARY_PASSPHRASES = {
  NOTARY_ROOT_PASSPHRASE: 'root-pass', NOTARY_TARGETS_PASSPHRASE: 'targets-pass',
  NOTARY_SNAPSHOT_PASSPHRASE: 'snapshot-pass', NOTARY_DELEGATION_PASSPHRASE: 'delegation-pass',
};

export interface NotaryClientRun {
  trustDir: string;
  run(args: string[], input?: string): string;
}

/**
 * The `notary` client against `server`, in its own trust dir (or `trustDir`: docker's own, to sign with the
 * keys the docker CLI made), with `passphrases` (NOTARY_*_PASSPHRASE) instead of the defaults when given.
 */
export function notaryClient(server: NotaryServer, opts: { trustDir?: string; passphrases?: Record<string, string> } = {}): NotaryClientRun {
  const trustDir = opts.trustDir ?? tempDir('dsv-notary-client-');
  const env = { ...process.env, ...(opts.passphrases ?? NOTARY_PASSPHRASES) };
  return {
    trustDir,
    run: (args, input) => run(requireTool('notary'), ['-s', server.url, '-d', trustDir, '--tlscacert', server.caCert, ...args], { env, input }),
  };
}

/** Every manifest and index media type, as an Accept header. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The manifest a plain-HTTP registry serves for `gun:tag` (`host:port/repo`), its digest and length. */
export async function servedManifest(gun: string, tag: string): Promise<{ body: Uint8Array; digest: string; length: number }> {
  const slash = gun.indexOf('/');
  const res = await fetch(`http://${gun.slice(0, slash)}/v2/${gun.slice(slash + 1)}/manifests/${tag}`, { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) throw new Error(`GET manifest ${gun}:${tag}: HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return { body, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, length: body.length };
}

/** Signs `tag` as the bytes the registry serves for it now (what `docker push` with DCT does): addhash, then publish. */
export async function signServedTag(client: NotaryClientRun, gun: string, tag: string, roles: string[] = []): Promise<void> {
  const m = await servedManifest(gun, tag);
  client.run(['addhash', gun, tag, String(m.length), '--sha256', m.digest.slice('sha256:'.length), ...roles.flatMap((r) => ['--roles', r])]);
  client.run(['publish', gun]);
}

/** The docker CLI's passphrases for its content trust keys (root, repository). */
export const DCT_PASSPHRASES = { DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE: 'root-pass', DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE: 'repo-pass' };

/**
 * The environment of the docker CLI (and of dsv, reading the same DOCKER_CONFIG) for content trust through
 * `server`: its CA trusted in DOCKER_CONFIG, the key passphrases, DOCKER_CONTENT_TRUST_SERVER.
 */
export function dockerTrustEnv(dockerEnv: NodeJS.ProcessEnv, server: NotaryServer): NodeJS.ProcessEnv {
  trustNotaryCa(dockerEnv.DOCKER_CONFIG!, server);
  return { ...dockerEnv, ...DCT_PASSPHRASES, DOCKER_CONTENT_TRUST_SERVER: server.url };
}

/** The docker CLI in `env` with content trust on (DOCKER_CONTENT_TRUST=1), or off. */
export function dockerWithTrust(env: NodeJS.ProcessEnv, args: string[], trust = true): string {
  return run('docker', args, { env: { ...env, DOCKER_CONTENT_TRUST: trust ? '1' : '0' } });
}

/**
 * The tags the DCT command tests start from, built in `d` and pushed by the docker CLI in `env`: v1 (signed by
 * `docker push`), unsigned (pushed with content trust off) and repushed (signed, then another image pushed
 * over the tag unsigned).
 */
export function pushTrustTags(d: Dockerd, env: NodeJS.ProcessEnv, repo: string): void {
  importImage(d, `${repo}:v1`, { 'etc/hello': 'content trust v1\n' });
  dockerWithTrust(env, ['push', `${repo}:v1`]);
  importImage(d, `${repo}:unsigned`, { 'etc/hello': 'never signed\n' });
  dockerWithTrust(env, ['push', `${repo}:unsigned`], false);
  importImage(d, `${repo}:repushed`, { 'etc/hello': 'signed first\n' });
  dockerWithTrust(env, ['push', `${repo}:repushed`]);
  importImage(d, `${repo}:repushed`, { 'etc/hello': 'pushed over it, unsigned\n' });
  dockerWithTrust(env, ['push', `${repo}:repushed`], false);
}

/** Trusts the server's CA as the docker CLI does (and dsv): `$DOCKER_CONFIG/tls/<host:port>/ca.crt`. */
export function trustNotaryCa(dockerConfig: string, server: NotaryServer): void {
  const dir = join(dockerConfig, 'tls', new URL(server.url).host);
  mkdirSync(dir, { recursive: true });
  copyFileSync(server.caCert, join(dir, 'ca.crt'));
}
