// The CommonJS dependencies (tweetnacl, @sigstore/bundle, @sigstore/protobuf-specs), required on first use, not at import.
import { createRequire } from 'node:module';
import type Nacl from 'tweetnacl';
import type * as SigstoreBundle from '@sigstore/bundle';
import type * as ProtobufSpecs from '@sigstore/protobuf-specs';

// Every command that reads or carries `.sig` attachments imports this package, and most never decrypt a cosign
// key, parse a Sigstore bundle or read a trusted root: required here, their ≈ 0.2 MB of code is evaluated only
// when one is (in the apps' bundles, esbuild keeps a require()d CommonJS module unevaluated until the call).
// A plain dsv-copy starts faster by that much (bench/NOTES.md §21).
const require = createRequire(import.meta.url);

let nacl: typeof Nacl | undefined;
let bundle: typeof SigstoreBundle | undefined;
let specs: typeof ProtobufSpecs | undefined;

/** tweetnacl (the secretbox of cosign's encrypted private keys). */
export const naclLib = (): typeof Nacl => (nacl ??= require('tweetnacl') as typeof Nacl);
/** @sigstore/bundle (Sigstore bundle parsing and validation). */
export const sigstoreBundleLib = (): typeof SigstoreBundle => (bundle ??= require('@sigstore/bundle') as typeof SigstoreBundle);
/** @sigstore/protobuf-specs (the TrustedRoot message). */
export const protobufSpecsLib = (): typeof ProtobufSpecs => (specs ??= require('@sigstore/protobuf-specs') as typeof ProtobufSpecs);
