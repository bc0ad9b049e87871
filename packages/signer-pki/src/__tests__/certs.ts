// Test helper: keys from node:crypto, certificates from the real openssl CLI.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestIdentity {
  name: string;
  key: KeyObject;
  /** PEM private key file. */
  keyFile: string;
  /** PEM certificate file. */
  certFile: string;
  certPem: string;
  keyPem: string;
}

export type KeySpec = 'p256' | 'p384' | 'ed25519' | 'rsa2048' | 'rsa1024';

export function makeKey(spec: KeySpec): KeyObject {
  switch (spec) {
    case 'p256': return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'p384': return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'ed25519': return generateKeyPairSync('ed25519').privateKey;
    case 'rsa2048': return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa1024': return generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  }
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

let serial = 1;
/**
 * Makes a certificate for `name`: self-signed when `issuer` is absent. `ext` is an openssl extension
 * section body (e.g. "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign").
 */
export function makeCert(dir: string, name: string, opts: { key?: KeySpec; issuer?: TestIdentity; ext: string; days?: number; subject?: string }): TestIdentity {
  const key = makeKey(opts.key ?? 'p256');
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(keyFile, keyPem);
  writeFileSync(extFile, `[v3]\n${opts.ext}\nsubjectKeyIdentifier=hash\n`);
  const subj = opts.subject ?? `/O=dsv tests/CN=${name}`;
  openssl(['req', '-new', '-key', keyFile, '-subj', subj, '-out', csr]);
  const signer = opts.issuer ?? { certFile: '', keyFile };
  // An empty `ext` makes an X.509 v1 certificate (no extensions at all).
  const extArgs = opts.ext ? ['-extfile', extFile, '-extensions', 'v3'] : [];
  const common = ['-in', csr, '-days', String(opts.days ?? 30), ...extArgs, '-set_serial', String(1000 + serial++), '-out', certFile];
  if (opts.issuer) openssl(['x509', '-req', ...common, '-CA', signer.certFile, '-CAkey', signer.keyFile]);
  else openssl(['x509', '-req', ...common, '-signkey', keyFile]);
  return { name, key, keyFile, certFile, keyPem, certPem: execFileSync('cat', [certFile]).toString() };
}

export const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign';
export const LEAF_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning';
