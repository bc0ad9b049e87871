/** Size caps on every Notary document a hostile server could send (a repository's metadata is small). */
export interface TrustLimits {
  /** root.json (certificates for a few keys). */
  root: number;
  /** timestamp.json (one hash entry). */
  timestamp: number;
  /** snapshot.json (one entry per role). */
  snapshot: number;
  /** targets.json and each delegation role (one entry per tag). */
  targets: number;
  /** At most this many delegation roles are walked. */
  maxDelegations: number;
  /** At most this many intermediate root versions are walked on a rotation. */
  maxRootHops: number;
  /** At most this many redirects on one fetch (same host only). */
  maxRedirects: number;
}

export const DEFAULT_LIMITS: TrustLimits = {
  root: 512 * 1024,
  timestamp: 64 * 1024,
  snapshot: 1024 * 1024,
  targets: 8 * 1024 * 1024,
  maxDelegations: 256,
  maxRootHops: 64,
  maxRedirects: 3,
};
