// The ImageSource conformance suite on docker-archive:, oci: and oci-archive:.
import { join } from 'node:path';
import { MediaTypes, digestOf, type Digest } from '@dsv/core';
import { dockerArchiveTransport, ociArchiveTransport, ociTransport } from '@dsv/source-archive';
import { buildSampleImage, type SampleImage } from '../helpers/sample-image.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { describeSourceConformance } from '../conformance/source-conformance.js';

const sample = (compression: 'gzip' | 'none', format: 'docker' | 'oci') =>
  buildSampleImage({
    layers: [{ 'etc/': '', 'etc/hello.txt': 'hello\n' }, { 'bin/tool': Buffer.alloc(70_000, 1), 'data/x': 'x' }],
    compression,
    format,
    labels: { 'org.example': 'conformance' },
  });

/** What a legacy docker-archive source synthesises, re-derived from the README's description. */
function synthesisedDigest(image: SampleImage, compression: 'gzip' | 'none'): Digest {
  const layerType = compression === 'gzip' ? MediaTypes.DockerLayerGzip : MediaTypes.DockerLayerTar;
  return digestOf(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.DockerManifest,
    config: { mediaType: MediaTypes.DockerConfig, size: image.config.size, digest: image.config.digest },
    layers: image.layers.map((l) => ({ mediaType: layerType, size: l.descriptor.size, digest: l.descriptor.digest })),
  }));
}

for (const compression of ['none', 'gzip'] as const) {
  describeSourceConformance(`docker-archive (${compression} layers)`, async () => {
    const image = await sample(compression, 'docker');
    const reference = dockerArchiveTransport.parseReference(`${join(tempDir('dsv-conf-'), 'img.tar')}:conformance:v1`);
    const dest = await reference.newDestination();
    try {
      await image.pushTo(dest);
    } finally {
      await dest.close();
    }
    return {
      reference,
      expected: { manifestDigest: synthesisedDigest(image, compression), configDigest: image.config.digest, layerDigests: image.layers.map((l) => l.descriptor.digest) },
      cleanup: async () => removeTempDirs(),
    };
  });
}

for (const [name, transport, file] of [['oci', ociTransport, 'layout'], ['oci-archive', ociArchiveTransport, 'img.tar']] as const) {
  describeSourceConformance(`${name} (gzip OCI layers)`, async () => {
    const image = await sample('gzip', 'oci');
    const reference = transport.parseReference(`${join(tempDir('dsv-conf-'), file)}:v1`);
    const dest = await reference.newDestination();
    try {
      await image.pushTo(dest);
    } finally {
      await dest.close();
    }
    return {
      reference,
      expected: { manifestDigest: image.manifestDigest, configDigest: image.config.digest, layerDigests: image.layers.map((l) => l.descriptor.digest) },
      cleanup: async () => removeTempDirs(),
    };
  });
}
