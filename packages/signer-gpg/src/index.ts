/**
 * @dsv/signer-gpg — OpenPGP signatures for dsv: ASCII-armoured detached signatures over the signed
 * bytes (for embedded image signatures, the digest string "sha256:<hex>"), compatible with
 * docker-sign-verify and `gpg --verify`.
 *
 * Importing this package is cheap: the plugin object and `isPgpSignature` need no OpenPGP code, and
 * the signer / verifier modules (which load openpgp.js) are imported on first use only.
 */
import { loadOnce, type Signer, type SignerOptions, type SignerPlugin, type VerifierOptions } from '@dsv/core/formats';
import { isPgpSignature } from './detect.js';
import type { GpgSignerOptions } from './signer.js';
import type { GpgVerifier, GpgVerifierOptions } from './verifier.js';
import type { GpgProcessOptions } from './gpg.js';

export { isPgpSignature };
export type { GpgSignerOptions, GpgVerifierOptions, GpgProcessOptions };

/** How gpg is started (binary, environment): set once by the composition root; applied when gpg.js loads. */
let gpgProcess: GpgProcessOptions = {};
export function configureGpgProcess(options: GpgProcessOptions): void {
  gpgProcess = { ...options };
}
const configured = async <T>(mod: Promise<T>): Promise<T> => {
  (await import('./gpg.js')).configureGpgProcess(gpgProcess);
  return mod;
};

/** The signer and verifier modules (and with them openpgp.js), each loaded on first use. */
const loadSigner = loadOnce(() => import('./signer.js'));
const loadVerifier = loadOnce(() => import('./verifier.js'));

/** A Signer for a key file or a key in a GnuPG home (see GpgSignerOptions). */
export async function createGpgSigner(opts: GpgSignerOptions): Promise<Signer> {
  return (await configured(loadSigner())).createGpgSigner(opts);
}

/**
 * A Verifier trusting the given key files as given, and the keys of the GnuPG home that gpg holds at
 * full or ultimate validity.
 */
export async function createGpgVerifier(opts: GpgVerifierOptions = {}): Promise<GpgVerifier> {
  return (await configured(loadVerifier())).createGpgVerifier(opts);
}

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
