import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The PKI trust store file: DSV_PKI_DATASTORE, else ~/.dsv.pem (as docker-sign-verify). The environment is
 * the caller's (the runtime passes the one it read); without one, ~/.dsv.pem.
 */
export function defaultPkiDatastore(env: Readonly<Record<string, string | undefined>> = {}): string {
  return env.DSV_PKI_DATASTORE || join(env.HOME || homedir(), '.dsv.pem');
}
