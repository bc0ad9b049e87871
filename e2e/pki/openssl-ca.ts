// A tiny certificate authority driven by the real `openssl` CLI (openssl genpkey / req / ca), for e2e tests.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run } from '../helpers/proc.js';

export type KeyAlg = 'rsa2048' | 'p256' | 'p384' | 'ed25519';

export interface Issued {
  name: string;
  dir: string;
  keyFile: string;
  certFile: string;
  keyPem: string;
  certPem: string;
  /** The subject's public key, PEM (SPKI). */
  pubFile: string;
}

const openssl = () => requireTool('openssl');

export function genKey(file: string, alg: KeyAlg, pass?: string): void {
  const args = ['genpkey', '-out', file];
  if (alg === 'rsa2048') args.push('-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
  if (alg === 'p256') args.push('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
  if (alg === 'p384') args.push('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384');
  if (alg === 'ed25519') args.push('-algorithm', 'ED25519');
  if (pass) args.push('-aes256', '-pass', `pass:${pass}`);
  run(openssl(), args);
}

const EXTENSIONS = `
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ inter_ext ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ codesign_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
`;

export class OpensslCa {
  readonly cert: Issued;
  readonly #config: string;

  private constructor(cert: Issued) {
    this.cert = cert;
    const db = join(cert.dir, `${cert.name}.db`);
    mkdirSync(join(db, 'new'), { recursive: true });
    writeFileSync(join(db, 'index.txt'), '');
    // openssl reads the serial as hex pairs: always 6 digits (0x100000..0xffffff), never an odd count.
    writeFileSync(join(db, 'serial'), (Math.floor(Math.random() * 0xf00000) + 0x100000).toString(16) + '\n');
    this.#config = join(db, 'ca.cnf');
    writeFileSync(
      this.#config,
      `[ ca ]\ndefault_ca = dflt\n[ dflt ]\ndatabase = ${db}/index.txt\nnew_certs_dir = ${db}/new\nserial = ${db}/serial\n` +
        `default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\ndefault_days = 30\n` +
        `[ any ]\norganizationName = optional\ncommonName = supplied\n${EXTENSIONS}`,
    );
  }

  /** A self-signed root CA. */
  static root(dir: string, name: string, alg: KeyAlg = 'rsa2048', subject = `/O=dsv e2e/CN=${name}`): OpensslCa {
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.pem`);
    genKey(keyFile, alg);
    const cnf = join(dir, `${name}.req.cnf`);
    writeFileSync(cnf, `[ req ]\ndistinguished_name = dn\n[ dn ]\n${EXTENSIONS}`);
    run(openssl(), ['req', '-x509', '-new', '-key', keyFile, '-subj', subject, '-days', '3650', '-config', cnf, '-extensions', 'ca_ext', '-out', certFile]);
    return new OpensslCa(finish(dir, name, keyFile, certFile));
  }

  /** Issues a certificate. `ext`: ca_ext | inter_ext | codesign_ext | server_ext. Dates as YYYYMMDDHHMMSSZ. */
  issue(name: string, opts: { ext: string; alg?: KeyAlg; startDate?: string; endDate?: string; keyPass?: string }): Issued {
    const dir = this.cert.dir;
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.pem`);
    const csr = join(dir, `${name}.csr`);
    genKey(keyFile, opts.alg ?? 'p256', opts.keyPass);
    const pass = opts.keyPass ? ['-passin', `pass:${opts.keyPass}`] : [];
    run(openssl(), ['req', '-new', '-key', keyFile, ...pass, '-subj', `/O=dsv e2e/CN=${name}`, '-out', csr]);
    const args = ['ca', '-batch', '-notext', '-config', this.#config, '-cert', this.cert.certFile, '-keyfile', this.cert.keyFile,
      '-in', csr, '-out', certFile, '-extensions', opts.ext];
    if (opts.startDate) args.push('-startdate', opts.startDate);
    if (opts.endDate) args.push('-enddate', opts.endDate);
    run(openssl(), args);
    return finish(dir, name, keyFile, certFile, pass);
  }

  /** An intermediate CA issued by this one. */
  intermediate(name: string, alg: KeyAlg = 'p384'): OpensslCa {
    return new OpensslCa(this.issue(name, { ext: 'inter_ext', alg }));
  }
}

function finish(dir: string, name: string, keyFile: string, certFile: string, _pass: string[] = []): Issued {
  const pubFile = join(dir, `${name}.pub.pem`);
  run(requireTool('openssl'), ['x509', '-in', certFile, '-noout', '-pubkey', '-out', pubFile]);
  return { name, dir, keyFile, certFile, pubFile, keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8') };
}
