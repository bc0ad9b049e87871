// The public package API for importers: re-exports only.
export { dockerTransport, createDockerTransport, DockerImageReference, DockerImageSource, DockerImageDestination } from './transport.js';
export type { DockerTransportOptions } from './transport.js';
export { RegistryClient, MANIFEST_ACCEPT, TOKEN_LIMIT_BYTES, nextLink } from './client.js';
export type { RegistryClientOptions, ClientStats, ManifestResult, ManifestHead, ExtensionRequestFunction } from './client.js';
export { REFERRERS_LIMIT_BYTES } from './client.js';
export type { ReferrersResult } from './client.js';
export { parseAuthChallenge } from './auth.js';
export type { AuthChallenge } from './auth.js';
export { resolveCredentials, resolveCredentialsInFiles, credentialHelperGet, defaultCredentialsStore, defaultChildEnv, DEFAULT_HELPER_PATH, isDockerHub, DOCKER_HUB_CONFIG_KEY } from './credentials.js';
export type { Credentials, ChildEnv } from './credentials.js';
export { isLoopbackHost, isListedInsecure, loadCertsD, defaultCertsDirs, probeTls, trustRoots, trustContext, SYSTEM_CA_FILES } from './tls.js';
export type { TlsMaterial, TlsProbe, TrustRoots } from './tls.js';
export { classifyAddress } from './addresses.js';
export type { AddressClass } from './addresses.js';
export { MIN_TRANSFER_BYTES_PER_SECOND } from './deadline.js';
