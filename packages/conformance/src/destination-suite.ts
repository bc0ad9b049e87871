// The contract every ImageDestination meets: nothing is visible before commit(); a blob stream that
// errors (or carries other bytes) stores nothing under its digest; close() without commit() discards;
// a by-digest putManifest is checked against its digest; hasBlob() sees what putBlob() stored; and a
// committed image reads back with its config (and, where the transport keeps it, its manifest) intact.
import { Readable } from 'node:stream';
import { digestOf, parseManifest, type Descriptor, type Digest } from '@dsv/core/formats';
import type { ImageDestination, ImageReference } from '@dsv/core/transport';
import { check, checkEqual, checkFails, checkRejects, type Suite } from './harness.js';
import { buildSampleImageSync, noise, type SampleImage } from './sample-image.js';

export type DestinationCheck = 'round-trip' | 'invisible-before-commit' | 'erroring-stream' | 'close-discards' | 'by-digest-manifest' | 'has-blob';

export interface DestinationSetup {
  /** A reference under which nothing is stored yet; called once per check, each call a new name. */
  newReference(): Promise<ImageReference> | ImageReference;
  /** Opens what was written under `reference` for reading (default: the reference's own newSource). */
  readBack?(reference: ImageReference): Promise<ImageReference> | ImageReference;
  /** The image to write (default: a two-layer gzip Docker v2 image). */
  image?: SampleImage;
  /** False when the transport stores a manifest of its own (docker save, the Engine): config and layer count are compared instead. */
  keepsManifest?: boolean;
  cleanup?: () => Promise<void>;
}

interface DestinationContext {
  setup: DestinationSetup;
  image: SampleImage;
}

export function defaultDestinationImage(): SampleImage {
  return buildSampleImageSync({
    layers: [{ 'etc/': '', 'etc/hello.txt': 'hello\n' }, { 'data/blob.bin': noise(200_000, 'destination-conformance') }],
    labels: { 'org.example': 'destination-conformance' },
  });
}

async function withDestination<T>(ref: ImageReference, work: (d: ImageDestination) => Promise<T>): Promise<T> {
  const dest = await ref.newDestination();
  try {
    return await work(dest);
  } finally {
    await dest.close();
  }
}

async function writeBlobs(dest: ImageDestination, image: SampleImage): Promise<void> {
  for (const { descriptor, bytes } of image.blobs()) {
    if (!(await dest.hasBlob(descriptor))) await dest.putBlob(descriptor, Readable.from([bytes]));
  }
}

async function readRef(setup: DestinationSetup, ref: ImageReference): Promise<ImageReference> {
  return setup.readBack ? setup.readBack(ref) : ref;
}

/** Reads the image back and compares it with what was written. */
async function expectStored(ctx: DestinationContext, ref: ImageReference): Promise<void> {
  const src = await (await readRef(ctx.setup, ref)).newSource();
  try {
    const { bytes, mediaType } = await src.getManifest();
    if (ctx.setup.keepsManifest !== false) checkEqual(digestOf(bytes), ctx.image.manifestDigest, 'manifest digest read back');
    const m = parseManifest(bytes, mediaType);
    check(m.kind === 'manifest', 'read back an index, expected an image manifest');
    checkEqual(m.config.digest, ctx.image.config.digest, 'config digest read back');
    checkEqual(m.layers.length, ctx.image.layers.length, 'layer count read back');
  } finally {
    await src.close();
  }
}

/** Reading the reference must fail: nothing is stored under it. */
async function expectAbsent(ctx: DestinationContext, ref: ImageReference, what: string): Promise<void> {
  await checkRejects(async () => {
    const src = await (await readRef(ctx.setup, ref)).newSource();
    try {
      await src.getManifest();
    } finally {
      await src.close();
    }
  }, what);
}

/** A stream that yields `bytes` in two halves and then fails instead of ending. */
function failingStream(bytes: Buffer): Readable {
  const half = bytes.subarray(0, bytes.length >> 1);
  let sent = 0;
  return new Readable({
    read() {
      if (sent++ === 0) this.push(half);
      else this.destroy(new Error('conformance: the source stream failed'));
    },
  });
}

/** The ImageDestination suite for the transport `setup` provides. */
export interface DestinationSuiteOptions {
  /** Checks this destination cannot honour, with the reason; they are reported as skipped. */
  skip?: Partial<Record<DestinationCheck, string>>;
}

export function destinationSuite(name: string, setup: () => Promise<DestinationSetup>, opts: DestinationSuiteOptions = {}): Suite<DestinationContext> {
  const checks: Array<{ id: DestinationCheck; name: string; run(ctx: DestinationContext): Promise<void> }> = [
    {
      id: 'round-trip',
      name: 'a committed image reads back as written',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        await withDestination(ref, (d) => ctx.image.pushTo(d));
        await expectStored(ctx, ref);
      },
    },
    {
      id: 'invisible-before-commit',
      name: 'nothing is visible before commit()',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        await withDestination(ref, async (d) => {
          await writeBlobs(d, ctx.image);
          await d.putManifest(ctx.image.manifestBytes, ctx.image.manifestMediaType);
          await expectAbsent(ctx, ref, 'reading the reference before commit()');
          await d.commit();
        });
        await expectStored(ctx, ref);
      },
    },
    {
      id: 'close-discards',
      name: 'close() without commit() discards the image',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        await withDestination(ref, async (d) => {
          await writeBlobs(d, ctx.image);
          await d.putManifest(ctx.image.manifestBytes, ctx.image.manifestMediaType);
        });
        await expectAbsent(ctx, ref, 'reading the reference after close() without commit()');
      },
    },
    {
      id: 'erroring-stream',
      name: 'a blob stream that errors, or carries other bytes, stores nothing under its digest',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        const bytes = noise(150_000, `erroring-${name}`);
        const d: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length };
        // A destination may refuse further work after a failed putBlob (one stream into an engine), so
        // each failure gets its own destination.
        await withDestination(ref, async (dest) => {
          await checkFails(dest.putBlob(d, failingStream(bytes)), 'putBlob of a stream that errors');
          check(!(await dest.hasBlob(d)), 'hasBlob() is true after a stream that errored');
        });
        await withDestination(ref, async (dest) => {
          const other = noise(bytes.length, `other-${name}`);
          await checkRejects(dest.putBlob(d, Readable.from([other])), 'putBlob of bytes that do not match the digest', ['DigestMismatch', 'SizeMismatch']);
          check(!(await dest.hasBlob(d)), 'hasBlob() is true after bytes that did not match');
        });
        await withDestination(ref, async (dest) => check(!(await dest.hasBlob(d)), 'a new destination sees a blob whose stream failed'));
      },
    },
    {
      id: 'by-digest-manifest',
      name: 'a by-digest putManifest is checked against its digest',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        await withDestination(ref, async (d) => {
          await writeBlobs(d, ctx.image);
          const wrong = digestOf(`not the manifest of ${name}`) as Digest;
          await checkRejects(d.putManifest(ctx.image.manifestBytes, ctx.image.manifestMediaType, wrong), 'putManifest under a digest the bytes do not have', 'DigestMismatch');
          // ...and the same bytes under their own digest are accepted.
          await d.putManifest(ctx.image.manifestBytes, ctx.image.manifestMediaType, ctx.image.manifestDigest);
        });
      },
    },
    {
      id: 'has-blob',
      name: 'hasBlob() is true after putBlob()',
      async run(ctx) {
        const ref = await ctx.setup.newReference();
        await withDestination(ref, async (d) => {
          for (const { descriptor, bytes } of ctx.image.blobs()) {
            await d.putBlob(descriptor, Readable.from([bytes]));
            check(await d.hasBlob(descriptor), `hasBlob(${descriptor.digest}) is false after putBlob()`);
          }
        });
      },
    },
  ];
  const skip = opts.skip ?? {};
  return {
    name: `ImageDestination conformance: ${name}`,
    async setup() {
      const s = await setup();
      return { setup: s, image: s.image ?? defaultDestinationImage() };
    },
    async teardown(ctx) {
      await ctx?.setup.cleanup?.();
    },
    checks: checks.filter((c) => !skip[c.id]),
    skipped: Object.fromEntries(checks.filter((c) => skip[c.id]).map((c) => [c.name, skip[c.id]!])),
  };
}
