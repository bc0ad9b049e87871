// skopeo's TLS flags: --tls-verify=false (sign, verify, inspect, list-tags, login) and --src-/--dest-tls-verify=false
// (copy, sync), each meaning --insecure-registry for the registry of the references it covers.
import type { Argv } from 'yargs';

/** The help line of a --tls-verify flag covering `what`. */
export function tlsVerifyHelp(what: string): string {
  return `false: reach the registry of ${what} over plain HTTP or without verifying its TLS certificate (skopeo's flag; --insecure-registry for that host)`;
}

/** --tls-verify on a command naming one registry or repository. */
export function tlsVerifyOption<T>(y: Argv<T>, what: string): Argv<T> {
  return y.option('tls-verify', { type: 'boolean', describe: tlsVerifyHelp(what) });
}

/** --src-tls-verify and --dest-tls-verify. */
export function copyTlsVerifyOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('src-tls-verify', { type: 'boolean', describe: tlsVerifyHelp('SRC') })
    .option('dest-tls-verify', { type: 'boolean', describe: tlsVerifyHelp('DEST') });
}

/** The references whose registries the parsed --src-/--dest-tls-verify=false cover. */
export function copyTlsUnverified(argv: Record<string, unknown>, source: string, destination: string): string[] {
  return [...(argv.srcTlsVerify === false ? [source] : []), ...(argv.destTlsVerify === false ? [destination] : [])];
}

/** `{ [key]: list }` when the list has entries, else nothing (parsed arguments carry no empty lists). */
export function nonEmpty<K extends string>(key: K, list: string[]): Partial<Record<K, string[]>> {
  return (list.length ? { [key]: list } : {}) as Partial<Record<K, string[]>>;
}
