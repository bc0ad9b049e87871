// The contract every ImageSource meets: exact manifest bytes (by tag and by digest), every blob streamed
// with its digest and size, NotFound for a missing blob, a passing integrity check, and a copy to memory
// and back that keeps the manifest digest.
import type { Readable } from 'node:stream';
import { copyImage, verifyIntegrity } from '@dsv/core/operations';
import {
  Digester,
  digestOf,
  parseManifest,
  type Descriptor,
  type Digest,
} from '@dsv/core/formats';
import { memoryTransport } from '@dsv/core/testing';
import type { ImageReference, ImageSource } from '@dsv/core/transport';
import { check, checkEqual, checkRejects, type Suite } from './harness.js';

export interface SourceSetup {
  /** An image (not an index) the source can read. */
  reference: ImageReference;
  expected: { manifestDigest: Digest; configDigest: Digest; layerDigests: Digest[] };
  /**
   * Whether copying the image back into the reference's own place must work (default true). A
   * read-only transport either says false or gives a reference whose newDestination writes through
   * whatever owns the store.
   */
  writable?: boolean;
  cleanup?: () => Promise<void>;
}

interface SourceContext {
  setup: SourceSetup;
  source: ImageSource;
  config: Descriptor;
  layers: Descriptor[];
}

async function hashStream(s: Readable): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  for await (const c of s) d.update(c as Buffer);
  return { digest: d.digest(), size: d.size };
}

let counter = 0;
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');

/** The ImageSource suite for the image `setup` provides. */
export function sourceSuite(name: string, setup: () => Promise<SourceSetup>): Suite<SourceContext> {
  return {
    name: `ImageSource conformance: ${name}`,
    async setup() {
      const s = await setup();
      const source = await s.reference.newSource();
      const { bytes, mediaType } = await source.getManifest();
      const m = parseManifest(bytes, mediaType);
      if (m.kind !== 'manifest') {
        await source.close();
        throw new Error(`${name}: the source suite needs an image manifest, got an index`);
      }
      return { setup: s, source, config: m.config, layers: m.layers };
    },
    async teardown(ctx) {
      await ctx?.source.close();
      await ctx?.setup.cleanup?.();
    },
    checks: [
      {
        name: 'getManifest returns bytes that hash to the expected digest, by tag and by digest',
        async run({ source, setup }) {
          checkEqual(digestOf((await source.getManifest()).bytes), setup.expected.manifestDigest, 'manifest digest');
          checkEqual(digestOf((await source.getManifest(setup.expected.manifestDigest)).bytes), setup.expected.manifestDigest, 'manifest digest (by digest)');
        },
      },
      {
        name: 'streams the config and every layer with the right digest and size',
        async run({ source, setup, config, layers }) {
          checkEqual(config.digest, setup.expected.configDigest, 'config digest');
          checkEqual(layers.map((l) => l.digest), setup.expected.layerDigests, 'layer digests');
          for (const d of [config, ...layers]) checkEqual(await hashStream(await source.getBlob(d)), { digest: d.digest, size: d.size }, `blob ${d.digest}`);
        },
      },
      {
        name: 'a missing blob is a NotFound DsvError',
        async run({ source, config }) {
          const missing: Descriptor = { mediaType: config.mediaType, digest: digestOf(`no such blob ${name}`), size: 10 };
          await checkRejects(async () => hashStream(await source.getBlob(missing)), 'getBlob of a missing blob', 'NotFound');
        },
      },
      {
        name: 'verifyIntegrity passes',
        async run({ source, setup }) {
          const report = await verifyIntegrity(source, { expectedDigest: setup.expected.manifestDigest });
          check(report.ok, `integrity report not ok: ${JSON.stringify(report.images.map((i) => i.layers))}`);
          checkEqual(report.images[0]?.layers.length, setup.expected.layerDigests.length, 'layers checked');
        },
      },
      {
        name: 'copies to memory and back keeping the manifest digest',
        async run({ source, setup }) {
          const mem = memoryTransport.parseReference(`conformance/${slug(name)}-${counter++}:copy`);
          const toMem = await copyImage(source, await mem.newDestination());
          checkEqual(toMem.destinationDigest, setup.expected.manifestDigest, 'digest copied to memory');
          const memSource = await mem.newSource();
          checkEqual(digestOf((await memSource.getManifest()).bytes), setup.expected.manifestDigest, 'digest read back from memory');
          if (setup.writable === false) return;
          // Back into the source's own place: blobs already there are a no-op, and nothing may break.
          const back = await setup.reference.newDestination();
          try {
            checkEqual((await copyImage(memSource, back)).destinationDigest, setup.expected.manifestDigest, 'digest written back');
          } finally {
            await back.close();
          }
          const reread = await setup.reference.newSource();
          try {
            checkEqual(digestOf((await reread.getManifest()).bytes), setup.expected.manifestDigest, 'digest re-read');
          } finally {
            await reread.close();
          }
        },
      },
    ],
  };
}
