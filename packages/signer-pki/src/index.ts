/**
 * @dsv/signer-pki — X.509 / raw-key signatures with node:crypto: RSA (PKCS#1 v1.5, PSS), ECDSA P-256/P-384,
 * Ed25519; reads and writes docker-sign-verify's `PKI SIGNATURE` armour (written for RSA keys without
 * a certificate chain) and the versioned `DSV PKI SIGNATURE` armour (see README.md).
 */
import { DsvError, loadOnce, type Signer, type SignerOptions, type SignerPlugin, type Verifier, type VerifierOptions } from '@dsv/core/formats';
import { isPkiSignature } from './armor.js';
import type { PkiSignerOptions } from './signer.js';
import type { PkiVerifierOptions } from './verifier.js';

export { defaultPkiDatastore } from './datastore.js';
export type { PkiSignerOptions, PkiVerifierOptions };

// Importing this package is cheap: the signer and verifier modules (certificate chains, DER, key
// handling) are imported on first use only, as @dsv/signer-gpg does with openpgp.js.
const loadSigner = loadOnce(() => import('./signer.js'));
const loadVerifier = loadOnce(() => import('./verifier.js'));

/** A Signer for a PEM/DER private key (with its certificate chain when the file holds one). */
export async function createPkiSigner(opts: PkiSignerOptions): Promise<Signer> {
  return (await loadSigner()).createPkiSigner(opts);
}

/** A Verifier trusting the given certificate / public key files and the PKI trust store. */
export async function createPkiVerifier(opts: PkiVerifierOptions = {}): Promise<Verifier> {
  return (await loadVerifier()).createPkiVerifier(opts);
}

export {
  isPkiSignature,
  parsePkiSignature,
  PKI_ALGORITHMS,
  LEGACY_BEGIN,
  V2_BEGIN,
  type PkiAlgorithm,
  type ParsedPkiSignature,
} from './armor.js';

function setting<T>(settings: Record<string, unknown> | undefined, name: string, check: (v: unknown) => v is T): T | undefined {
  const v = settings?.[name];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw new DsvError('Usage', `PKI setting "${name}" has an unusable value`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** The 'pki' SignerPlugin. Settings: rsaPadding ('pkcs1'|'pss'), format ('legacy'|'v2', any case; unset:
 * legacy for an RSA key without certificates, else v2), legacyFormat (boolean, the same as format),
 * certificates (file), and for verification: datastore (file or false), now (Date or ISO string). */
export const pkiPlugin: SignerPlugin = {
  type: 'pki',
  recognizes: isPkiSignature,
  async createSigner(options: SignerOptions) {
    const s = options.settings;
    const opts: PkiSignerOptions = { key: options.key };
    if (options.passphrase !== undefined) opts.passphrase = options.passphrase;
    const padding = setting(s, 'rsaPadding', isString);
    if (padding !== undefined) opts.rsaPadding = padding as PkiSignerOptions['rsaPadding'];
    const legacyFormat = setting(s, 'legacyFormat', isBool);
    const format = setting(s, 'format', isString)?.trim().toLowerCase() || (legacyFormat === undefined ? undefined : legacyFormat ? 'legacy' : 'v2');
    if (format !== undefined) opts.format = format as PkiSignerOptions['format'];
    const certificates = setting(s, 'certificates', isString);
    if (certificates) opts.certificates = certificates;
    return createPkiSigner(opts);
  },
  async createVerifier(options: VerifierOptions) {
    const s = options.settings;
    const opts: PkiVerifierOptions = {};
    if (options.trust) opts.trust = options.trust;
    const ds = s?.datastore;
    if (ds !== undefined) {
      if (ds !== false && typeof ds !== 'string') throw new DsvError('Usage', 'PKI setting "datastore" must be a file or false');
      opts.datastore = ds;
    }
    const now = s?.now;
    if (now !== undefined) {
      const d = now instanceof Date ? now : new Date(String(now));
      if (Number.isNaN(d.getTime())) throw new DsvError('Usage', 'PKI setting "now" must be a date');
      opts.now = d;
    }
    return createPkiVerifier(opts);
  },
};

export default pkiPlugin;
