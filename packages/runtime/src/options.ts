import { isSignatureKind, SIGNATURE_KINDS, type SignatureKind } from '@dsv/core/formats';

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
