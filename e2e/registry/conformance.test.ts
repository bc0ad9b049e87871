// The shared ImageSource contract, run against the docker:// transport and the real plain-HTTP registry.
import { dockerTransport } from '@dsv/source-registry';
import { removeTempDirs } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildSampleImage } from '../helpers/sample-image.js';
import { describeSourceConformance } from '../conformance/source-conformance.js';

for (const format of ['docker', 'oci'] as const) {
  describeSourceConformance(`docker:// registry (${format} image)`, async () => {
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
      expected: {
        manifestDigest: image.manifestDigest,
        configDigest: image.config.digest,
        layerDigests: image.layers.map((l) => l.descriptor.digest),
      },
      cleanup: async () => {
        await reg.stop();
        removeTempDirs();
      },
    };
  });
}
