/**
 * The one Engine API call the plugin makes itself: `GET /info`, for the daemon's DockerRootDir and
 * storage driver (so `docker verify` reads the store the daemon really uses). Everything else goes
 * through the docker-daemon: / docker-storage: transports.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DockerEndpoint } from './docker-context.js';

export interface DaemonInfo {
  DockerRootDir?: string;
  Driver?: string;
  DriverStatus?: Array<[string, string]>;
  ServerVersion?: string;
}

/** Request options for an endpoint; undefined for schemes we cannot reach directly (ssh://, npipe://). */
export function requestOptions(ep: DockerEndpoint): { options: RequestOptions; tls: boolean } | undefined {
  if (ep.host.startsWith('unix://')) return { options: { socketPath: ep.host.slice('unix://'.length), headers: { Host: 'docker' } }, tls: false };
  if (!ep.host.startsWith('tcp://')) return undefined;
  const tls = ep.tlsVerify || Boolean(ep.caFile || ep.certFile);
  let url: URL;
  try {
    url = new URL(ep.host.replace(/^tcp:\/\//, tls ? 'https://' : 'http://'));
  } catch {
    return undefined;
  }
  const options: RequestOptions & Record<string, unknown> = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : tls ? 2376 : 2375,
  };
  if (tls) {
    const read = (f?: string) => {
      try {
        return f ? readFileSync(f) : undefined;
      } catch {
        return undefined;
      }
    };
    const ca = read(ep.caFile);
    const cert = read(ep.certFile);
    const key = read(ep.keyFile);
    if (ca) options.ca = ca;
    if (cert && key) {
      options.cert = cert;
      options.key = key;
    }
    options.rejectUnauthorized = ep.tlsVerify;
  }
  return { options, tls };
}

/** GET /info; undefined when the daemon cannot be asked (the caller then falls back to defaults). */
export function daemonInfo(ep: DockerEndpoint, timeoutMs = 10_000): Promise<DaemonInfo | undefined> {
  const target = requestOptions(ep);
  if (!target) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = (target.tls ? httpsRequest : httpRequest)({ ...target.options, method: 'GET', path: '/info', timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > 4 * 1024 * 1024) req.destroy();
        else parts.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(undefined);
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as DaemonInfo);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
