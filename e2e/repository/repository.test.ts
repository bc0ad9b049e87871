// docker-storage: and docker-daemon: against the real dockerd (20.10, private root and socket):
// images made by `docker import` and `docker load`, signed with a copy from docker-daemon: to
// docker-daemon: under a new tag, verified on disk through docker-storage:, then tampered with.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { isDsvError, digestOf, type Descriptor, type SystemContext } from '@dsv/core';
import { verifyStoreImage, createTarSplitReader } from '@dsv/source-repository';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { removeTempDirs, tempDir } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes } from '../helpers/gpg.js';
import { createGpgSigner, createGpgVerifier } from '@dsv/signer-gpg';
import { buildSaveArchive, copyImage, coreVerify, hmacSigner, readAll, ref, verifyImage } from './support.js';

function cacheIdOf(d: Dockerd, name: string, layer = 0): { cacheId: string; diffId: string } {
  const info = JSON.parse(d.docker(['image', 'inspect', name]))[0];
  const diffIds: string[] = info.RootFS.Layers;
  let chain = diffIds[0]!;
  for (let i = 1; i <= layer; i++) chain = digestOf(`${chain} ${diffIds[i]}`);
  const cacheId = readFileSync(join(d.dataRoot, 'image', d.driver, 'layerdb', 'sha256', chain.slice(7), 'cache-id'), 'utf8').trim();
  return { cacheId, diffId: diffIds[layer]! };
}

const inspectId = (d: Dockerd, name: string) => d.docker(['image', 'inspect', '--format', '{{.Id}}', name]).trim();

describe('overlay2', () => {
  let d: Dockerd;
  let ctx: SystemContext;
  beforeAll(async () => {
    d = await startDockerd({ driver: 'overlay2' });
    ctx = { dockerEndpoint: { host: d.host }, dockerRoot: d.dataRoot };
    importImage(d, 'dsv-repo/imported:1', { 'etc/hello.txt': 'hello\n', 'bin/tool': '#!/bin/sh\necho tool\n', 'data/blob.bin': 'y'.repeat(200_000) });
    d.docker(['load', '-i', buildSaveArchive('dsv-repo/multi:1', 'multi')]);
    d.docker(['load', '-i', buildSaveArchive('dsv-repo/tamper:1', 'tamper')]);
    d.docker(['load', '-i', buildSaveArchive('dsv-repo/gone:1', 'gone')]);
  });
  afterAll(async () => {
    await d?.stop();
    removeGpgHomes();
    removeTempDirs();
  });

  test('docker-storage: rebuilds each layer byte for byte as docker save exports it', async () => {
    for (const name of ['dsv-repo/imported:1', 'dsv-repo/multi:1']) {
      const res = await verifyStoreImage(d.dataRoot, name);
      expect(res.id).toBe(inspectId(d, name));
      expect(res.driver).toBe('overlay2');
      const storage = await ref(`docker-storage:${name}`).newSource(ctx);
      const daemon = await ref(`docker-daemon:${name}`).newSource(ctx);
      const vs = await verifyImage(storage);
      const vd = await verifyImage(daemon);
      // Both transports serve the same synthesised manifest: exact config, uncompressed layers by diff_id.
      expect(vs.manifest.equals(vd.manifest)).toBe(true);
      expect(vs.config.digest).toBe(res.id);
      const m = JSON.parse(vs.manifest.toString());
      for (const l of m.layers as Descriptor[]) {
        const a = await readAll(await storage.getBlob(l));
        const b = await readAll(await daemon.getBlob(l));
        expect(a.equals(b)).toBe(true);
      }
      await storage.close();
      await daemon.close();
    }
  });

  test('docker-storage: layer metadata as dockerd wrote it (tar-split, chain ids, cache ids)', async () => {
    const { cacheId, diffId } = cacheIdOf(d, 'dsv-repo/multi:1', 2);
    const info = JSON.parse(d.docker(['image', 'inspect', 'dsv-repo/multi:1']))[0];
    const diffIds: string[] = info.RootFS.Layers;
    const chain = digestOf(`${digestOf(`${diffIds[0]} ${diffIds[1]}`)} ${diffIds[2]}`);
    const tarSplit = join(d.dataRoot, 'image', 'overlay2', 'layerdb', 'sha256', chain.slice(7), 'tar-split.json.gz');
    const tar = await readAll(createTarSplitReader({ metadata: Readable.from([readFileSync(tarSplit)]), files: join(d.dataRoot, 'overlay2', cacheId, 'diff') }));
    expect(digestOf(tar)).toBe(diffId);
    // dockerd recorded the non-UTF-8 name as name_raw and the long one in full: both were read back.
    const lines = gunzipSync(readFileSync(tarSplit)).toString();
    expect(lines).toContain('"name_raw"');
    expect(lines).toContain('e'.repeat(60));
  });

  test('sign: docker-daemon: -> docker-daemon: under a new tag; docker lists the signed config as the image id', async () => {
    const before = inspectId(d, 'dsv-repo/multi:1');
    const { configDigest } = await copyImage('docker-daemon:dsv-repo/multi:1', 'docker-daemon:dsv-repo/multi:signed', ctx, hmacSigner);
    expect(configDigest).not.toBe(before);
    const listed = d.docker(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(listed).toContain(`dsv-repo/multi:signed ${configDigest}`);
    expect(listed).toContain(`dsv-repo/multi:1 ${before}`);
    expect(inspectId(d, 'dsv-repo/multi:1')).toBe(before);
    const labels = JSON.parse(d.docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'dsv-repo/multi:signed']));
    expect(labels.signatures).toContain('HMAC:');
    // Verified on disk, through docker-storage:, and through the daemon (core's verifyImage and ours).
    const res = await verifyStoreImage(d.dataRoot, 'dsv-repo/multi:signed');
    expect(res.id).toBe(configDigest);
    for (const t of ['docker-storage', 'docker-daemon']) {
      const r = await coreVerify(`${t}:dsv-repo/multi:signed`, ctx);
      expect(r.ok, r.failures.join('; ')).toBe(true);
      expect(r.images[0]!.integrity.ok).toBe(true);
      expect(r.images[0]!.configDigest).toBe(configDigest);
      expect(r.images[0]!.signatures.map((x) => x.valid)).toEqual([true]);
    }
    for (const t of ['docker-storage', 'docker-daemon']) {
      const src = await ref(`${t}:dsv-repo/multi:signed`).newSource(ctx);
      const v = await verifyImage(src);
      await src.close();
      expect(v.config.digest).toBe(configDigest);
      expect(v.signatures).not.toBe('none');
      const results = v.signatures === 'none' ? [] : v.signatures;
      expect(JSON.stringify(results)).toContain('valid');
      expect(JSON.stringify(results)).not.toContain('invalid');
    }
    // Signing from docker-storage: into the daemon works as well.
    const { configDigest: c2 } = await copyImage('docker-storage:dsv-repo/imported:1', 'docker-daemon:dsv-repo/imported:signed', ctx, hmacSigner);
    expect(inspectId(d, 'dsv-repo/imported:signed')).toBe(c2);
  });

  test('sign with the real GPG signer (gpg-made key) into the daemon; gpg verifies through docker-storage:', async () => {
    const home = makeGpgHome({ withKey: { name: 'dsv repo e2e', email: 'repo@dsv.test' } });
    const signer = await createGpgSigner({ key: home.keyId, gpgHome: home.home });
    const pub = join(home.home, 'pub.asc');
    writeFileSync(pub, home.exportPublic());
    const verifier = await createGpgVerifier({ trust: [pub] });
    const { configDigest } = await copyImage('docker-daemon:dsv-repo/imported:1', 'docker-daemon:dsv-repo/imported:gpg', ctx, signer);
    expect(inspectId(d, 'dsv-repo/imported:gpg')).toBe(configDigest);
    expect(d.docker(['image', 'inspect', '--format', '{{index .Config.Labels "signatures"}}', 'dsv-repo/imported:gpg'])).toContain('BEGIN PGP SIGNATURE');
    const src = await ref('docker-storage:dsv-repo/imported:gpg').newSource(ctx);
    const v = await verifyImage(src, (data, sig) => verifier.verify(data, sig));
    await src.close();
    expect(v.signatures).not.toBe('none');
    const checks = v.signatures === 'none' ? [] : v.signatures;
    expect(checks.map((c) => c.result.status)).toEqual(['valid']);
    expect(checks[0]!.result.keyId?.toUpperCase()).toBe(home.signingKeyId);
  });

  test('a byte changed in one file under overlay2/<cache-id>/diff fails verification naming the layer and the file', async () => {
    const { cacheId, diffId } = cacheIdOf(d, 'dsv-repo/tamper:1', 2);
    const p = join(d.dataRoot, 'overlay2', cacheId, 'diff', 'app', 'data.txt');
    const b = readFileSync(p);
    b[10] = 0x41;
    writeFileSync(p, b);
    const err = await verifyStoreImage(d.dataRoot, 'dsv-repo/tamper:1').catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain(`layer 2 (${diffId})`);
    expect(err.message).toContain('app/data.txt');
    expect(err.details).toMatchObject({ layer: 2, file: 'app/data.txt' });
    // A raw reader of docker-storage: sees the layer's bytes no longer match (the source's fast path has no
    // per-file checks); core's integrity check asks the source to diagnose, and names the file.
    const src = await ref('docker-storage:dsv-repo/tamper:1').newSource(ctx);
    await expect(verifyImage(src)).rejects.toThrow(/layer 2:/);
    await src.close();
    const r = await coreVerify('docker-storage:dsv-repo/tamper:1', ctx).catch((e) => e);
    const text = r instanceof Error ? r.message : `${r.ok} ${r.failures.join('; ')} ${JSON.stringify(r.images?.[0]?.integrity)}`;
    expect(r instanceof Error || r.ok === false).toBe(true);
    expect(text).toContain('app/data.txt');
  });

  test('a deleted layer directory fails clearly', async () => {
    const { cacheId } = cacheIdOf(d, 'dsv-repo/gone:1', 1);
    const dir = join(d.dataRoot, 'overlay2', cacheId);
    renameSync(dir, `${dir}.moved`);
    try {
      const err = await verifyStoreImage(d.dataRoot, 'dsv-repo/gone:1').catch((e) => e);
      expect(isDsvError(err, 'NotFound')).toBe(true);
      expect(err.message).toContain('layer 1 (');
      expect(err.message).toContain(join(dir, 'diff'));
    } finally {
      renameSync(`${dir}.moved`, dir);
    }
    rmSync(join(d.dataRoot, 'image', 'overlay2', 'imagedb', 'content', 'sha256', inspectId(d, 'dsv-repo/gone:1').slice(7)));
    const err = await verifyStoreImage(d.dataRoot, 'dsv-repo/gone:1').catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
  });

  test('docker-daemon: destination moves no tag on failure', async () => {
    const src = await ref('docker-daemon:dsv-repo/imported:1').newSource(ctx);
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    // A blob that does not match its digest aborts the load.
    const dest = await ref('docker-daemon:dsv-repo/broken:1').newDestination(ctx);
    const bad: Descriptor = { ...m.layers[0], digest: digestOf('something else') };
    const err = await dest.putBlob(bad, await src.getBlob(m.layers[0])).catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    await dest.close();
    // Without commit() nothing is loaded or tagged.
    const dest2 = await ref('docker-daemon:dsv-repo/broken:2').newDestination(ctx);
    await dest2.putBlob(m.layers[0], await src.getBlob(m.layers[0]));
    await dest2.close();
    await src.close();
    const listed = d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(listed).not.toContain('dsv-repo/broken');
    // The daemon refusing the load (a config whose diff_ids do not match the layers) fails commit():
    // the tag is never created.
    const other = await ref('docker-daemon:dsv-repo/multi:1').newSource(ctx);
    const om = JSON.parse(Buffer.from((await other.getManifest()).bytes).toString());
    const src2 = await ref('docker-daemon:dsv-repo/imported:1').newSource(ctx);
    const dest4 = await ref('docker-daemon:dsv-repo/broken:4').newDestination(ctx);
    await dest4.putBlob(m.layers[0], await src2.getBlob(m.layers[0]));
    await dest4.putBlob(om.config, await other.getBlob(om.config));
    await dest4.putManifest(Buffer.from(JSON.stringify({ ...m, config: om.config })), m.mediaType);
    const loadErr = await dest4.commit().catch((e) => e);
    expect(isDsvError(loadErr, 'RemoteError')).toBe(true);
    await dest4.close();
    await other.close();
    await src2.close();
    expect(d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).not.toContain('dsv-repo/broken');
    // A manifest naming a blob that was never written is refused before anything is loaded.
    const dest3 = await ref('docker-daemon:dsv-repo/broken:3').newDestination(ctx);
    await expect(dest3.putManifest(Buffer.from(JSON.stringify(m)), m.mediaType)).rejects.toThrow(/was not written/);
    await dest3.close();
  });

  test('docker-daemon: concurrent putBlob calls are written one after another', async () => {
    const src = await ref('docker-storage:dsv-repo/multi:1').newSource(ctx);
    const { bytes, mediaType } = await src.getManifest();
    const m = JSON.parse(Buffer.from(bytes).toString());
    const dest = await ref('docker-daemon:dsv-repo/multi:parallel').newDestination(ctx);
    await Promise.all([m.config, ...m.layers].map(async (desc: Descriptor) => dest.putBlob(desc, await src.getBlob(desc))));
    await dest.putManifest(bytes, mediaType);
    await dest.commit();
    await dest.close();
    await src.close();
    expect(inspectId(d, 'dsv-repo/multi:parallel')).toBe(inspectId(d, 'dsv-repo/multi:1'));
  });

  test('docker-daemon: one export serves the manifest and every blob, in any order, from a spool removed on close', async () => {
    const exports: string[] = [];
    const spoolDir = tempDir('dsvspool-');
    const dctx: SystemContext = { ...ctx, bigFilesTemporaryDir: spoolDir, debug: (msg) => { if (/GET \/images\/.*\/get/.test(msg)) exports.push(msg); } };
    const src = await ref('docker-daemon:dsv-repo/multi:1').newSource(dctx);
    expect(src.blobOrder).toBe('any');
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    expect(exports).toHaveLength(1);
    expect(readdirSync(spoolDir)).toHaveLength(1);
    const layers = m.layers as Descriptor[];
    expect(layers).toHaveLength(3);
    // Reverse manifest order, then all at once with the config: no further export.
    for (const l of [...layers].reverse()) expect(digestOf(await readAll(await src.getBlob(l)))).toBe(l.digest);
    const all = await Promise.all([m.config as Descriptor, ...layers].map(async (l) => digestOf(await readAll(await src.getBlob(l)))));
    expect(all).toEqual([m.config.digest, ...layers.map((l) => l.digest)]);
    // Abandoning a blob half-read is fine; it can be read again.
    const first = await src.getBlob(layers[0]!);
    first.destroy();
    expect(digestOf(await readAll(await src.getBlob(layers[0]!)))).toBe(layers[0]!.digest);
    expect(exports).toHaveLength(1);
    await src.close();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  test('docker-daemon: errors name what was wrong', async () => {
    let err = await ref('docker-daemon:dsv-repo/nope:1').newSource(ctx).catch((e) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('dsv-repo/nope:1');
    err = await ref('docker-daemon:x:1').newSource({ dockerEndpoint: { host: `unix://${d.dataRoot}/no.sock` } }).catch((e) => e);
    expect(isDsvError(err, 'Network')).toBe(true);
    err = await ref(`docker-daemon:${inspectId(d, 'dsv-repo/imported:1')}`).newDestination(ctx).catch((e) => e);
    expect(isDsvError(err, 'Usage')).toBe(true);
    const src = await ref(`docker-daemon:${inspectId(d, 'dsv-repo/imported:1').slice(7, 19)}`).newSource(ctx);
    expect(JSON.parse(Buffer.from((await src.getManifest()).bytes).toString()).config.digest).toBe(inspectId(d, 'dsv-repo/imported:1'));
    expect(await src.listTags?.()).toEqual([]);
    await src.close();
    const named = await ref('docker-daemon:dsv-repo/imported:1').newSource(ctx);
    expect(await named.listTags?.()).toEqual(expect.arrayContaining(['1', 'signed']));
    await named.close();
  });
});

describe('vfs', () => {
  let d: Dockerd;
  let ctx: SystemContext;
  beforeAll(async () => {
    d = await startDockerd({ driver: 'vfs' });
    ctx = { dockerEndpoint: { host: d.host }, dockerRoot: d.dataRoot };
    d.docker(['load', '-i', buildSaveArchive('dsv-repo/vfs:1', 'vfs')]);
  });
  afterAll(async () => {
    await d?.stop();
    removeTempDirs();
  });

  test('docker-storage: verifies, signs through the daemon, and names a changed file', async () => {
    expect(d.driver).toBe('vfs');
    const res = await verifyStoreImage(d.dataRoot, 'dsv-repo/vfs:1');
    expect(res.driver).toBe('vfs');
    expect(res.layers).toHaveLength(3);
    const { configDigest } = await copyImage('docker-daemon:dsv-repo/vfs:1', 'docker-daemon:dsv-repo/vfs:signed', ctx, hmacSigner);
    expect(inspectId(d, 'dsv-repo/vfs:signed')).toBe(configDigest);
    const src = await ref('docker-storage:dsv-repo/vfs:signed').newSource(ctx);
    const v = await verifyImage(src);
    await src.close();
    expect(v.config.digest).toBe(configDigest);
    expect(v.signatures).not.toBe('none');
    // vfs keeps a full copy per layer: change the file in the top layer's directory.
    const { cacheId } = cacheIdOf(d, 'dsv-repo/vfs:1', 2);
    const p = join(d.dataRoot, 'vfs', 'dir', cacheId, 'app', 'data.txt');
    const b = readFileSync(p);
    b[0] ^= 1;
    writeFileSync(p, b);
    const err = await verifyStoreImage(d.dataRoot, 'dsv-repo/vfs:1').catch((e) => e);
    expect(isDsvError(err, 'DigestMismatch')).toBe(true);
    expect(err.message).toContain('layer 2 (');
    expect(err.message).toContain('app/data.txt');
  });
});
