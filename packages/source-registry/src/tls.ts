import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { DsvError } from '@dsv/core';

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
