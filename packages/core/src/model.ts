import type { Digest } from './digest.js';

export const MediaTypes = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** Limits applied before allocation: over a limit is a LimitExceeded error. */
export const Limits = {
  manifestBytes: 4 * 1024 * 1024,
  configBytes: 4 * 1024 * 1024,
  indexDepth: 4,
} as const;

/** Raw bytes together with the media type they were served as and their digest (of exactly those bytes). */
export interface RawManifest {
  bytes: Uint8Array;
  /** The media type: the document's own mediaType field, else the transport's Content-Type. */
  mediaType: string;
  digest: Digest;
}
