// The ImageSource and ImageDestination conformance suites on the containerd: transport, against a real
// containerd started on a private root and socket; source images are imported with `ctr images import`.
import * as vitest from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSampleImage, destinationSuite, ociArchive, registerSuite, sourceSuite } from '@dsv/conformance';
import { createContainerdTransport } from '@dsv/source-containerd';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { importArchive, startContainerd, type Containerd } from './containerd-daemon.js';

let daemon: Promise<Containerd> | undefined;
let users = 0;
function shared(): Promise<Containerd> {
  users++;
  daemon ??= startContainerd();
  return daemon;
}
async function release(): Promise<void> {
  if (--users > 0 || !daemon) return;
  const d = await daemon;
  daemon = undefined;
  await d.stop();
  removeTempDirs();
}

for (const compression of ['gzip', 'zstd', 'none'] as const) {
  registerSuite(
    sourceSuite(`containerd (${compression} layers)`, async () => {
      const c = await shared();
      const image = await buildSampleImage({
        layers: [{ 'etc/': '', 'etc/hello.txt': 'hello\n' }, { 'bin/tool': Buffer.alloc(70_000, 1), 'data/x': 'x' }],
        compression,
        format: compression === 'gzip' ? 'docker' : 'oci',
        labels: { 'org.example': 'conformance' },
      });
      const name = `docker.io/dsv/conformance-${compression}:v1`;
      const archive = join(tempDir('dsvc-arc-'), 'image.tar');
      writeFileSync(archive, ociArchive({ image, tag: name }));
      importArchive(c, 'conf', archive);
      const transport = createContainerdTransport({ address: c.socket, namespace: 'conf' });
      return {
        reference: transport.parseReference(name),
        expected: { manifestDigest: image.manifestDigest, configDigest: image.config.digest, layerDigests: image.layers.map((l) => l.descriptor.digest) },
        cleanup: release,
      };
    }),
    vitest,
  );
}

let n = 0;
registerSuite(
  destinationSuite('containerd', async () => {
    const c = await shared();
    const transport = createContainerdTransport({ address: c.socket, namespace: 'conf-dest' });
    return {
      newReference: () => transport.parseReference(`example.com/conformance-dest/image-${n++}:v1`),
      cleanup: release,
    };
  }),
  vitest,
);
