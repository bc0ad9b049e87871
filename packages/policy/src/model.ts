/** The parsed policy (containers-policy.json plus dsv's own `dsvSigned`), the format plug-in interface, and verdicts. */

/** How the identity a signature claims is compared with the image's reference (containers-policy.json(5)). */
export type IdentityMatcher =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Key material named by a requirement: a file to read or inline bytes (already base64-decoded). */
export type KeySource = { kind: 'path'; path: string } | { kind: 'data'; data: Uint8Array };

export interface SignedByRequirement {
  type: 'signedBy';
  /** GPGKeys is evaluated; signedByGPGKeys, X509Certificates, signedByX509CAs parse but reject (as containers/image). */
  keyType: 'GPGKeys' | 'signedByGPGKeys' | 'X509Certificates' | 'signedByX509CAs';
  keys: KeySource[];
  signedIdentity: IdentityMatcher;
}

/**
 * Keyless trust. policy.json gives caPath/caData, oidcIssuer and subjectEmail (all required there); the
 * commands' cosign flags may instead give a trusted root and whole-value patterns. The subject matches any
 * email or URI SAN of the certificate; at least one of subjectEmail/subjectRegExp and of
 * oidcIssuer/oidcIssuerRegExp is present.
 */
export interface SigstoreFulcio {
  ca?: KeySource;
  /** A Sigstore trusted_root.json (its CAs and Rekor logs, each with its validFor window); not a policy.json field. */
  trustedRoot?: KeySource;
  oidcIssuer?: string;
  /** Whole-value pattern for the OIDC issuer (--certificate-oidc-issuer-regexp); not a policy.json field. */
  oidcIssuerRegExp?: string;
  subjectEmail?: string;
  /** Whole-value pattern for the SAN (--certificate-identity-regexp); not a policy.json field. */
  subjectRegExp?: string;
}

export interface SigstorePki {
  caRoots: KeySource;
  caIntermediates?: KeySource;
  subjectEmail?: string;
  subjectHostname?: string;
}

export interface SigstoreSignedRequirement {
  type: 'sigstoreSigned';
  /** Public keys (keyPath, keyPaths, keyData, keyDatas); empty when fulcio or pki is used. */
  keys: KeySource[];
  fulcio?: SigstoreFulcio;
  pki?: SigstorePki;
  rekorPublicKeys: KeySource[];
  signedIdentity: IdentityMatcher;
}

/** dsv's own requirement: signatures embedded in the image (docker-sign-verify format). */
export interface DsvSignedRequirement {
  type: 'dsvSigned';
  keys: KeySource[];
  pkiRoots: KeySource[];
  /** any: one valid signature from any key or root; all: every key and every root has a valid signature. */
  require: 'any' | 'all';
}

/**
 * dsv's Docker Content Trust requirement: the image's tag is signed in its Notary v1 trust data (TUF chain
 * from the pinned root) and the signed target is the image's manifest. `server` as `dsv verify --dct --server`;
 * without it, DOCKER_CONTENT_TRUST_SERVER, else the docker CLI's default for the registry.
 */
export interface DockerContentTrustRequirement {
  type: 'dockerContentTrust';
  server?: string;
}

/** containers/image parses it but never accepts an image with it; so do we. */
export interface SignedBaseLayerRequirement {
  type: 'signedBaseLayer';
  baseLayerIdentity: IdentityMatcher;
}

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | SignedByRequirement
  | SigstoreSignedRequirement
  | DsvSignedRequirement
  | DockerContentTrustRequirement
  | SignedBaseLayerRequirement;

export type SignatureRequirementType = 'signedBy' | 'sigstoreSigned' | 'dsvSigned' | 'dockerContentTrust';

export interface Policy {
  default: Requirement[];
  /** transport name -> scope ('' = the transport's default) -> requirements. */
  transports: Map<string, Map<string, Requirement[]>>;
}

/** The image being judged, as the caller resolved it. */
export interface PolicyImage {
  /** dsv transport name: docker, docker-archive, oci, oci-archive, docker-daemon, docker-storage, containerd, ... */
  transport: string;
  /** Transports named by docker references: the image's reference (host/repo:tag or @digest). */
  dockerReference?: string;
  /** Path transports (oci, oci-archive, dir): the absolute path of the layout or archive. */
  path?: string;
  /** Digest of the manifest's exact bytes as read. */
  manifestDigest: string;
  /** The manifest's exact bytes, when the caller has them (lets digests of other algorithms be checked). */
  manifestBytes?: Uint8Array;
  /** Anything a format plug-in needs to find signatures (a source, a lookaside config, ...). */
  context?: unknown;
}

/** One signature a format found for an image, not yet verified. */
export interface SignatureCandidate {
  /** Where it came from, for messages: "lookaside signature-1", "config signature 2", ... */
  origin: string;
  /** Format-private data (bytes, a parsed attachment, ...). */
  data: unknown;
}

/** A key file or inline key named by a requirement, already read. */
export interface KeyMaterial {
  /** 'key' (public keys, keyrings) or 'pki-roots' (CA certificates). */
  kind: 'key' | 'pki-roots';
  /** The path, or "keyData" / "keyDatas[1]" for inline data. */
  origin: string;
  bytes: Uint8Array;
}

/** What verifying one signature established; the engine judges identity and digest itself. */
export interface SignatureFact {
  valid: boolean;
  /** Key id / fingerprint that made the signature, when known. */
  keyId?: string;
  /** Human name of the signer (a user id, a certificate subject), when known. */
  signer?: string;
  /** The docker-reference the signature claims (formats that carry one). */
  identity?: string;
  /** The manifest digest the signature claims (formats that carry one). */
  manifestDigest?: string;
  /** Why it is invalid (or a note when valid). */
  reason?: string;
  /** A stable reason code when invalid: unknown-key, bad-signature, expired, revoked, malformed, digest-mismatch, unsupported. */
  code?: string;
  /** Keyless certificates: the SAN (email or URI) and the OIDC issuer that matched the requirement. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
}

export interface VerifyContext {
  /** The requirement being evaluated (for fields a format needs: fulcio, pki, rekor keys, ...). */
  requirement: Requirement;
  /** Reads a key file the requirement names (resolved against the policy's directory). */
  readKeyFile(path: string): Promise<Uint8Array>;
}

/** A signature format (simple signing, cosign, dsv's embedded signatures) plugged into the engine. */
export interface SignatureFormat {
  readonly name: string;
  /** The requirement types whose signatures this format provides. */
  readonly requirementTypes: readonly SignatureRequirementType[];
  /** Lists the image's signatures in this format (none: an empty list). */
  listSignatures(image: PolicyImage): Promise<SignatureCandidate[]>;
  /** Verifies one signature with the requirement's keys. Must not throw for a bad signature: return valid: false. */
  verifySignature(candidate: SignatureCandidate, keys: KeyMaterial[], image: PolicyImage, ctx: VerifyContext): Promise<SignatureFact>;
}

/** The engine's judgement of one signature under one requirement. */
export interface SignatureJudgement extends SignatureFact {
  format: string;
  origin: string;
  accepted: boolean;
}

export interface RequirementVerdict {
  type: Requirement['type'];
  allowed: boolean;
  reason: string;
  signatures: SignatureJudgement[];
}

export interface Verdict {
  allowed: boolean;
  transport: string;
  /** The scope whose requirements applied: `transports.<t>["<scope>"]` or `default`. */
  scope: string;
  requirements: RequirementVerdict[];
}
