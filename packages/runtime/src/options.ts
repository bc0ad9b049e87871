import { isSignatureKind, SIGNATURE_KINDS, type SignatureKind } from '@dsv/core/formats';
import { parseProgressMode } from './progress.js';

/** `--progress auto|bar|plain|none` as every dsv command line declares it (yargs). */
export const PROGRESS_OPTION = {
  type: 'string' as const,
  describe: 'auto (a bar on a terminal, per-blob lines when CI is set, else none), bar, plain (per-blob lines) or none',
  coerce: parseProgressMode,
};

/** The `-s/--signature-type` option as every dsv command line declares it (yargs), with its own help text. */
export function signatureTypeOption(describe: string) {
  return {
    alias: 's',
    type: 'string' as const,
    default: 'sign',
    describe,
    coerce: (v: string): SignatureKind => {
      const k = String(v).toLowerCase();
      if (!isSignatureKind(k)) throw new Error(`invalid --signature-type "${v}" (${SIGNATURE_KINDS.join(', ')})`);
      return k;
    },
  };
}
