// The contract every ImageSource must meet, as vitest tests: register them with
// describeSourceConformance('docker-archive', async () => ({ reference, expected, cleanup })).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readable } from 'node:stream';
import {
  copyImage,
  DsvError,
  Digester,
  digestOf,
  memoryTransport,
  parseManifest,
  verifyIntegrity,
  type Descriptor,
  type Digest,
  type ImageReference,
  type ImageSource,
} from '@dsv/core';

export interface ConformanceSetup {
  /** An image (not an index) the source can read. */
  reference: ImageReference;
  expected: { manifestDigest: Digest; configDigest: Digest; layerDigests: Digest[] };
  cleanup?: () => Promise<void>;
}

async function hashStream(s: Readable): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  for await (const c of s) d.update(c as Buffer);
  return { digest: d.digest(), size: d.size };
}

let counter = 0;

export function describeSourceConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`ImageSource conformance: ${name}`, () => {
    let ctx: ConformanceSetup;
    let source: ImageSource;
    let layers: Descriptor[] = [];
    let config: Descriptor;

    beforeAll(async () => {
      ctx = await setup();
      source = await ctx.reference.newSource();
      const { bytes, mediaType } = await source.getManifest();
      const m = parseManifest(bytes, mediaType);
      if (m.kind !== 'manifest') throw new Error(`${name}: conformance needs an image manifest, got an index`);
      layers = m.layers;
      config = m.config;
    });

    afterAll(async () => {
      await source?.close();
      await ctx?.cleanup?.();
    });

    it('getManifest returns bytes that hash to the expected digest', async () => {
      const { bytes } = await source.getManifest();
      expect(digestOf(bytes)).toBe(ctx.expected.manifestDigest);
      // by digest, too
      const again = await source.getManifest(ctx.expected.manifestDigest);
      expect(digestOf(again.bytes)).toBe(ctx.expected.manifestDigest);
    });

    it('streams the config and every layer with the right digest and size', async () => {
      expect(config.digest).toBe(ctx.expected.configDigest);
      expect(layers.map((l) => l.digest)).toEqual(ctx.expected.layerDigests);
      for (const d of [config, ...layers]) {
        const got = await hashStream(await source.getBlob(d));
        expect(got).toEqual({ digest: d.digest, size: d.size });
      }
    });

    it('a missing blob is a NotFound DsvError', async () => {
      const missing: Descriptor = { mediaType: config.mediaType, digest: digestOf(`no such blob ${name}`), size: 10 };
      let err: unknown;
      try {
        const s = await source.getBlob(missing);
        await hashStream(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DsvError);
      expect((err as DsvError).code).toBe('NotFound');
    });

    it('verifyIntegrity passes', async () => {
      const report = await verifyIntegrity(source, { expectedDigest: ctx.expected.manifestDigest });
      expect(report.ok).toBe(true);
      expect(report.images[0]!.layers).toHaveLength(ctx.expected.layerDigests.length);
    });

    it('copies to memory and back keeping the manifest digest', async () => {
      const mem = memoryTransport.parseReference(`conformance/${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${counter++}:copy`);
      const toMem = await copyImage(source, await mem.newDestination());
      expect(toMem.destinationDigest).toBe(ctx.expected.manifestDigest);
      const memSource = await mem.newSource();
      expect(digestOf((await memSource.getManifest()).bytes)).toBe(ctx.expected.manifestDigest);
      // and back into the source's own place (a no-op for blobs that are there: nothing may break)
      const back = await ctx.reference.newDestination();
      try {
        const r = await copyImage(memSource, back);
        expect(r.destinationDigest).toBe(ctx.expected.manifestDigest);
      } finally {
        await back.close();
      }
      const reread = await ctx.reference.newSource();
      try {
        expect(digestOf((await reread.getManifest()).bytes)).toBe(ctx.expected.manifestDigest);
      } finally {
        await reread.close();
      }
    });
  });
}
