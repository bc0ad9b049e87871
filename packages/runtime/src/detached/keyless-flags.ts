/** The names of cosign's keyless verification flags and their parsed values (no imports: the command parser loads it at start-up). */
export interface KeylessFlags {
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  caRoots?: string;
  rekorPublicKey?: string;
  trustedRoot?: string;
}

/** The flag names, as typed, in the order messages list them. */
export const KEYLESS_FLAGS: ReadonlyArray<[keyof KeylessFlags, string]> = [
  ['certificateIdentity', '--certificate-identity'],
  ['certificateIdentityRegexp', '--certificate-identity-regexp'],
  ['certificateOidcIssuer', '--certificate-oidc-issuer'],
  ['certificateOidcIssuerRegexp', '--certificate-oidc-issuer-regexp'],
  ['caRoots', '--ca-roots'],
  ['rekorPublicKey', '--rekor-public-key'],
  ['trustedRoot', '--trusted-root'],
];

/** The first keyless flag given (undefined: none). */
export function firstKeylessFlag(f: KeylessFlags): string | undefined {
  return KEYLESS_FLAGS.find(([k]) => f[k] !== undefined)?.[1];
}
