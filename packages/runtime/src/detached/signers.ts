/**
 * Keys for detached signatures. Simple signing: an OpenPGP private key file (openpgp.js), or a key id /
 * fingerprint in a GnuPG home signed by the gpg binary (a binary, non-detached signed message; the
 * passphrase on a pipe, never argv). Cosign: cosign's encrypted key PEM or a plain PKCS#8/SEC1/PKCS#1 PEM.
 */
import { spawn } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DsvError } from '@dsv/core/formats';
import { keyFileSigner, readPublicKeys, type PayloadSigner } from '@dsv/signature-simple';
import { keyIdOf, readPrivateKey, COSIGN_PRIVATE_KEY_PEM, SIGSTORE_PRIVATE_KEY_PEM } from '@dsv/signature-cosign';

export interface SimpleKey {
  signer: PayloadSigner;
  /** Fingerprint (upper-case hex) when known before signing, else filled after. */
  describe(): Promise<{ keyId?: string; fingerprint?: string; identity?: string }>;
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Runs gpg --sign in a GnuPG home: a binary OpenPGP signed message over `payload`. */
function gpgSign(binary: string, home: string, key: string, passphrase: string, payload: Uint8Array, env: Readonly<Record<string, string | undefined>>): Promise<{ out: Buffer; fingerprint?: string }> {
  const args = ['--homedir', home, '--batch', '--no-tty', '--status-fd', '2', '--pinentry-mode', 'loopback', '--passphrase-fd', '3', '--local-user', key, '--sign', '--output', '-'];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...env, LC_ALL: 'C', LANGUAGE: 'C' }, timeout: 120_000, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => reject(new DsvError('KeyInvalid', e.code === 'ENOENT' ? `${binary} is not installed: cannot sign with the GnuPG key ${key}` : `gpg: ${e.message}`)));
    child.on('close', (code) => {
      const status = err.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9));
      if (code !== 0 || out.length === 0) {
        const bad = status.some((l) => l.startsWith('BAD_PASSPHRASE') || ((m) => m !== null && (Number(m[1]) & 0xffff) === 11)(/^(?:ERROR|FAILURE) \S+ (\d+)/.exec(l)));
        const msg = err.split('\n').filter((l) => l.startsWith('gpg: ')).map((l) => l.slice(5)).pop() ?? `exit ${code}`;
        if (bad) return reject(new DsvError('PassphraseInvalid', `the passphrase for the GnuPG key ${key} is wrong`));
        return reject(new DsvError('KeyInvalid', `gpg cannot sign with ${key} in ${home}: ${msg}`));
      }
      const created = status.find((s) => s.startsWith('SIG_CREATED '));
      const fpr = created?.split(' ').pop();
      resolve({ out: Buffer.concat(out), ...(fpr && /^[0-9A-F]{40,64}$/.test(fpr) ? { fingerprint: fpr } : {}) });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(Buffer.from(payload));
    const pass = child.stdio[3] as NodeJS.WritableStream & { on(ev: 'error', f: () => void): void };
    pass.on('error', () => undefined);
    pass.end(`${passphrase}\n`);
  });
}

/** A simple-signing key: a key file when `key` names a file, else a key in the GnuPG home. */
export async function simpleKey(opts: { key: string; passphrase: string; gpgHome: string; gpgBinary: string; env: Readonly<Record<string, string | undefined>> }): Promise<SimpleKey> {
  if (isFile(opts.key)) {
    const bytes = new Uint8Array(await readFile(opts.key));
    const pubs = await readPublicKeys(bytes, `key file ${opts.key}`);
    const signer = keyFileSigner({ keyFile: opts.key, ...(opts.passphrase !== '' ? { passphrase: opts.passphrase } : {}) });
    const pub = pubs[0]!;
    return {
      signer,
      describe: async () => ({ fingerprint: pub.getFingerprint().toUpperCase(), keyId: pub.getKeyID().toHex().toUpperCase(), ...(pub.getUserIDs()[0] ? { identity: pub.getUserIDs()[0] } : {}) }),
    };
  }
  if (opts.key === '' || opts.key.startsWith('-') || /[\r\n\0]/.test(opts.key)) throw new DsvError('KeyInvalid', `invalid key name "${opts.key.replace(/[\r\n\0]/g, ' ')}"`);
  if (!existsSync(opts.gpgHome)) throw new DsvError('KeyInvalid', `key ${opts.key} is neither a key file nor in a GnuPG home (${opts.gpgHome} does not exist)`);
  let fingerprint: string | undefined;
  return {
    signer: async (payload) => {
      const r = await gpgSign(opts.gpgBinary, opts.gpgHome, opts.key, opts.passphrase, payload, opts.env);
      fingerprint = r.fingerprint;
      return new Uint8Array(r.out);
    },
    describe: async () => (fingerprint ? { fingerprint, keyId: fingerprint.slice(-16) } : {}),
  };
}

/** True when a key file is one of cosign's encrypted PEMs (a passphrase is needed). */
export function isEncryptedCosignKey(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes.subarray(0, 256)).toString('latin1');
  return text.includes(`-----BEGIN ${SIGSTORE_PRIVATE_KEY_PEM}-----`) || text.includes(`-----BEGIN ${COSIGN_PRIVATE_KEY_PEM}-----`);
}

/** A cosign private key from a file (cosign.key with its passphrase, or a plain PEM). */
export async function cosignKey(path: string, passphrase: string | undefined): Promise<{ key: KeyObject; keyId: string }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new DsvError('KeyInvalid', `cosign key ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const key = readPrivateKey(bytes, { ...(passphrase !== undefined ? { passphrase } : {}), origin: `cosign key ${path}` });
  return { key, keyId: keyIdOf(createPublicKey(key)) };
}
