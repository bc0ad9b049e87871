// The public package API: Docker Content Trust (Notary v1) reading and verification.
export { NotaryClient } from './client.js';
export type { NotaryClientOptions, RoleSummary, TagTarget, TrustState, VerifiedTag } from './client.js';
export { defaultRequest } from './http.js';
export type { RequestFunction, RequestInit as TrustRequestInit, AuthorizeFunction } from './http.js';
export { DEFAULT_LIMITS } from './limits.js';
export type { TrustLimits } from './limits.js';
export { notaryCanonicalJson, keyId } from './canonical.js';
export { canonicalKeyId } from './keys.js';
export type { TufKey } from './canonical.js';
export { assertManifestMatches, trustServerFor, dockerTrustPaths } from './manifest.js';
export { bearerAuthorizer, parseChallenge } from './auth.js';
export type { BearerAuthOptions } from './auth.js';
