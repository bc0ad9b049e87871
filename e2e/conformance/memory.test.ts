// The ImageSource and ImageDestination conformance suites (@dsv/conformance) on core's memory transport.
import * as vitest from 'vitest';
import { clearMemoryStore, memoryTransport } from '@dsv/core/testing';
import { buildSampleImage, destinationSuite, registerSuite, sourceSuite } from '@dsv/conformance';

for (const compression of ['gzip', 'zstd', 'none'] as const) {
  registerSuite(
    sourceSuite(`memory (${compression} layers)`, async () => {
      const image = await buildSampleImage({
        layers: [{ 'etc/': '', 'etc/hello.txt': 'hello\n' }, { 'bin/tool': Buffer.alloc(70_000, 1), 'data/x': 'x' }],
        compression,
        format: compression === 'gzip' ? 'docker' : 'oci',
        labels: { 'org.example': 'conformance' },
      });
      const reference = memoryTransport.parseReference(`conformance-${compression}:v1`);
      await image.pushTo(await reference.newDestination());
      return {
        reference,
        expected: { manifestDigest: image.manifestDigest, configDigest: image.config.digest, layerDigests: image.layers.map((l) => l.descriptor.digest) },
        cleanup: async () => clearMemoryStore(),
      };
    }),
    vitest,
  );
}

let n = 0;
registerSuite(
  destinationSuite('memory', async () => ({
    newReference: () => memoryTransport.parseReference(`conformance-dest/image-${n++}:v1`),
    cleanup: async () => clearMemoryStore(),
  })),
  vitest,
);
