// TLS for registries: loopback and insecure-list checks, certs.d material, the trusted roots (as docker and skopeo trust them) and the plain-HTTP probe.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isIP, type LookupFunction } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { DsvError } from '@dsv/core/formats';
import type { TlsRootsSource } from '@dsv/core/transport';
import { errorCodes, isTlsProtocolError } from './util.js';

/** Splits `host[:port]` / `[v6]:port`; host returned without brackets. */
export function splitHostPort(hostPort: string): { host: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : undefined };
  const m = /^([^:]+)(?::(\d+))?$/.exec(hostPort);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : undefined };
  // Bare IPv6 without brackets.
  return { host: hostPort };
}

/**
 * A host that is loopback *by its name*: `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`.
 * No DNS lookup is made: a name that merely resolves to 127.0.0.1 is not loopback here.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** True when `registry` (host[:port]) is listed: entries match by exact host:port, or by host when they carry no port. */
export function isListedInsecure(registry: string, list: readonly string[]): boolean {
  const { host } = splitHostPort(registry);
  for (const raw of list) {
    const e = raw.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (!e) continue;
    if (e === registry) return true;
    const ep = splitHostPort(e);
    if (ep.port === undefined && ep.host === host) return true;
  }
  return false;
}

/** The certs.d directories docker reads when none are configured: /etc/docker/certs.d, then `<home>/.docker/certs.d`. */
export function defaultCertsDirs(home: string): string[] {
  return ['/etc/docker/certs.d', join(home, '.docker', 'certs.d')];
}

/** The system CA bundles, in the order Go's crypto/x509 — and so docker and skopeo — looks for them on Linux. */
export const SYSTEM_CA_FILES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

export interface TrustRoots {
  /** PEM certificates. */
  certificates: string[];
  /** Where they came from, for debug output. */
  sources: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
const rootsBySource = new Map<string, TrustRoots>();
const contexts = new WeakMap<TrustRoots, SecureContext>();

function readPem(path: string, what: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DsvError('IoError', `${what}: cannot read ${path}`, { path }, { cause: e });
  }
  return text.match(PEM_CERTIFICATE) ?? [];
}

/**
 * The CAs a registry's certificate must chain to, as docker and skopeo trust them: the system's bundle
 * (`certFile` — SSL_CERT_FILE —, else the first of SYSTEM_CA_FILES that exists) and the files in
 * `certDirs` (SSL_CERT_DIR; a missing one is skipped) when given — Node's bundled roots only where the system
 * has neither — plus `extraCaFile` (NODE_EXTRA_CA_CERTS), as Node adds it to its own. `{}` = the system's.
 * Read once per process and source.
 */
export function trustRoots(source: TlsRootsSource = {}): TrustRoots {
  const file = source.certFile || undefined;
  const dirs = (source.certDirs ?? []).filter(Boolean);
  const extra = source.extraCaFile || undefined;
  const key = JSON.stringify([file, dirs, extra]);
  const known = rootsBySource.get(key);
  if (known) return known;
  const certificates: string[] = [];
  const sources: string[] = [];
  const system = file ?? SYSTEM_CA_FILES.find((f) => statSync(f, { throwIfNoEntry: false })?.isFile());
  if (system) {
    certificates.push(...readPem(system, file ? 'SSL_CERT_FILE' : 'system CA bundle'));
    sources.push(system);
  }
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      // As Go skips one: SSL_CERT_DIR lists the places a distribution may use.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new DsvError('IoError', `SSL_CERT_DIR: cannot read ${dir}`, { path: dir }, { cause: e });
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path, { throwIfNoEntry: false })?.isFile()) certificates.push(...readPem(path, 'SSL_CERT_DIR'));
    }
    sources.push(dir);
  }
  if (!system && dirs.length === 0) {
    certificates.push(...rootCertificates);
    sources.push("Node's bundled roots");
  }
  if (extra) {
    certificates.push(...readPem(extra, 'NODE_EXTRA_CA_CERTS'));
    sources.push(extra);
  }
  const roots = { certificates: [...new Set(certificates)], sources };
  rootsBySource.set(key, roots);
  return roots;
}

/** One TLS context for `roots`, shared by every connection that adds nothing of its own (parsing a bundle costs ≈ 20–40 ms). */
export function trustContext(roots: TrustRoots): SecureContext {
  let context = contexts.get(roots);
  if (!context) {
    context = createSecureContext({ ca: roots.certificates });
    contexts.set(roots, context);
  }
  return context;
}

export interface TlsMaterial {
  /** Extra CAs (PEM), added to the trusted roots. */
  ca: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  /** Which directory they came from (for debug output). */
  dir?: string;
}

/** Whether certs.d gave the host a CA or a client certificate of its own. */
export function hasCertsDMaterial(material: TlsMaterial): boolean {
  return material.ca.length > 0 || material.cert !== undefined;
}

/**
 * Reads `<dir>/<host[:port]>/` like docker does: `*.crt` are CAs, `*.cert` + `*.key` (same basename)
 * a client certificate. The first certs.d directory that has a directory for the host wins.
 */
export function loadCertsD(hostPort: string, dirs: readonly string[]): TlsMaterial {
  const names = [hostPort];
  const { host, port } = splitHostPort(hostPort);
  if (port === 443) names.push(host);
  for (const base of dirs) {
    for (const name of names) {
      const material = readCertDir(join(base, name), 'certs.d');
      if (material) return material;
    }
  }
  return { ca: [] };
}

/**
 * One registry's certificate directory as certs.d holds it (`*.crt` CAs, a `*.cert` + `*.key` client pair; skopeo's
 * --cert-dir reads the same files); undefined when `dir` is not a directory. `origin` names it in errors.
 */
export function readCertDir(dir: string, origin: string): TlsMaterial | undefined {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return undefined;
    entries = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  const out: TlsMaterial = { ca: [], dir };
  for (const f of entries) {
    const p = join(dir, f);
    try {
      if (f.endsWith('.crt')) out.ca.push(readFileSync(p));
      else if (f.endsWith('.cert')) {
        const keyFile = join(dir, `${f.slice(0, -'.cert'.length)}.key`);
        let key: Buffer;
        try {
          key = readFileSync(keyFile);
        } catch {
          throw new DsvError('IoError', `${origin}: client certificate ${p} has no matching key ${keyFile}`, { path: p });
        }
        if (!out.cert) {
          out.cert = readFileSync(p);
          out.key = key;
        }
      } else if (f.endsWith('.key')) {
        const certFile = join(dir, `${f.slice(0, -'.key'.length)}.cert`);
        try {
          statSync(certFile);
        } catch {
          throw new DsvError('IoError', `${origin}: client key ${p} has no matching certificate ${certFile}`, { path: p });
        }
      }
    } catch (e) {
      if (e instanceof DsvError) throw e;
      throw new DsvError('IoError', `${origin}: cannot read ${p}`, { path: p }, { cause: e });
    }
  }
  return out;
}

/** What a TLS probe found: `tls` true (a handshake completed), false (the peer does not speak TLS), undefined (cannot tell). */
export interface TlsProbe {
  tls: boolean | undefined;
  /** Error codes of the failed handshake or connection. */
  codes: string[];
}

/**
 * Tells whether `host:port` speaks TLS, by one handshake that trusts nothing and loads no CA store: Node
 * builds its root store (≈ 30 ms of CPU) for the first context that verifies, which a registry answering
 * plain HTTP never needs. Only the answer is used; the requests that follow verify as always. A refused or
 * unreachable port is `undefined`: the first request then reports it in its own words.
 */
export function probeTls(host: string, port: number, opts: { timeoutMs: number; lookup?: LookupFunction; signal?: AbortSignal }): Promise<TlsProbe> {
  return new Promise((resolve) => {
    if (opts.signal?.aborted) return resolve({ tls: undefined, codes: [] });
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ca: [],
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      timeout: opts.timeoutMs,
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
    });
    const done = (result: TlsProbe): void => {
      opts.signal?.removeEventListener('abort', abort);
      socket.destroy();
      resolve(result);
    };
    const abort = (): void => done({ tls: undefined, codes: [] });
    opts.signal?.addEventListener('abort', abort, { once: true });
    let connected = false;
    socket.once('connect', () => (connected = true));
    socket.once('secureConnect', () => done({ tls: true, codes: [] }));
    // A port that takes the connection and never answers the handshake is not TLS (as a request's handshake
    // timeout was taken before); one that never takes it cannot tell.
    socket.once('timeout', () => done(connected ? { tls: false, codes: ['ERR_TLS_HANDSHAKE_TIMEOUT'] } : { tls: undefined, codes: ['ETIMEDOUT'] }));
    socket.once('error', (e) => done({ tls: isTlsProtocolError(e) ? false : undefined, codes: errorCodes(e) }));
  });
}
