/** Helpers for the runtime: where docker finds the trust server, trust dir and CA, and the check that served manifest bytes are the signed target. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DsvError } from '@dsv/core';

/** The served manifest must be exactly the signed target: same length, same sha256 over the bytes received. */
export function assertManifestMatches(target: { digest: string; length: number }, manifest: Uint8Array): void {
  const got = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  if (got !== target.digest)
    throw new DsvError('DigestMismatch', `the registry serves ${got}, but trust data signs ${target.digest}`, { expected: target.digest, actual: got });
  if (manifest.length !== target.length)
    throw new DsvError('SizeMismatch', `the registry serves ${manifest.length} bytes, but trust data signs ${target.length}`, { expected: target.length, actual: manifest.length });
}

/**
 * As the docker CLI: the configured server (the runtime passes `DOCKER_CONTENT_TRUST_SERVER`), else
 * notary.docker.io for Docker Hub, else `https://<registry>`.
 */
export function trustServerFor(registry: string, configured?: string): string {
  if (configured) return configured;
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') return 'https://notary.docker.io';
  return `https://${registry}`;
}

/** The docker CLI's files under its config dir: the trust dir and the trust server's CA (`tls/<host:port>/ca.crt`). */
export function dockerTrustPaths(dockerConfigDir: string, server: string): { trustDir: string; caFile: string } {
  return { trustDir: join(dockerConfigDir, 'trust'), caFile: join(dockerConfigDir, 'tls', new URL(server).host, 'ca.crt') };
}
