/**
 * @dsv/signer-gpg — OpenPGP signatures for dsv: ASCII-armoured detached signatures over the signed
 * bytes (for embedded image signatures, the digest string "sha256:<hex>"), compatible with
 * docker-sign-verify and `gpg --verify`.
 */
import type { SignerOptions, SignerPlugin, VerifierOptions } from '@dsv/core';
import { createGpgSigner } from './signer.js';
import { createGpgVerifier, isPgpSignature } from './verifier.js';

export { createGpgSigner, type GpgSignerOptions } from './signer.js';
export { createGpgVerifier, isPgpSignature, type GpgVerifierOptions } from './verifier.js';

function stringSetting(settings: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = settings?.[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export const gpgPlugin: SignerPlugin = {
  type: 'gpg',
  recognizes: isPgpSignature,
  createSigner: (options: SignerOptions) =>
    createGpgSigner({
      key: options.key,
      passphrase: options.passphrase,
      gpgHome: stringSetting(options.settings, 'gpgHome'),
      signWith: stringSetting(options.settings, 'signWith') === 'gpg' ? 'gpg' : 'auto',
    }),
  createVerifier: (options: VerifierOptions) =>
    createGpgVerifier({
      trust: options.trust,
      gpgHome: stringSetting(options.settings, 'gpgHome'),
      now: options.settings?.now instanceof Date ? options.settings.now : undefined,
    }),
};

export default gpgPlugin;
