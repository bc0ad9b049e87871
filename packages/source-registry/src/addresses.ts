// Address rules for hosts a registry names (token realms, redirect targets): a registry that is not itself loopback or private never makes dsv contact loopback, link-local or private addresses.
import { lookup as dnsLookupCallback } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { DsvError, type ErrorCode } from '@dsv/core';
import { splitHostPort } from './tls.js';

export type AddressClass = 'public' | 'private' | 'loopback' | 'link-local' | 'unspecified';

/** A resolver: every address of a host name. */
export type ResolveHost = (host: string) => Promise<string[]>;

function v4(ip: string): number[] | undefined {
  const parts = ip.split('.').map(Number);
  return parts.length === 4 && parts.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? parts : undefined;
}

/** The class of an IP address (v4, v6, v4-mapped v6); anything unparsable is 'unspecified' (refused). */
export function classifyAddress(ip: string): AddressClass {
  const a = ip.toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(a) === 4) {
    const [x, y] = v4(a)!;
    if (x === 127) return 'loopback';
    if (x === 0) return 'unspecified';
    if (x === 169 && y === 254) return 'link-local';
    if (x === 10 || (x === 172 && y! >= 16 && y! <= 31) || (x === 192 && y === 168) || (x === 100 && y! >= 64 && y! <= 127)) return 'private';
    if (x! >= 224) return 'unspecified';
    return 'public';
  }
  if (isIP(a) === 6) {
    const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) return classifyAddress(mapped[1]!);
    if (a === '::1') return 'loopback';
    if (a === '::') return 'unspecified';
    const head = parseInt(a.split(':')[0] || '0', 16);
    if ((head & 0xffc0) === 0xfe80) return 'link-local';
    if ((head & 0xfe00) === 0xfc00) return 'private';
    if ((head & 0xff00) === 0xff00) return 'unspecified';
    return 'public';
  }
  return 'unspecified';
}

/** Resolves with `lookup` (the client's, when it has one) or the system resolver; an IP literal is itself. */
export function resolverFrom(lookup: LookupFunction | undefined): ResolveHost {
  return async (host) => {
    const h = host.replace(/^\[|\]$/g, '');
    if (isIP(h)) return [h];
    if (!lookup) return (await dnsLookup(h, { all: true })).map((r) => r.address);
    return new Promise<string[]>((resolve, reject) => {
      lookup(h, { all: true }, (err, addresses) => {
        if (err) return reject(err);
        const list = Array.isArray(addresses) ? addresses.map((r) => r.address) : [String(addresses)];
        resolve(list);
      });
    });
  };
}

/**
 * Decides whether a host named by the registry may be contacted. The registry's own host always
 * may; when the registry resolves to loopback/private addresses only (a local or in-house registry),
 * anything may; otherwise the host must resolve to public addresses only. Answers are cached per host.
 */
export class AddressGuard {
  private internal: Promise<boolean> | undefined;
  private readonly verdicts = new Map<string, Promise<AddressClass | undefined>>();

  constructor(
    private readonly registry: string,
    private readonly endpoint: string,
    private readonly resolve: ResolveHost,
    private readonly classify: (ip: string) => AddressClass,
  ) {}

  /** Throws `code` (one line: what was refused and why) when `url`'s host may not be contacted; sends nothing. */
  async check(url: URL, what: string, code: ErrorCode): Promise<void> {
    const own = splitHostPort(this.endpoint).host.replace(/^\[|\]$/g, '');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host === own) return;
    if (await this.registryIsInternal()) return;
    let verdict = this.verdicts.get(host);
    if (!verdict) {
      verdict = this.worst(host);
      this.verdicts.set(host, verdict);
    }
    const cls = await verdict;
    if (cls === undefined || cls === 'public') return;
    throw new DsvError(code, `registry ${this.registry}: refusing ${what} on ${url.host}: it is a ${cls} address, and the registry is not (nothing was sent there)`, {
      registry: this.registry,
      host: url.host,
      addressClass: cls,
    });
  }

  /**
   * The lookup for connections to a host other than the registry's own: its answers obey the same rule,
   * so a name that resolves to a public address when checked and to a forbidden one when connecting
   * (DNS rebinding) is still refused. (An IP literal is not looked up: `check` has judged it.)
   */
  lookupFor(base: LookupFunction | undefined): LookupFunction {
    const lookup = (base ?? dnsLookupCallback) as LookupFunction;
    return ((host: string, options: object, callback: (err: Error | null, address?: unknown, family?: number) => void) => {
      lookup(host, options as never, (err, address, family) => {
        if (err) return callback(err, address, family);
        const ips = Array.isArray(address) ? address.map((a: { address: string }) => a.address) : [String(address)];
        void this.registryIsInternal().then((internal) => {
          const cls = internal ? undefined : ips.map((ip) => this.classify(ip)).find((c) => c !== 'public');
          if (!cls) return callback(null, address, family);
          callback(
            new DsvError('RemoteError', `registry ${this.registry}: refusing to connect to ${host}: it now resolves to a ${cls} address, and the registry is not`, {
              registry: this.registry,
              host,
              addressClass: cls,
            }),
          );
        });
      });
    }) as LookupFunction;
  }

  private registryIsInternal(): Promise<boolean> {
    this.internal ??= this.resolve(splitHostPort(this.endpoint).host).then(
      (ips) => ips.length > 0 && ips.every((ip) => this.classify(ip) !== 'public'),
      () => false,
    );
    return this.internal;
  }

  /** The least public class among `host`'s addresses; undefined when it does not resolve (connecting fails anyway). */
  private async worst(host: string): Promise<AddressClass | undefined> {
    let ips: string[];
    try {
      ips = await this.resolve(host);
    } catch {
      return undefined;
    }
    const classes = ips.map((ip) => this.classify(ip));
    return classes.find((c) => c !== 'public') ?? (classes.length ? 'public' : undefined);
  }
}
