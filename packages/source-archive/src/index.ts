// @dsv/source-archive: the docker-archive:, oci: and oci-archive: transports.
export { dockerArchiveTransport, DockerArchiveSource, DockerArchiveDestination, type DockerArchiveReference } from './docker-archive.js';
export { DockerSaveArchive, MAX_MANIFEST_JSON, type ArchiveImage, type ArchiveLayer, type SaveManifestEntry, type SaveLayout } from './docker-save.js';
export { ociTransport, ociArchiveTransport, OciLayoutSource, REF_NAME } from './oci.js';
export { TarIndex, type TarEntry, type TarEntryType } from './tar.js';
export {
  scanDockerArchiveStream,
  writeDockerArchive,
  type ArchiveScan,
  type ScannedEntry,
  type ScanOptions,
  type DockerArchiveImage,
  type DockerArchiveLayer,
} from './stream.js';
export { parseTaggedName, familiarName, fullName, type TaggedName } from './names.js';

import { dockerArchiveTransport } from './docker-archive.js';
import { ociArchiveTransport, ociTransport } from './oci.js';

/** All transports of this package. */
export const archiveTransports = [dockerArchiveTransport, ociTransport, ociArchiveTransport] as const;
