/**
 * `dsv generate-key-pair --format cosign [--output-prefix P]`: cosign.key (cosign's encrypted PEM,
 * ECDSA P-256, scrypt + NaCl secretbox) and cosign.pub in the working directory, as `cosign
 * generate-key-pair` writes them. Passphrase: --passphrase-file, DSV_KEYPASS, COSIGN_PASSWORD, else a
 * prompt (twice) on a terminal. Existing files are never overwritten.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { DsvError } from '@dsv/core/formats';
import { generateKeyPair, writeKeyPair } from '@dsv/signature-cosign';
import { cosignPasswordFromEnv } from '../environment.js';
import { ExitCodes } from '../exit-codes.js';
import { isInteractive } from '../io.js';
import { promptSecretOnTty, readPassphraseFile } from '../keys.js';
import { errorJson } from '../report.js';
import type { CommandShell } from '../shell.js';

export interface KeygenOptions {
  format: string;
  outputPrefix?: string;
  passphraseFile?: string;
  /** The working directory (tests). */
  cwd?: string;
}

async function passphrase(shell: CommandShell, opts: KeygenOptions): Promise<string> {
  if (opts.passphraseFile !== undefined) return readPassphraseFile(opts.passphraseFile);
  const env = shell.io.env;
  if (env.DSV_KEYPASS !== undefined) return env.DSV_KEYPASS;
  const cosign = cosignPasswordFromEnv(env);
  if (cosign !== undefined) return cosign;
  if (!isInteractive(shell.io)) throw new DsvError('Usage', 'no passphrase for the new key: give --passphrase-file, or set DSV_KEYPASS or COSIGN_PASSWORD (empty for none)');
  const first = await promptSecretOnTty('Enter password for private key: ', shell.io.stdin, shell.io.stderr);
  const again = await promptSecretOnTty('Enter password for private key again: ', shell.io.stdin, shell.io.stderr);
  if (first !== again) throw new DsvError('Usage', 'the passwords do not match');
  return first;
}

export async function runGenerateKeyPair(shell: CommandShell, opts: KeygenOptions): Promise<number> {
  try {
    if (opts.format.toLowerCase() !== 'cosign') throw new DsvError('Usage', `generate-key-pair --format ${opts.format}: only cosign key pairs are generated here (OpenPGP keys: gpg --quick-gen-key)`);
    const full = resolve(opts.cwd ?? process.cwd(), opts.outputPrefix ?? 'cosign');
    const dir = dirname(full);
    const prefix = basename(full);
    if (prefix === '' || prefix === '.' || prefix === '..') throw new DsvError('Usage', `--output-prefix ${opts.outputPrefix}: not a file name prefix`);
    for (const ext of ['.key', '.pub']) {
      if (existsSync(`${full}${ext}`)) throw new DsvError('Usage', `${full}${ext} already exists; refusing to overwrite it (remove it or give --output-prefix)`);
    }
    const pass = await passphrase(shell, opts);
    shell.out.addSecret(pass);
    const pair = generateKeyPair({ passphrase: pass });
    const { keyPath, pubPath } = writeKeyPair(dir, pair, prefix);
    if (shell.json) shell.writeJson({ command: 'generate-key-pair', ok: true, format: 'cosign', privateKey: keyPath, publicKey: pubPath, error: null });
    else shell.out.out(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\n`);
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ command: 'generate-key-pair', ok: false, error: errorJson(e) }));
  }
}
