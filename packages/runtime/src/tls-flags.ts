// skopeo's TLS flags: --tls-verify=false and --cert-dir DIR (sign, verify, inspect, list-tags, login) and their
// --src-/--dest- forms (copy, sync). --tls-verify=false is --insecure-registry for the registry of the references it
// covers; --cert-dir replaces certs.d for that registry (its *.crt CAs, *.cert + *.key client pair).
import type { Argv } from 'yargs';

/** The help line of a --tls-verify flag covering `what`. */
export function tlsVerifyHelp(what: string): string {
  return `false: reach the registry of ${what} over plain HTTP or without verifying its TLS certificate (skopeo's flag; --insecure-registry for that host)`;
}

/** The help line of a --cert-dir flag covering `what`. */
export function certDirHelp(what: string): string {
  return `Certificate directory for the registry of ${what}, instead of certs.d: *.crt CAs, a *.cert + *.key client pair (skopeo's flag)`;
}

/** --tls-verify and --cert-dir on a command naming one registry or repository. */
export function tlsOptions<T>(y: Argv<T>, what: string): Argv<T> {
  return y.option('tls-verify', { type: 'boolean', describe: tlsVerifyHelp(what) }).option('cert-dir', { type: 'string', describe: certDirHelp(what) });
}

/** --src-/--dest-tls-verify and --src-/--dest-cert-dir. */
export function copyTlsOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('src-tls-verify', { type: 'boolean', describe: tlsVerifyHelp('SRC') })
    .option('dest-tls-verify', { type: 'boolean', describe: tlsVerifyHelp('DEST') })
    .option('src-cert-dir', { type: 'string', describe: certDirHelp('SRC') })
    .option('dest-cert-dir', { type: 'string', describe: certDirHelp('DEST') });
}

/** What the TLS flags of a command say, per reference (ContextOptions' fields of the same names). */
export interface TlsArgs {
  /** References whose registries are insecure (--tls-verify=false). */
  tlsUnverified?: string[];
  /** [reference, directory]: that reference's registry reads its TLS material from the directory. */
  certDirs?: [string, string][];
}

const lastString = (v: unknown): string | undefined => (Array.isArray(v) ? lastString(v[v.length - 1]) : typeof v === 'string' ? v : undefined);

/** The TLS flags of a parsed command (--tls-verify, --cert-dir) for `references`; only the fields given. */
export function tlsArgs(argv: Record<string, unknown>, references: readonly string[]): TlsArgs {
  const dir = lastString(argv.certDir);
  return {
    ...(argv.tlsVerify === false && references.length ? { tlsUnverified: [...references] } : {}),
    ...(dir !== undefined && references.length ? { certDirs: references.map((r): [string, string] => [r, dir]) } : {}),
  };
}

/** The --src-* / --dest-* TLS flags of a parsed copy or sync; '' for a side that is no registry reference. */
export function copyTlsArgs(argv: Record<string, unknown>, source: string, destination: string): TlsArgs {
  const side = (prefix: 'src' | 'dest', ref: string) => (ref ? tlsArgs({ tlsVerify: argv[`${prefix}TlsVerify`], certDir: argv[`${prefix}CertDir`] }, [ref]) : {});
  const s = side('src', source);
  const d = side('dest', destination);
  const unverified = [...(s.tlsUnverified ?? []), ...(d.tlsUnverified ?? [])];
  const dirs = [...(s.certDirs ?? []), ...(d.certDirs ?? [])];
  return { ...(unverified.length ? { tlsUnverified: unverified } : {}), ...(dirs.length ? { certDirs: dirs } : {}) };
}
