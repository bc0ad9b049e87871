// The ImageSource conformance suite on docker-storage: and docker-daemon:, and the ImageDestination
// suite on docker-daemon: (docker-storage: is read-only), against one real dockerd (overlay2). Each
// transport's expected manifest digest comes from the *other* transport: both synthesise the same
// manifest for an unchanged image.
import * as vitest from 'vitest';
import { afterAll } from 'vitest';
import { digestOf, type Digest, type ImageDestination, type ImageReference, type ImageSource, type SystemContext } from '@dsv/core';
import { dockerDaemonTransport, dockerStorageTransport } from '@dsv/source-repository';
import { destinationSuite, registerSuite, sourceSuite, type SourceSetup } from '@dsv/conformance';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { removeTempDirs } from '../helpers/proc.js';
import { buildSaveArchive } from './support.js';

const NAME = 'dsv-conf/image:1';
let started: Promise<{ d: Dockerd; ctx: SystemContext }> | undefined;
function daemon(): Promise<{ d: Dockerd; ctx: SystemContext }> {
  started ??= (async () => {
    const d = await startDockerd({ driver: 'overlay2' });
    d.docker(['load', '-i', buildSaveArchive(NAME, 'conformance')]);
    return { d, ctx: { dockerEndpoint: { host: d.host }, dockerRoot: d.dataRoot } };
  })();
  return started;
}

// Stopped once, after both suites (even when a setup failed).
afterAll(async () => {
  if (started) await (await started.catch(() => undefined))?.d.stop();
  removeTempDirs();
});

/**
 * The transport's reference with this daemon's SystemContext applied (the suite opens sources without
 * one). docker-storage: is read-only: writing "back into its place" goes through the daemon that owns
 * the store, which is how images get into Docker's store at all.
 */
function bound(ref: ImageReference, ctx: SystemContext, writeVia: ImageReference): ImageReference {
  return {
    transport: ref.transport,
    within: ref.within,
    digest: ref.digest,
    toString: () => ref.toString(),
    newSource: (c?: SystemContext): Promise<ImageSource> => ref.newSource({ ...ctx, ...c }),
    newDestination: (c?: SystemContext): Promise<ImageDestination> => writeVia.newDestination({ ...ctx, ...c }),
  };
}

async function expected(ctx: SystemContext, other: ImageReference, d: Dockerd): Promise<SourceSetup['expected']> {
  const src = await other.newSource(ctx);
  try {
    const manifestDigest = digestOf((await src.getManifest()).bytes);
    const info = JSON.parse(d.docker(['image', 'inspect', NAME]))[0];
    return { manifestDigest, configDigest: info.Id as Digest, layerDigests: info.RootFS.Layers as Digest[] };
  } finally {
    await src.close();
  }
}

registerSuite(
  sourceSuite('docker-storage: (overlay2)', async () => {
    const { d, ctx } = await daemon();
    const storage = dockerStorageTransport.parseReference(NAME);
    const viaDaemon = dockerDaemonTransport.parseReference(NAME);
    return { reference: bound(storage, ctx, viaDaemon), expected: await expected(ctx, viaDaemon, d) };
  }),
  vitest,
);

registerSuite(
  sourceSuite('docker-daemon:', async () => {
    const { d, ctx } = await daemon();
    const viaDaemon = dockerDaemonTransport.parseReference(NAME);
    const storage = dockerStorageTransport.parseReference(NAME);
    return { reference: bound(viaDaemon, ctx, viaDaemon), expected: await expected(ctx, storage, d) };
  }),
  vitest,
);

let n = 0;
registerSuite(
  destinationSuite('docker-daemon:', async () => {
    const { ctx } = await daemon();
    return {
      newReference: () => {
        const ref = dockerDaemonTransport.parseReference(`dsv-conf/dest-${n++}:1`);
        return bound(ref, ctx, ref);
      },
      // The Engine stores layers uncompressed and serves a manifest of its own.
      keepsManifest: false,
    };
  }, { skip: { 'by-digest-manifest': 'the Engine loads single images: putManifest by digest (a child of an index) is Unsupported' } }),
  vitest,
);
