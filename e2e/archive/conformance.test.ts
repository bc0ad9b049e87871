// The ImageSource and ImageDestination conformance suites on docker-archive:, oci: and oci-archive:.
import { join } from 'node:path';
import * as vitest from 'vitest';
import { MediaTypes, digestOf, type Digest } from '@dsv/core';
import { dockerArchiveTransport, ociArchiveTransport, ociTransport } from '@dsv/source-archive';
import { buildSampleImage, destinationSuite, registerSuite, sourceSuite, type SampleImage } from '@dsv/conformance';
import { removeTempDirs, tempDir } from '../helpers/proc.js';

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
  registerSuite(
    sourceSuite(`docker-archive (${compression} layers)`, async () => {
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
    }),
    vitest,
  );
}

for (const [name, transport, file] of [['oci', ociTransport, 'layout'], ['oci-archive', ociArchiveTransport, 'img.tar']] as const) {
  registerSuite(
    sourceSuite(`${name} (gzip OCI layers)`, async () => {
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
    }),
    vitest,
  );
}

let n = 0;
registerSuite(
  destinationSuite('docker-archive', async () => ({
    // A docker save archive stores no manifest: the source synthesises one (checked by the source suite).
    newReference: () => dockerArchiveTransport.parseReference(`${join(tempDir('dsv-conf-dest-'), `img-${n++}.tar`)}:conformance:v1`),
    keepsManifest: false,
    cleanup: async () => removeTempDirs(),
  }), { skip: { 'by-digest-manifest': 'a docker save archive holds no child manifests (putManifest by digest is Unsupported)' } }),
  vitest,
);
for (const [name, transport, file] of [['oci', ociTransport, 'layout'], ['oci-archive', ociArchiveTransport, 'img.tar']] as const) {
  registerSuite(
    destinationSuite(name, async () => ({
      newReference: () => transport.parseReference(`${join(tempDir('dsv-conf-dest-'), file)}:v1`),
      cleanup: async () => removeTempDirs(),
    })),
    vitest,
  );
}
