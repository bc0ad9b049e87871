// Real GnuPG homes for e2e tests: short paths under /tmp (agent socket path limits), keys made by
// `gpg --quick-gen-key`, agents killed (gpgconf --kill) and homes removed by removeGpgHomes().
import { mkdtempSync, rmSync } from 'node:fs';
import { requireTool, run } from './proc.js';

export interface GpgKeySpec {
  name: string;
  email: string;
  /** Protects the secret key; omitted: no passphrase. */
  passphrase?: string;
  /** Primary key algorithm (default ed25519). */
  algo?: 'ed25519' | 'rsa2048';
  /** Also add a signing subkey (gpg then signs with it). */
  signingSubkey?: boolean;
}

export interface GpgHome {
  home: string;
  /** Primary key fingerprint (40 hex, upper case); '' without a key. */
  fingerprint: string;
  /** Primary key long id (16 hex, upper case); '' without a key. */
  keyId: string;
  /** Long id of the key gpg signs with (the signing subkey when there is one). */
  signingKeyId: string;
  /** Fingerprint of that key. */
  signingFingerprint: string;
  /** The public key, ASCII-armoured (`gpg --export --armor`). */
  exportPublic(): string;
  /** Runs gpg against this home (batch, loopback pinentry); `input` goes to stdin. */
  gpg(args: string[], input?: string | Buffer): string;
}

const homes: string[] = [];

function gpgIn(home: string, args: string[], input?: string | Buffer): string {
  return run(requireTool('gpg'), ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', ...args], { input: input ?? '' });
}

export function makeGpgHome(opts: { withKey?: GpgKeySpec } = {}): GpgHome {
  const home = mkdtempSync('/tmp/dsvg-');
  homes.push(home);
  let fingerprint = '';
  let signingFingerprint = '';
  const k = opts.withKey;
  if (k) {
    const pass = k.passphrase ?? '';
    gpgIn(home, ['--passphrase-fd', '0', '--quick-gen-key', `${k.name} <${k.email}>`, k.algo ?? 'ed25519', 'sign', 'never'], `${pass}\n`);
    const colons = gpgIn(home, ['--with-colons', '--fingerprint', '--', k.email]);
    fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1];
    if (k.signingSubkey) {
      gpgIn(home, ['--passphrase-fd', '0', '--quick-add-key', fingerprint, 'ed25519', 'sign', 'never'], `${pass}\n`);
      const listing = gpgIn(home, ['--with-colons', '--fingerprint', '--fingerprint', '--list-keys', '--', fingerprint]);
      signingFingerprint = [...listing.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]).pop()!;
    }
  }
  const keyId = fingerprint.slice(-16);
  return {
    home, fingerprint, keyId,
    signingFingerprint: signingFingerprint || fingerprint,
    signingKeyId: (signingFingerprint || fingerprint).slice(-16),
    exportPublic: () => gpgIn(home, ['--armor', '--export', '--', fingerprint]),
    gpg: (args, input) => gpgIn(home, args, input),
  };
}

/** Kills the gpg-agent of every home made here and removes the homes. */
export function removeGpgHomes(): void {
  for (const home of homes.splice(0)) {
    try {
      run(requireTool('gpgconf'), ['--homedir', home, '--kill', 'gpg-agent']);
    } catch {
      /* no agent was started */
    }
    rmSync(home, { recursive: true, force: true });
  }
}
