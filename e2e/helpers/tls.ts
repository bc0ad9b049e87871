// A throwaway CA and a server certificate for IP:127.0.0.1, made with openssl, for e2e servers over TLS.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run } from './proc.js';

export interface TestTls {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/**
 * Writes ca.key/ca.crt and server.key/server.crt (P-256) into `dir`. `cn`: the CA's common name; `days`: both
 * certificates' lifetime; `digitalSignature`: give the server certificate that key usage (off: no keyUsage).
 */
export function makeTestTls(dir: string, opts: { cn: string; days?: number; digitalSignature?: boolean }): TestTls {
  const openssl = requireTool('openssl');
  const days = String(opts.days ?? 2);
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCert, '-days', days,
    '-subj', `/CN=${opts.cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const serverKey = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const serverCert = join(dir, 'server.crt');
  run(openssl, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', serverKey, '-out', csr, '-subj', '/CN=127.0.0.1']);
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n${opts.digitalSignature === false ? '' : 'keyUsage=digitalSignature\n'}`);
  run(openssl, ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', serverCert, '-days', days, '-extfile', ext]);
  return { caCert, caKey, serverCert, serverKey };
}
