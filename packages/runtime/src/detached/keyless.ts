/**
 * cosign's keyless verification flags (`--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
 * `--ca-roots`, `--rekor-public-key`, `--trusted-root`) and `--sign-identity` turned into the one
 * sigstoreSigned requirement they mean, every file read and checked first so a bad one is a usage error.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DsvError, formatDockerReference, parseDockerReference } from '@dsv/core/formats';
import type { IdentityMatcher, KeySource, SigstoreFulcio, SigstoreSignedRequirement } from '@dsv/policy';
import { fullMatchPattern, parseTrustedRoot, readCertificates, readPublicKeys } from '@dsv/signature-cosign';
import { KEYLESS_FLAGS, type KeylessFlags } from './keyless-flags.js';

export { firstKeylessFlag, KEYLESS_FLAGS, type KeylessFlags } from './keyless-flags.js';

async function readFlagFile(path: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DsvError('Usage', `${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`}`);
  }
}

/**
 * The image identity a detached signature must claim: `--sign-identity REF` (a repository: exactRepository;
 * with a tag or digest: exactReference), else the image's own reference (matchRepoDigestOrExact).
 */
export function signedIdentityMatcher(signIdentity: string | undefined): IdentityMatcher {
  if (signIdentity === undefined) return { type: 'matchRepoDigestOrExact' };
  let ref;
  try {
    ref = parseDockerReference(signIdentity, { defaultRegistry: 'docker.io' });
  } catch (e) {
    throw new DsvError('Usage', `--sign-identity ${JSON.stringify(signIdentity)} is not an image reference: ${(e as Error).message}`);
  }
  // parseDockerReference fills in :latest; whether a tag or digest was written is read from the text.
  const named = signIdentity.includes('@') || signIdentity.slice(signIdentity.lastIndexOf('/') + 1).includes(':');
  if (!named) return { type: 'exactRepository', dockerRepository: `${ref.registry}/${ref.repository}` };
  return { type: 'exactReference', dockerReference: formatDockerReference(ref) };
}

/** What the keyless flags mean, for "Judging by …". */
export function describeKeyless(f: KeylessFlags): string {
  const id = f.certificateIdentity ?? `/${f.certificateIdentityRegexp}/`;
  const issuer = f.certificateOidcIssuer ?? `/${f.certificateOidcIssuerRegexp}/`;
  const material = f.trustedRoot !== undefined ? `trusted root ${f.trustedRoot}` : `CA ${f.caRoots}, Rekor key ${f.rekorPublicKey}`;
  return `keyless identity ${id}, issuer ${issuer} (${material})`;
}

/**
 * The sigstoreSigned requirement of the keyless flags. Usage errors (exit 2) name the flag: identity and
 * issuer are both required (exactly or by pattern, not both ways), and the trust material is either
 * --trusted-root or --ca-roots with --rekor-public-key. Files are read and parsed here.
 */
export async function keylessRequirement(f: KeylessFlags, signedIdentity: IdentityMatcher): Promise<SigstoreSignedRequirement> {
  const pair = (exact: string | undefined, re: string | undefined, a: string, b: string): void => {
    if (exact !== undefined && re !== undefined) throw new DsvError('Usage', `${a} and ${b} cannot be combined (give one)`);
  };
  pair(f.certificateIdentity, f.certificateIdentityRegexp, '--certificate-identity', '--certificate-identity-regexp');
  pair(f.certificateOidcIssuer, f.certificateOidcIssuerRegexp, '--certificate-oidc-issuer', '--certificate-oidc-issuer-regexp');
  for (const [k, flag] of KEYLESS_FLAGS) if (f[k] === '') throw new DsvError('Usage', `${flag} needs a value`);
  if (f.certificateIdentity === undefined && f.certificateIdentityRegexp === undefined) {
    throw new DsvError('Usage', 'keyless verification needs --certificate-identity (or --certificate-identity-regexp): the email or URI the certificate must name');
  }
  if (f.certificateOidcIssuer === undefined && f.certificateOidcIssuerRegexp === undefined) {
    throw new DsvError('Usage', 'keyless verification needs --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp): the OIDC issuer the certificate must name');
  }
  if (f.certificateIdentityRegexp !== undefined) fullMatchPattern(f.certificateIdentityRegexp, '--certificate-identity-regexp');
  if (f.certificateOidcIssuerRegexp !== undefined) fullMatchPattern(f.certificateOidcIssuerRegexp, '--certificate-oidc-issuer-regexp');

  const fulcio: SigstoreFulcio = {
    ...(f.certificateIdentity !== undefined ? { subjectEmail: f.certificateIdentity } : {}),
    ...(f.certificateIdentityRegexp !== undefined ? { subjectRegExp: f.certificateIdentityRegexp } : {}),
    ...(f.certificateOidcIssuer !== undefined ? { oidcIssuer: f.certificateOidcIssuer } : {}),
    ...(f.certificateOidcIssuerRegexp !== undefined ? { oidcIssuerRegExp: f.certificateOidcIssuerRegexp } : {}),
  };
  const path = (p: string): KeySource => ({ kind: 'path', path: resolve(p) });
  let rekorPublicKeys: KeySource[] = [];
  if (f.trustedRoot !== undefined) {
    const other = f.caRoots !== undefined ? '--ca-roots' : f.rekorPublicKey !== undefined ? '--rekor-public-key' : undefined;
    if (other) throw new DsvError('Usage', `--trusted-root and ${other} cannot be combined (the trusted root names the CAs and the Rekor keys)`);
    parseTrustedRoot(await readFlagFile(f.trustedRoot, '--trusted-root'), `--trusted-root ${f.trustedRoot}`);
    fulcio.trustedRoot = path(f.trustedRoot);
  } else {
    if (f.caRoots === undefined && f.rekorPublicKey === undefined) {
      throw new DsvError('Usage', 'keyless verification needs --trusted-root FILE, or --ca-roots FILE with --rekor-public-key FILE');
    }
    if (f.caRoots === undefined) throw new DsvError('Usage', '--rekor-public-key needs --ca-roots FILE (the Fulcio or PKI CA certificates), or use --trusted-root FILE');
    if (f.rekorPublicKey === undefined) throw new DsvError('Usage', '--ca-roots needs --rekor-public-key FILE (keyless signatures are checked offline by their Rekor entry), or use --trusted-root FILE');
    readCertificates(await readFlagFile(f.caRoots, '--ca-roots'), `--ca-roots ${f.caRoots}`);
    readPublicKeys(await readFlagFile(f.rekorPublicKey, '--rekor-public-key'), `--rekor-public-key ${f.rekorPublicKey}`);
    fulcio.ca = path(f.caRoots);
    rekorPublicKeys = [path(f.rekorPublicKey)];
  }
  return { type: 'sigstoreSigned', keys: [], fulcio, rekorPublicKeys, signedIdentity };
}
