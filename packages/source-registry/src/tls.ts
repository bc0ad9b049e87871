import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isIP, type LookupFunction } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DsvError } from '@dsv/core';
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

export function defaultCertsDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env['DSV_CERTS_D'];
  if (fromEnv) return fromEnv.split(':').filter(Boolean);
  return ['/etc/docker/certs.d', join(homedir(), '.docker', 'certs.d')];
}

export interface TlsMaterial {
  /** Extra CAs (PEM), added to the system roots. */
  ca: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  /** Which directory they came from (for debug output). */
  dir?: string;
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
      const dir = join(base, name);
      let entries: string[];
      try {
        if (!statSync(dir).isDirectory()) continue;
        entries = readdirSync(dir).sort();
      } catch {
        continue;
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
              throw new DsvError('IoError', `certs.d: client certificate ${p} has no matching key ${keyFile}`, { path: p });
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
              throw new DsvError('IoError', `certs.d: client key ${p} has no matching certificate ${certFile}`, { path: p });
            }
          }
        } catch (e) {
          if (e instanceof DsvError) throw e;
          throw new DsvError('IoError', `certs.d: cannot read ${p}`, { path: p }, { cause: e });
        }
      }
      return out;
    }
  }
  return { ca: [] };
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
 * plain HTTP never needs. Only the answer is used; the requests that follow verify as always. A refused,
 * unreachable or silent port is `undefined`: the first request then reports it in its own words.
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
    socket.once('secureConnect', () => done({ tls: true, codes: [] }));
    socket.once('timeout', () => done({ tls: undefined, codes: ['ETIMEDOUT'] }));
    socket.once('error', (e) => done({ tls: isTlsProtocolError(e) ? false : undefined, codes: errorCodes(e) }));
  });
}
