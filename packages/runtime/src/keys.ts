import { readFile } from 'node:fs/promises';
import { DsvError } from '@dsv/core';

/** Where the CLI reads its key material from; every field is optional. */
export interface KeyOptions {
  /** --key / -k / --keyid: key file, key id, fingerprint or plugin key name. */
  key?: string;
  /** --key-type / -t / --sigtype: gpg, pki or a plugin type. */
  keyType?: string;
  /** -p / --keypass: the passphrase itself (legacy; visible in `ps`, prefer --passphrase-file). */
  keypass?: string;
  /** --passphrase-file: a file whose first line is the passphrase. */
  passphraseFile?: string;
}

export interface TerminalIo {
  /** True when a human can answer a prompt: stdin and stderr are terminals. */
  interactive: boolean;
  /** Asks for a secret without echo (only called when interactive). */
  promptSecret?: (question: string) => Promise<string>;
}

export interface ResolvedKey {
  key: string;
  keyType: string;
  passphrase: string;
  /** Where the passphrase came from (for --debug; never the passphrase itself). */
  passphraseSource: 'option' | 'file' | 'env' | 'prompt' | 'none';
}

/** The key type: the option, else DSV_KEYTYPE (GPG|PKI, any case), else gpg. */
export function resolveKeyType(keyType: string | undefined, env: NodeJS.ProcessEnv): string {
  const t = (keyType ?? env.DSV_KEYTYPE ?? 'gpg').trim().toLowerCase();
  if (!t) return 'gpg';
  return t;
}

/** The signing key: the option, else DSV_KEYID. */
export function resolveKeyName(key: string | undefined, env: NodeJS.ProcessEnv, optionName = '--key'): string {
  const k = key ?? env.DSV_KEYID;
  if (k === undefined || k.trim() === '') {
    throw new DsvError('Usage', `no signing key: give ${optionName} or set DSV_KEYID`);
  }
  return k;
}

/** Reads a passphrase file: its first line, without the line ending. Errors never quote its content. */
export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DsvError('Usage', `cannot read passphrase file ${path}: ${code}`, { file: path });
  }
  const nl = text.search(/\r?\n/);
  return nl >= 0 ? text.slice(0, nl) : text;
}

/**
 * The passphrase, in order: -p/--keypass, --passphrase-file, DSV_KEYPASS, a prompt without echo
 * when a terminal is attached, else the empty passphrase (keys without one).
 */
export async function resolvePassphrase(
  opts: Pick<KeyOptions, 'keypass' | 'passphraseFile'>,
  env: NodeJS.ProcessEnv,
  io: TerminalIo,
  question = 'Passphrase (empty for none): ',
): Promise<{ passphrase: string; source: ResolvedKey['passphraseSource'] }> {
  if (opts.keypass !== undefined) return { passphrase: opts.keypass, source: 'option' };
  if (opts.passphraseFile !== undefined) return { passphrase: await readPassphraseFile(opts.passphraseFile), source: 'file' };
  if (env.DSV_KEYPASS !== undefined) return { passphrase: env.DSV_KEYPASS, source: 'env' };
  if (io.interactive && io.promptSecret) return { passphrase: await io.promptSecret(question), source: 'prompt' };
  return { passphrase: '', source: 'none' };
}

/**
 * What a key file holds, by content (as trust files are recognised): OpenPGP (armoured or a binary packet)
 * is gpg, a PEM or DER private key is pki; undefined when `key` is no readable file (a key id, a plugin key)
 * or its content says neither.
 */
export async function keyTypeOfFile(key: string): Promise<{ type: 'gpg' | 'pki'; what: string } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(key);
  } catch {
    return undefined;
  }
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  if (head.includes('-----BEGIN PGP ')) return { type: 'gpg', what: 'an OpenPGP key' };
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(head)) return { type: 'pki', what: 'a PEM private key' };
  if (/-----BEGIN /.test(head)) return undefined;
  const first = bytes[0] ?? 0;
  if (first === 0x30) return { type: 'pki', what: 'a DER private key' };
  if ((first & 0x80) !== 0) return { type: 'gpg', what: 'an OpenPGP key' };
  return undefined;
}

/**
 * The key type for `key`: the option, else DSV_KEYTYPE; neither given, a key file's content decides (else
 * gpg). A built-in type (gpg, pki) that contradicts the file's content is a usage error naming both.
 */
export async function resolveKeyTypeFor(key: string, keyType: string | undefined, env: NodeJS.ProcessEnv, optionName = '--key'): Promise<string> {
  const given = keyType ?? env.DSV_KEYTYPE;
  const explicit = given !== undefined && given.trim() !== '';
  const t = resolveKeyType(keyType, env);
  if (explicit && t !== 'gpg' && t !== 'pki') return t;
  const found = await keyTypeOfFile(key);
  if (!found) return t;
  if (explicit && found.type !== t) {
    const from = keyType !== undefined ? `the key type given is ${t}` : `DSV_KEYTYPE is ${given}`;
    throw new DsvError('Usage', `${optionName} ${key} is ${found.what} (a ${found.type} key), but ${from}: give -t ${found.type} or leave the type out`, { file: key });
  }
  return found.type;
}

export async function resolveKey(opts: KeyOptions, env: NodeJS.ProcessEnv, io: TerminalIo, optionName = '--key'): Promise<ResolvedKey> {
  const key = resolveKeyName(opts.key, env, optionName);
  const keyType = await resolveKeyTypeFor(key, opts.keyType, env, optionName);
  const { passphrase, source } = await resolvePassphrase(opts, env, io, `Passphrase for ${key} (empty for none): `);
  return { key, keyType, passphrase, passphraseSource: source };
}

/**
 * Reads a line from a terminal without echoing it. Backspace edits, Ctrl-C / Ctrl-D abort
 * (Usage error). The terminal is restored whatever happens.
 */
export function promptSecretOnTty(
  question: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(question);
    const wasRaw = input.isRaw;
    if (typeof input.setRawMode === 'function') input.setRawMode(true);
    input.resume();
    let answer = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      if (typeof input.setRawMode === 'function') input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new DsvError('Usage', 'passphrase prompt aborted'));
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else if (ch >= ' ') answer += ch;
      }
    };
    input.on('data', onData);
  });
}
