import type { Readable } from 'node:stream';
import type { Digest, DigestAlgorithm } from './digest.js';
import type { Descriptor } from './model.js';

/**
 * Where images live, modelled on containers/image: a Transport parses the text after `name:` into an
 * ImageReference, which opens an ImageSource (read) or ImageDestination (write). Raw bytes pass between
 * them unchanged; every reader hashes what it reads.
 */
export interface Transport {
  /** `docker`, `docker-archive`, `oci`, `oci-archive`, `docker-daemon`, `docker-storage`, ... */
  readonly name: string;
  /** Parses the part after `name:` (for docker, after `docker://`). Throws ReferenceInvalid. */
  parseReference(within: string): ImageReference;
}

/**
 * A Docker Engine endpoint, typed: what `DOCKER_HOST` / `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` or a
 * docker CLI context say, resolved by the runtime (the transports read no environment).
 */
export interface DockerEndpoint {
  /** `unix:///var/run/docker.sock`, `tcp://host:2376`, `npipe://…`. */
  host: string;
  /**
   * Verify the daemon's certificate (and present ours) over TLS. Without it, tcp:// is plain unless TLS
   * files are given (docker --tls: encrypted, unverified).
   */
  tlsVerify?: boolean;
  /** PEM files for TLS: the CA, our client certificate and key. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Where a registry's TLS roots come from beyond certs.d, as docker and skopeo read them. */
export interface TlsRootsSource {
  /** SSL_CERT_FILE: the system bundle instead of the first of the well-known paths. */
  certFile?: string;
  /** SSL_CERT_DIR, already split. */
  certDirs?: string[];
  /** NODE_EXTRA_CA_CERTS. */
  extraCaFile?: string;
}

/**
 * Options every transport may read; each ignores what does not concern it. The runtime fills it from
 * flags and the environment, once; no package under packages/ reads process.env itself.
 */
export interface SystemContext {
  /** Registry auth: path of a docker config.json (DSV_CREDENTIALS_STORE). */
  credentialsStore?: string;
  /**
   * Registry auth files in the order they are asked (containers auth.json or docker config.json format; the
   * first that has an entry for the registry wins). When set, it replaces `credentialsStore` for lookups.
   */
  credentialsFiles?: readonly string[];
  /** Credentials given on the command line (--creds USER:PASS), for every registry this context reaches. */
  registryCredentials?: { username: string; password: string; source?: string };
  /**
   * Per-registry (host[:port]) replacements of the two fields above, for one context that reaches registries
   * with different credentials (dsv-copy's --src-creds / --dest-creds when signatures are carried).
   */
  registryAuth?: Readonly<Record<string, { credentialsFiles?: readonly string[]; registryCredentials?: { username: string; password: string; source?: string } }>>;
  /** Hosts that may be reached over plain HTTP / unverified TLS. */
  insecureRegistries?: string[];
  /** certs.d directories to search (first match wins). */
  certsDirs?: string[];
  /**
   * Per-registry (host[:port]) certificate directories used instead of certs.d for that registry (skopeo's --cert-dir,
   * --src-/--dest-cert-dir): its `*.crt` CAs and `*.cert` + `*.key` client pair.
   */
  registryCertDirs?: Readonly<Record<string, string>>;
  /** DSV_DEFAULT_REGISTRY / DSV_DOCKERHUB_AUTH and friends, already read by the app. */
  defaultRegistry?: string;
  dockerHubAuth?: string;
  /** The Docker Engine endpoint (DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, or a docker context). */
  dockerEndpoint?: DockerEndpoint;
  /** Registry TLS roots beyond certs.d (SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS). */
  tlsRoots?: TlsRootsSource;
  /** Environment for child processes a transport starts (docker credential helpers): PATH, HOME, … */
  childEnv?: Readonly<Record<string, string | undefined>>;
  /** devicemapper thin pool name (DSV_DEVICEMAPPER_POOL), when the store uses devicemapper. */
  devicemapperPool?: string;
  /** Root of Docker's on-disk store (DSV_DOCKER_ROOT, default /var/lib/docker). */
  dockerRoot?: string;
  /**
   * Directory for large temporary files (the docker-daemon: source spools an image export there);
   * default os.tmpdir(). Like containers/image's BigFilesTemporaryDir.
   */
  bigFilesTemporaryDir?: string;
  /** Retries for transient failures. */
  retryTimes?: number;
  /** Called with progress of long transfers (bytes so far / total when known). */
  onProgress?: (event: ProgressEvent) => void;
  /** Diagnostic messages shown with --debug. Never given secrets. */
  debug?: (message: string) => void;
  /** Abort everything. */
  signal?: AbortSignal;
  /**
   * Total deadline of one network request, answer included, in ms (--timeout). Transports scale it for
   * transfers whose size they know (a registry: this plus the time the blob takes at a minimum rate).
   */
  requestTimeoutMs?: number;
  /** Largest uncompressed layer (decompression bombs); default in layer-limits.ts. */
  maxLayerBytes?: number;
  /** Largest uncompressed / compressed layer ratio; default in layer-limits.ts, 0: none. */
  maxLayerRatio?: number;
  /** containerd namespace and socket for references that name none (CONTAINERD_NAMESPACE / CONTAINERD_ADDRESS). */
  containerdNamespace?: string;
  containerdAddress?: string;
  /**
   * Set by the runtime for a run over many images (`dsv sync`, `--all-tags`) or one copy (its signature lookups
   * and the copy): what a transport may share within that run (a registry's connections and tokens), closed
   * once at the run's end.
   * Absent: every source and destination opens and closes its own.
   */
  runResources?: RunResources;
}

/** A run-scoped bag of shared resources, keyed by what the transport says makes two of them interchangeable. */
export interface RunResources {
  /**
   * The resource under `key`, made by `make()` the first time it is asked for; the run closes it (once) at its
   * end, so whoever gets it must not close it. After the run closed, `make()` is not called: it throws.
   */
  shared<T extends { close(): Promise<void> }>(key: string, make: () => T): T;
}

export interface ProgressEvent {
  /** What is moving: a blob digest, or a file name. */
  id: string;
  done: number;
  total?: number;
  phase: 'read' | 'write' | 'verify';
}

export interface ImageReference {
  readonly transport: Transport;
  /** The reference as the transport writes it after `name:`; parseReference(this.within) round-trips. */
  readonly within: string;
  /** The digest the reference names (`…@sha256:…`) when it names one; apps read it here instead of parsing `within`. */
  readonly digest: Digest | undefined;
  /** `transport:within` (`docker://host/repo:tag` for docker). */
  toString(): string;
  newSource(ctx?: SystemContext): Promise<ImageSource>;
  newDestination(ctx?: SystemContext): Promise<ImageDestination>;
}

export interface ImageSource {
  readonly reference: ImageReference;
  /**
   * Whether blobs may be asked for in any order and several at once ('any', the default), or only one at
   * a time, in order ('sequential': a source that reads one stream front to back, like the Engine's image
   * export). Readers honour it: a sequential source is read one blob at a time, in the order its
   * `blobSequence` gives, else in manifest order (config, then layers).
   */
  readonly blobOrder?: 'any' | 'sequential';
  /** A sequential source: `blobs` in the order it serves them cheapest (all of them, each once). */
  blobSequence?(blobs: readonly Descriptor[]): Descriptor[];
  /**
   * Without `instanceDigest`: the manifest (or list/index) the reference names. With it: that child
   * manifest of a list/index, by digest. Returns the exact bytes received. A transport that cannot
   * verify the top-level digest itself still returns the bytes; callers hash them.
   */
  getManifest(instanceDigest?: Digest): Promise<{ bytes: Uint8Array; mediaType: string }>;
  /**
   * A blob's raw bytes as a stream. The stream is NOT guaranteed verified: callers that need integrity
   * pipe it through a DigestingStream (the integrity engine and copy do).
   */
  getBlob(descriptor: Descriptor): Promise<Readable>;
  /** Tags in the same repository, where the transport can list them. */
  listTags?(): Promise<string[]>;
  /**
   * Called by readers only after a blob failed its digest or diff_id check: a source that can say more
   * (e.g. which file of a layer changed on disk) returns that as an error; undefined when it cannot.
   * Lets a source keep its fast path free of per-file checks.
   */
  diagnoseBlob?(descriptor: Descriptor): Promise<DsvErrorLike | undefined>;
  /**
   * Optional, for verification: the digest (in `algorithm`) and length of exactly the bytes
   * getBlob(descriptor) would stream, and their first bytes (up to 512, for the compression magic),
   * hashed where they are stored without handing them over (a worker thread reading files). The integrity
   * engine checks these against the descriptor as it checks a stream, and streams the blob instead when
   * it is compressed. Fails as getBlob or its stream would.
   */
  digestBlob?(descriptor: Descriptor, algorithm: DigestAlgorithm, signal?: AbortSignal): Promise<{ digest: Digest; size: number; head: Uint8Array }>;
  close(): Promise<void>;
}

/** The shape of a DsvError, without importing the class into this types-only module. */
export interface DsvErrorLike extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
}

export interface PutBlobOptions {
  /** A repository on the same registry that holds the blob (cross-repository mount). */
  mountFrom?: ImageReference;
}

export interface ImageDestination {
  readonly reference: ImageReference;
  /** Media types this destination can store, in order of preference (manifest conversion is not ours to do). */
  supportedManifestMediaTypes(): string[];
  /** True when the blob is already stored (skip the upload). */
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /**
   * Stores a blob. The destination verifies digest and size of what it stores, and fails, storing nothing
   * under that digest, on a mismatch. A stream for which core's `verifiedFor(stream, descriptor)` holds
   * (a VerifiedBlob) checks itself: the destination may skip hashing it, never storing it if it errors.
   */
  putBlob(descriptor: Descriptor, stream: Readable, options?: PutBlobOptions): Promise<void>;
  /**
   * Tries a cheap copy (e.g. a cross-repository mount) of a blob that hasBlob() just said is missing;
   * true when the blob is now present. putBlob() does not retry it.
   */
  tryReuseBlob?(descriptor: Descriptor, options: PutBlobOptions): Promise<boolean>;
  /**
   * Stores a manifest. With `instanceDigest` it is a child of a list/index (stored by digest only);
   * without, it is the image the reference names, and the reference's tag points at it on commit().
   */
  putManifest(bytes: Uint8Array, mediaType: string, instanceDigest?: Digest): Promise<void>;
  /** Makes everything visible: moves the tag, renames the temp file. Nothing is visible before. */
  commit(): Promise<void>;
  /** Releases resources; without a prior commit() everything written is discarded where possible. */
  close(): Promise<void>;
}
