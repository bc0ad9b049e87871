/**
 * Key validity in a GnuPG home, as gpg computes it from its trust database (the web of trust, owner
 * trust, ultimately trusted own keys): read with `gpg --with-colons --list-keys`. Like gpg's
 * TRUST_FULLY / TRUST_ULTIMATE (and docker-sign-verify), only full and ultimate validity count.
 */
import { GpgMissingError, gpgMessage, runGpg } from './gpg.js';

/** gpg's validity letters (field 2 of a `pub` record), by the word gpg's documentation uses. */
const VALIDITY_WORDS: Record<string, string> = {
  'o': 'unknown', '-': 'unknown', 'q': 'undefined', 'n': 'never', 'm': 'marginal', 'f': 'full',
  'u': 'ultimate', 'i': 'invalid', 'r': 'revoked', 'e': 'expired', 'd': 'disabled',
};

export function validityWord(letter: string | undefined): string {
  if (letter === undefined || letter === '') return 'unknown';
  return VALIDITY_WORDS[letter] ?? `unknown (${letter})`;
}

/** Full and ultimate validity are trusted; everything else is not. */
export function isTrustedValidity(letter: string | undefined): boolean {
  return letter === 'f' || letter === 'u';
}

/**
 * Primary-key fingerprint (40 or 64 hex, upper case) → validity letter, from `--with-colons` output.
 * A disabled key (capability field holds "D") counts as 'd' whatever its validity.
 */
export function parseValidity(colons: string): Map<string, string> {
  const out = new Map<string, string>();
  let pending: string | undefined; // validity of the last pub record, waiting for its fpr record
  for (const line of colons.split(/\r?\n/)) {
    const f = line.split(':');
    if (f[0] === 'pub') {
      pending = (f[11] ?? '').includes('D') ? 'd' : (f[1] ?? '');
    } else if (f[0] === 'fpr' && pending !== undefined) {
      const fpr = (f[9] ?? '').toUpperCase();
      if (/^(?:[0-9A-F]{40}|[0-9A-F]{64})$/.test(fpr)) out.set(fpr, pending);
      pending = undefined;
    } else if (f[0] === 'sub' || f[0] === 'ssb' || f[0] === 'sec') {
      pending = undefined; // a subkey's fpr record is not the primary key's
    }
  }
  return out;
}

export interface HomeValidity {
  validity: Map<string, string>;
  /** Why validity could not be read (then every key of the home is untrusted). */
  problem?: string;
}

/** Reads the validity of every key in `home` (gpg updates its trust database first when it is stale). */
export async function readHomeValidity(home: string): Promise<HomeValidity> {
  try {
    const res = await runGpg(home, ['--with-colons', '--fixed-list-mode', '--list-keys']);
    const validity = parseValidity(res.stdout.toString('utf8'));
    if (res.code !== 0 && validity.size === 0) return { validity, problem: gpgMessage(res) };
    return { validity };
  } catch (e) {
    if (e instanceof GpgMissingError) return { validity: new Map(), problem: e.message };
    throw e;
  }
}
