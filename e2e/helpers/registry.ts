// Runs the REAL docker-registry (distribution 2.8) on 127.0.0.1 in three configurations:
//   http          plain HTTP, anonymous
//   tls-htpasswd  TLS with a CA we generate (certs.d layout) + htpasswd (bcrypt) Basic auth
//   token         plain HTTP + `auth.token`, with a token issuer of our own in this process
// Each registry gets a temp storage dir (tests may corrupt blobs in it) and is stopped by PID.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { freePort, requireTool, run, startProcess, tempDir, type RunningProcess } from './proc.js';
import { makeTestTls } from './tls.js';

export type RegistryMode = 'http' | 'tls-htpasswd' | 'token';

export interface StartedRegistry {
  mode: RegistryMode;
  /** `127.0.0.1:<port>` */
  host: string;
  /** Storage root (filesystem driver rootdirectory). */
  rootDir: string;
  /** TLS mode: the CA certificate that signed the server certificate. */
  caCert?: string;
  /** TLS mode: a certs.d directory containing `<host>/ca.crt`. */
  certsDir?: string;
  username?: string;
  password?: string;
  /** Token mode: the issuer's realm URL and a log of the token requests it answered. */
  realm?: string;
  tokenRequests: Array<{ scopes: string[]; user?: string; granted: boolean }>;
  /** Token mode: what another server needs to accept the issuer's tokens (a notary-server's token auth). */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** The registry's log output so far. */
  log(): string;
  /** skopeo flags to reach this registry as a destination (`dest`), source (`src`), or for `inspect` (`''`). */
  skopeoFlags(side: 'src' | 'dest' | ''): string[];
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function waitForPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface TokenIssuer {
  server: Server;
  realm: string;
  certPath: string;
  requests: StartedRegistry['tokenRequests'];
}

/**
 * A minimal Docker token server: Basic-authenticates a known user, grants that user every requested
 * repository action, grants anonymous callers nothing, and signs RS256 JWTs whose `x5c` carries the
 * self-signed certificate that is also the registry's rootcertbundle.
 */
async function startTokenIssuer(dir: string, opts: { service: string; issuer: string; username: string; password: string }): Promise<TokenIssuer> {
  const openssl = requireTool('openssl');
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=dsv e2e token issuer']);
  const key = createPrivateKey(readFileSync(keyPath));
  const x5c = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
  const requests: StartedRegistry['tokenRequests'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (u !== opts.username || p.join(':') !== opts.password) {
        requests.push({ scopes, user: u, granted: false });
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      user = u;
    }
    const access = user
      ? scopes.map((s) => {
          // repository:<name>:<actions>; the name may not contain ':' but actions are comma-separated.
          const parts = s.split(':');
          const actions = parts.pop()!.split(',');
          const type = parts.shift()!;
          return { type, name: parts.join(':'), actions };
        })
      : [];
    requests.push({ scopes, user, granted: !!user });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [x5c] };
    const claims = { iss: opts.issuer, sub: user ?? '', aud: opts.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, realm: `http://127.0.0.1:${port}/token`, certPath, requests };
}

export async function startRegistry(opts: { mode: RegistryMode; username?: string; password?: string; logLevel?: string; /** storage.delete.enabled (default true). */ deleteEnabled?: boolean }): Promise<StartedRegistry> {
  const bin = requireTool('docker-registry');
  const dir = tempDir(`dsv-registry-${opts.mode}-`);
  const rootDir = join(dir, 'storage');
  mkdirSync(rootDir);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const username = opts.mode === 'http' ? undefined : (opts.username ?? 'dsv-user');
  const password = opts.mode === 'http' ? undefined : (opts.password ?? `pw-${randomBytes(6).toString('hex')}`);

  const lines: string[] = [
    'version: 0.1',
    'log:',
    `  level: ${opts.logLevel ?? 'info'}`,
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${rootDir}`,
    '  delete:',
    `    enabled: ${opts.deleteEnabled !== false}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let caCert: string | undefined;
  let certsDir: string | undefined;
  let issuer: TokenIssuer | undefined;
  if (opts.mode === 'tls-htpasswd') {
    const tls = makeTestTls(dir, { cn: 'dsv e2e test CA' });
    caCert = tls.caCert;
    certsDir = join(dir, 'certs.d');
    mkdirSync(join(certsDir, host), { recursive: true });
    copyFileSync(tls.caCert, join(certsDir, host, 'ca.crt'));
    lines.push('  tls:', `    certificate: ${tls.serverCert}`, `    key: ${tls.serverKey}`);
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, run(requireTool('htpasswd'), ['-Bbn', username!, password!]));
    lines.push('auth:', '  htpasswd:', '    realm: dsv-e2e', `    path: ${htpasswd}`);
  } else if (opts.mode === 'token') {
    const service = 'dsv-e2e-registry';
    const iss = 'dsv-e2e-issuer';
    issuer = await startTokenIssuer(dir, { service, issuer: iss, username: username!, password: password! });
    lines.push('auth:', '  token:', `    realm: ${issuer.realm}`, `    service: ${service}`, `    issuer: ${iss}`, `    rootcertbundle: ${issuer.certPath}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);

  let proc: RunningProcess;
  try {
    proc = await startProcess(bin, ['serve', config], { name: 'docker-registry', ready: () => waitForPort(port), timeoutMs: 30_000 });
  } catch (e) {
    issuer?.server.close();
    throw e;
  }

  return {
    mode: opts.mode,
    host,
    rootDir,
    caCert,
    certsDir,
    username,
    password,
    realm: issuer?.realm,
    tokenRequests: issuer?.requests ?? [],
    tokenAuth: issuer ? { realm: issuer.realm, service: 'dsv-e2e-registry', issuer: 'dsv-e2e-issuer', rootCertBundle: issuer.certPath } : undefined,
    log: () => proc.output(),
    skopeoFlags(side) {
      const f: string[] = [];
      const p = side ? `--${side}-` : '--';
      if (opts.mode === 'tls-htpasswd') f.push(`${p}cert-dir`, join(certsDir!, host));
      else f.push(`${p}tls-verify=false`);
      if (username) f.push(`${p}creds`, `${username}:${password}`);
      return f;
    },
    async stop() {
      await proc.stop();
      if (issuer) {
        issuer.server.closeAllConnections();
        await new Promise((r) => issuer!.server.close(r));
      }
    },
  };
}

/** Path of a stored blob inside the registry's filesystem storage. */
export function blobDataPath(reg: StartedRegistry, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(reg.rootDir, 'docker', 'registry', 'v2', 'blobs', alg!, hex!.slice(0, 2), hex!, 'data');
}

export function sha256File(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}
