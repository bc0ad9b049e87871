/** The option tables of `docker sign` and `docker verify` (help text and parsing). */
import type { CommandSpec, OptionSpec } from './args.js';
import type { PluginName } from './metadata.js';

const common: OptionSpec[] = [
  { long: 'debug', type: 'bool', description: 'Diagnostics on stderr: endpoint, references, digests, layers, signatures, stack traces' },
  { long: 'insecure-registry', type: 'list', valueName: 'host', description: 'Allow plain HTTP / unverified TLS for this registry HOST[:PORT] (repeatable; also DSV_INSECURE_REGISTRIES)' },
  { long: 'json', type: 'bool', description: 'Print a machine-readable report on stdout' },
  { long: 'platform', type: 'string', valueName: 'os/arch', description: 'Only this platform of a multi-platform registry image: os/arch[/variant]' },
  { long: 'progress', type: 'string', valueName: 'mode', description: 'auto (a bar on a terminal, per-blob lines when CI is set, else none), bar, plain (per-blob lines) or none' },
  { long: 'quiet', short: 'q', type: 'bool', description: 'Only errors and the verdict line' },
];

export const SIGN_SPEC: CommandSpec = {
  name: 'docker sign',
  usage: '[OPTIONS] IMAGE [DEST]',
  description: 'Sign an image: check its integrity, embed a signature, store it as DEST (default: IMAGE)',
  options: [
    ...common,
    { long: 'dry-run', type: 'bool', description: 'Do everything but write; print what would be written' },
    { long: 'key', short: 'k', type: 'string', description: 'Signing key: GnuPG key id, fingerprint or key file; PKI key file; or a plugin key (env DSV_KEYID)' },
    { long: 'key-type', short: 't', type: 'string', valueName: 'type', description: 'Signature type: gpg, pki or a plugin type (env DSV_KEYTYPE; default gpg)' },
    { long: 'passphrase-file', type: 'string', valueName: 'file', description: 'Read the key passphrase from this file (else env DSV_KEYPASS, else prompted on a terminal)' },
    { long: 'pki-format', type: 'string', valueName: 'format', description: "PKI signature armour: legacy (docker-sign-verify's; default for a bare RSA key) or v2 (env DSV_PKI_FORMAT)" },
    { long: 'remote', type: 'bool', description: 'Sign the image in its registry (docker://IMAGE -> docker://DEST), not in the local image store' },
    { long: 'signature-type', short: 's', type: 'string', valueName: 'type', description: 'sign (co-sign), endorse (countersign) or resign (replace all signatures)', defaultText: 'sign' },
    { long: 'signer-opt', type: 'list', valueName: 'opt', description: 'A setting for the signer plugin, [TYPE:]KEY=VALUE (repeatable)' },
  ],
  epilog: `IMAGE is signed in the image store of the Docker daemon this CLI talks to (-H, --context,
DOCKER_HOST) and tagged DEST. With --remote, or when IMAGE is not in the local store, it is signed
in its registry and pushed as DEST, with the credentials of \`docker login\`.
Exit codes: 0 signed; 1 IMAGE failed its integrity check; 2 usage or input error;
3 operational failure.`,
};

export const VERIFY_SPEC: CommandSpec = {
  name: 'docker verify',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Verify images: the integrity of every layer, and the embedded signatures against trusted keys',
  options: [
    ...common,
    { long: 'remote', type: 'bool', description: 'Verify the image in its registry, not in the local image store' },
    { long: 'trust', type: 'list', valueName: 'file', description: 'Trusted key / certificate file, [TYPE:]FILE (repeatable; also DSV_TRUST; the GnuPG home and PKI trust store are always trusted); cosign:FILE checks cosign signatures' },
    { long: 'policy', type: 'string', valueName: 'file', description: 'Judge by this containers-policy.json (signedBy, sigstoreSigned, dsvSigned; env DSV_POLICY); local images by the signatures of the registry manifest they came from' },
    { long: 'registries.d', type: 'string', valueName: 'dir', description: 'registries.d directory for simple-signing lookaside stores' },
    { long: 'certificate-identity', type: 'string', valueName: 'id', description: 'Keyless cosign: the email or URI the signing certificate must name (any SAN)' },
    { long: 'certificate-identity-regexp', type: 'string', valueName: 're', description: 'Keyless cosign: a pattern the whole SAN must match' },
    { long: 'certificate-oidc-issuer', type: 'string', valueName: 'url', description: 'Keyless cosign: the OIDC issuer the certificate must name' },
    { long: 'certificate-oidc-issuer-regexp', type: 'string', valueName: 're', description: 'Keyless cosign: a pattern the whole OIDC issuer must match' },
    { long: 'ca-roots', type: 'string', valueName: 'file', description: 'Keyless cosign: PEM Fulcio / PKI CA certificates; with --rekor-public-key' },
    { long: 'rekor-public-key', type: 'string', valueName: 'file', description: 'Keyless cosign: the Rekor log\'s PEM public key; with --ca-roots' },
    { long: 'trusted-root', type: 'string', valueName: 'file', description: 'Keyless cosign: a Sigstore trusted_root.json (CAs and Rekor keys, each within its validFor)' },
    { long: 'sign-identity', type: 'string', valueName: 'ref', description: 'With --trust cosign: or keyless: the image reference or repository signatures must claim' },
  ],
  epilog: `Local images are checked on disk, file by file, when Docker's store is readable (its root
from the daemon, or DSV_DOCKER_ROOT); otherwise through the Docker daemon.
Exit codes: 0 verified; 1 not trusted (integrity or signature failure, unsigned);
2 usage or input error; 3 operational failure.`,
};

export const SPECS: Record<PluginName, CommandSpec> = { sign: SIGN_SPEC, verify: VERIFY_SPEC };
