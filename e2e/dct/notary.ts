// The real notary-server (memory storage, its local signing service for timestamps) over TLS with a CA
// made here with openssl, and the real `notary` client in a private trust dir with passphrases from the env.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { freePort, requireTool, run, startProcess, tempDir, type RunningProcess } from '../helpers/proc.js';

export interface NotaryServer {
  url: string;
  caCert: string;
  stop(): Promise<void>;
}

/** A CA and a server certificate for IP:127.0.0.1. */
function makeTls(dir: string, days = 2): { caCert: string; serverCert: string; serverKey: string } {
  const openssl = requireTool('openssl');
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCert, '-days', String(days),
    '-subj', '/CN=dsv notary e2e CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const serverKey = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const serverCert = join(dir, 'server.crt');
  run(openssl, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', serverKey, '-out', csr, '-subj', '/CN=127.0.0.1']);
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n');
  run(openssl, ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', serverCert, '-days', String(days), '-extfile', ext]);
  return { caCert, serverCert, serverKey };
}

/**
 * `certDays`: the test CA's and server certificate's lifetime (a test that moves the clock on needs more
 * than the default 2). `tokenAuth`: accept a registry token issuer's tokens (notary-server's `auth.token`).
 */
export async function startNotaryServer(opts: { certDays?: number; tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string } } = {}): Promise<NotaryServer> {
  const dir = tempDir('dsv-notary-');
  const tls = makeTls(dir, opts.certDays);
  const port = await freePort();
  const config = join(dir, 'server.json');
  writeFileSync(config, JSON.stringify({
    server: { http_addr: `127.0.0.1:${port}`, tls_key_file: tls.serverKey, tls_cert_file: tls.serverCert },
    trust_service: { type: 'local', hostname: '', port: '', key_algorithm: 'ecdsa' },
    logging: { level: 'info' },
    storage: { backend: 'memory' },
    ...(opts.tokenAuth
      ? { auth: { type: 'token', options: { realm: opts.tokenAuth.realm, service: opts.tokenAuth.service, issuer: opts.tokenAuth.issuer, rootcertbundle: opts.tokenAuth.rootCertBundle } } }
      : {}),
  }));
  const ca = readFileSync(tls.caCert, 'utf8');
  const proc: RunningProcess = await startProcess(requireTool('notary-server'), ['-config', config, '-logf', 'logfmt'], {
    name: 'notary-server',
    ready: () => new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    }),
  });
  return { url: `https://127.0.0.1:${port}`, caCert: tls.caCert, stop: () => proc.stop() };
}

/** The `notary` client against `server`, in its own trust dir. */
export function notaryClient(server: NotaryServer): { trustDir: string; run(args: string[], input?: string): string } {
  const trustDir = tempDir('dsv-notary-client-');
  const env = {
    ...process.env,
    NOTARY_ROOT_PASSPHRASE: 'root-pass', NOTARY_TARGETS_PASSPHRASE: 'targets-pass',
    NOTARY_SNAPSHOT_PASSPHRASE: 'snapshot-pass', NOTARY_DELEGATION_PASSPHRASE: 'delegation-pass',
  };
  return {
    trustDir,
    run: (args, input) => run(requireTool('notary'), ['-s', server.url, '-d', trustDir, '--tlscacert', server.caCert, ...args], { env, input }),
  };
}
