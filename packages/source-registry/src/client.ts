// RegistryClient: a thin Docker Registry HTTP API v2 client composed from the layers (connection, scheme, auth, retry, redirect) and the operations (manifests, blobs, uploads, pagination).
import type { Readable } from 'node:stream';
import type { Digest } from '@dsv/core/formats';
import { getBlob, hasBlob } from './blobs.js';
import { clientConfig } from './config.js';
import { extensionRequest, supportsSignatures, type ExtensionRequestFunction } from './extensions.js';
import { deleteManifest, getManifest, headManifest, putManifest } from './manifests.js';
import { listRepositories, listTags } from './pagination.js';
import { Pipeline } from './pipeline.js';
import { listReferrers, type ReferrersResult } from './referrers.js';
import type { ClientStats, ManifestHead, ManifestResult, RegistryClientOptions } from './types.js';
import { mountBlob, uploadBlob } from './uploads.js';

export { MANIFEST_ACCEPT } from './manifests.js';
export { TOKEN_LIMIT_BYTES } from './authorizer.js';
export { nextLink } from './pagination.js';
export type { ExtensionRequestFunction } from './extensions.js';
export type { ClientStats, ManifestHead, ManifestResult, RegistryClientOptions } from './types.js';
export { REFERRERS_LIMIT_BYTES, type ReferrersResult } from './referrers.js';

/**
 * A Docker Registry HTTP API v2 client for one registry, on undici.
 *
 * Scheme: HTTPS with verification; CAs and client certificates from certs.d. Plain HTTP is used only
 * for loopback hosts named as such and for listed insecure registries, and only when the HTTPS
 * handshake itself fails (the server does not speak TLS) — decided once, by a probe before the first request.
 * A listed insecure registry is also reached over HTTPS without certificate verification.
 */
export class RegistryClient {
  /** The registry name as references write it. */
  readonly registry: string;
  /** host[:port] actually contacted (Docker Hub: registry-1.docker.io). */
  readonly endpoint: string;
  readonly stats: ClientStats;
  private readonly p: Pipeline;

  constructor(opts: RegistryClientOptions) {
    const cfg = clientConfig(opts);
    this.registry = cfg.registry;
    this.endpoint = cfg.endpoint;
    this.stats = cfg.stats;
    this.p = new Pipeline(cfg);
  }

  /**
   * Starts resolving the scheme and the auth challenge now, without waiting; a failure here is not
   * reported: the first request tries again and reports it.
   */
  prepare(): void {
    this.p.scheme.baseUrl().catch(() => undefined);
  }

  /**
   * The manifest (or list/index) `reference` (tag or digest) names, as exact bytes. The digest is
   * ours; a digest reference is verified; the registry's Docker-Content-Digest is never trusted.
   */
  getManifest(repository: string, reference: string): Promise<ManifestResult> {
    return getManifest(this.p, repository, reference);
  }

  /** HEAD a manifest: undefined when it does not exist. */
  headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    return headManifest(this.p, repository, reference);
  }

  /** PUTs a manifest under a tag or digest with its Content-Type; returns our digest of the bytes. */
  putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    return putManifest(this.p, repository, reference, bytes, mediaType);
  }

  /** Deletes a manifest by digest (registries with delete enabled). */
  deleteManifest(repository: string, digest: string): Promise<void> {
    return deleteManifest(this.p, repository, digest);
  }

  /**
   * A blob as a stream. Hashes while streaming (unless `verify: false`) and fails (instead of ending) when
   * the bytes do not match `digest` (and `size`, when given); a connection that breaks mid-blob is resumed.
   */
  getBlob(repository: string, digest: string, opts: { size?: number; verify?: boolean } = {}): Promise<Readable> {
    return getBlob(this.p, repository, digest, opts);
  }

  /** HEAD a blob: true when the repository has it. */
  hasBlob(repository: string, digest: string): Promise<boolean> {
    return hasBlob(this.p, repository, digest);
  }

  /** Cross-repository mount: true when the registry mounted the blob, false when it must be uploaded. */
  mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean> {
    return mountBlob(this.p, repository, digest, fromRepository);
  }

  /**
   * Uploads a blob, hashing while it streams; the final PUT is sent only when digest and size match,
   * otherwise the upload is cancelled and DigestMismatch/SizeMismatch thrown.
   */
  uploadBlob(
    repository: string,
    digest: string,
    stream: Readable | AsyncIterable<Uint8Array>,
    opts: { size?: number; chunkSize?: number; verify?: boolean } = {},
  ): Promise<void> {
    return uploadBlob(this.p, repository, digest, stream, opts);
  }

  /** Tags of a repository, following Link pagination; `pageSize` sets `?n=`; `maxItems` stops after that many. */
  listTags(repository: string, opts: { pageSize?: number; maxItems?: number } = {}): Promise<string[]> {
    return listTags(this.p, repository, opts.pageSize, opts.maxItems);
  }

  /**
   * `GET /v2/` with the credentials (Basic, or a Bearer token asked for without a scope, as `docker login`
   * does): resolves when the registry accepts them, AuthFailed when it refuses them.
   */
  async checkLogin(): Promise<void> {
    const url = await this.p.url('/v2/');
    const res = await this.p.send({ what: 'login check (GET /v2/)', method: 'GET', url, scopes: [], followRedirects: true });
    await this.p.expect(res, [200], 'login check (GET /v2/)');
    await res.body.dump().catch(() => undefined);
  }

  /** Repositories in the registry (`/v2/_catalog`, Link pagination), where the registry allows it. */
  listRepositories(opts: { pageSize?: number } = {}): Promise<string[]> {
    return listRepositories(this.p, opts.pageSize);
  }

  /** The registry's base URL (`https://host[:port]/`, or http:// where plain HTTP was chosen), resolving the scheme first. */
  async baseUrl(): Promise<string> {
    return (await this.p.scheme.baseUrl()).href;
  }

  /** Whether the registry's `GET /v2/` answered `X-Registry-Supports-Signatures: 1` (the signature extension API). */
  supportsSignatures(): Promise<boolean> {
    return supportsSignatures(this.p);
  }

  /**
   * A fetch-compatible function for `/extensions/v2/<repository>/...` on this registry, authenticated and
   * retried like every registry call (pull scope for reads, push for writes); other URLs are refused.
   */
  extensionRequest(repository: string): ExtensionRequestFunction {
    return extensionRequest(this.p, repository, this.registry);
  }

  /**
   * The OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`): the index of manifests whose subject is
   * `digest` (bounded read), with the filters the registry applied; undefined when the registry does not
   * answer 200 with an OCI index (no API, e.g. distribution 2.8's 404: use the referrers tag schema).
   */
  listReferrers(repository: string, digest: string, opts: { artifactType?: string } = {}): Promise<ReferrersResult | undefined> {
    return listReferrers(this.p, repository, digest, opts);
  }

  async close(): Promise<void> {
    await this.p.close();
  }
}
