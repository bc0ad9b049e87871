// The ImageSource and ImageDestination conformance suites on the docker:// transport against the real
// plain-HTTP registry.
import * as vitest from 'vitest';
import { dockerTransport } from '@dsv/source-registry';
import { buildSampleImage, destinationSuite, registerSuite, sourceSuite } from '@dsv/conformance';
import { removeTempDirs } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';

for (const format of ['docker', 'oci'] as const) {
  registerSuite(
    sourceSuite(`docker:// registry (${format} image)`, async () => {
      const reg = await startRegistry({ mode: 'http' });
      const image = await buildSampleImage({
        layers: [{ 'etc/': '', 'etc/hello.txt': 'hello\n' }, { 'bin/tool': Buffer.alloc(70_000, 1), 'data/x': 'x' }],
        format,
        labels: { 'org.example': 'conformance' },
      });
      const reference = dockerTransport.parseReference(`${reg.host}/conformance/${format}:v1`);
      const dest = await reference.newDestination();
      try {
        await image.pushTo(dest);
      } finally {
        await dest.close();
      }
      return {
        reference,
        expected: { manifestDigest: image.manifestDigest, configDigest: image.config.digest, layerDigests: image.layers.map((l) => l.descriptor.digest) },
        cleanup: async () => {
          await reg.stop();
          removeTempDirs();
        },
      };
    }),
    vitest,
  );
}

registerSuite(
  destinationSuite('docker:// registry', async () => {
    const reg = await startRegistry({ mode: 'http' });
    let n = 0;
    return {
      newReference: () => dockerTransport.parseReference(`${reg.host}/conformance/dest-${n++}:v1`),
      cleanup: async () => {
        await reg.stop();
        removeTempDirs();
      },
    };
  }),
  vitest,
);
