import { homedir } from 'node:os';
import { join } from 'node:path';

/** The PKI trust store file: DSV_PKI_DATASTORE, else ~/.dsv.pem (as docker-sign-verify). */
export function defaultPkiDatastore(env: NodeJS.ProcessEnv = process.env): string {
  return env.DSV_PKI_DATASTORE || join(env.HOME || homedir(), '.dsv.pem');
}
