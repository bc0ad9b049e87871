// docker-daemon: against an in-process fake Engine on a unix socket, for faults the real dockerd does
// not produce on demand: an export cut mid-layer, a load refused early or failing in its message
// stream; and to count exports and watch the spool file. The real daemon is exercised in e2e/repository
// and e2e/docker-plugin.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { digestOf, isDsvError, pendingCleanups, tempOwner, type Descriptor, type SystemContext } from '@dsv/core';
import { dockerDaemonTransport } from './index.js';
import { makeTar, tempDir } from './__tests__/fixtures.js';

async function buildSave(config: Buffer, layer: Buffer): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => p.on('end', r));
  const cfgName = `${digestOf(config).slice(7)}.json`;
  p.entry({ name: cfgName }, config);
  p.entry({ name: 'abc/layer.tar' }, layer);
  p.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: cfgName, RepoTags: ['x:1'], Layers: ['abc/layer.tar'] }]));
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Fake {
  mode: { export: 'ok' | 'truncate'; load: 'ok' | 'refuse' | 'stream-error' };
  tags: string[];
  loads: number;
  exports: number;
}

let server: Server;
let ctx: SystemContext;
let save: Buffer;
let layer: Buffer;
let config: Buffer;
let id: string;
const fake: Fake = { mode: { export: 'ok', load: 'ok' }, tags: [], loads: 0, exports: 0 };
let spoolDir: string;

beforeAll(async () => {
  layer = await makeTar([{ name: 'big.bin', content: Buffer.alloc(300_000, 9) }]);
  config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  id = digestOf(config);
  save = await buildSave(config, layer);
  const socket = join(tempDir('dsvfake-'), 'd.sock');
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = decodeURIComponent(req.url ?? '');
    if (req.method === 'GET' && url === '/images/x:1/json') {
      res.end(JSON.stringify({ Id: id }));
    } else if (req.method === 'GET' && url === `/images/${id}/get`) {
      fake.exports++;
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      if (fake.mode.export === 'truncate') {
        res.write(save.subarray(0, 2048 + 100_000));
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        res.end(save);
      }
    } else if (req.method === 'POST' && url.startsWith('/images/load')) {
      fake.loads++;
      if (fake.mode.load === 'refuse') {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'no space left on device' }));
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(fake.mode.load === 'ok'
          ? `${JSON.stringify({ stream: `Loaded image ID: ${id}\n` })}\n`
          : `${JSON.stringify({ errorDetail: { message: 'invalid diffID for layer 0' }, error: 'invalid diffID for layer 0' })}\n`);
      });
    } else if (req.method === 'POST' && url.startsWith('/images/') && url.includes('/tag?')) {
      fake.tags.push(url);
      res.writeHead(201);
      res.end();
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `No such image: ${url}` }));
    }
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
  spoolDir = tempDir('dsvspool-');
  ctx = { dockerEndpoint: { host: `unix://${socket}` }, bigFilesTemporaryDir: spoolDir };
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('docker-daemon: against a fake Engine', () => {
  test('reads the export: synthesised manifest, config and layer bytes', async () => {
    fake.mode.export = 'ok';
    const src = await dockerDaemonTransport.parseReference('x:1').newSource(ctx);
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    expect(m.config).toMatchObject({ digest: id, size: config.length });
    expect(m.layers).toEqual([{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: digestOf(layer), size: layer.length }]);
    expect((await drain(await src.getBlob(m.layers[0]))).equals(layer)).toBe(true);
    expect((await drain(await src.getBlob(m.config))).equals(config)).toBe(true);
    await expect(src.getBlob({ ...m.layers[0], digest: digestOf('other') })).rejects.toThrow(/not part of image/);
    await src.close();
  });

  test('one export serves the manifest and every blob, in any order and at once, from a spool removed on close', async () => {
    fake.mode.export = 'ok';
    fake.exports = 0;
    const before = pendingCleanups();
    const src = await dockerDaemonTransport.parseReference('x:1').newSource(ctx);
    expect(src.blobOrder).toBe('any');
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    // The spool: one pid-named temp file in the configured directory, registered for cleanup.
    const files = readdirSync(spoolDir);
    expect(files).toHaveLength(1);
    expect(tempOwner(files[0]!)).toBe(process.pid);
    expect(pendingCleanups()).toBe(before + 1);
    const [a, b, c] = await Promise.all([src.getBlob(m.layers[0]), src.getBlob(m.config), src.getBlob(m.layers[0])]);
    const [ab, bb, cb] = await Promise.all([drain(a), drain(b), drain(c)]);
    expect(ab.equals(layer) && cb.equals(layer)).toBe(true);
    expect(bb.equals(config)).toBe(true);
    expect(digestOf(ab)).toBe(m.layers[0].digest);
    expect(fake.exports).toBe(1);
    await src.close();
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(pendingCleanups()).toBe(before);
    await expect(src.getBlob(m.layers[0])).rejects.toThrow(/closed/);
  });

  test('an export cut in the middle of a layer fails the read (never a clean short end) and leaves no spool', async () => {
    fake.mode.export = 'truncate';
    const before = pendingCleanups();
    const src = await dockerDaemonTransport.parseReference('x:1').newSource(ctx);
    const err = await src.getManifest().catch((e) => e);
    expect(isDsvError(err, 'RemoteError'), String(err)).toBe(true);
    expect(err.message).toContain(id);
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(pendingCleanups()).toBe(before);
    // A later attempt exports again and succeeds.
    fake.mode.export = 'ok';
    const m = JSON.parse(Buffer.from((await src.getManifest()).bytes).toString());
    expect((await drain(await src.getBlob(m.layers[0]))).equals(layer)).toBe(true);
    await src.close();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  test('a spool directory that does not exist is a clear IoError', async () => {
    const src = await dockerDaemonTransport.parseReference('x:1').newSource({ ...ctx, bigFilesTemporaryDir: join(spoolDir, 'missing') });
    const err = await src.getManifest().catch((e) => e);
    expect(isDsvError(err, 'IoError'), String(err)).toBe(true);
    expect(err.message).toMatch(/export spool.*missing.*ENOENT/);
    await src.close();
  });

  test('a load refused by the daemon fails and tags nothing', async () => {
    for (const mode of ['refuse', 'stream-error'] as const) {
      fake.mode.load = mode;
      fake.tags = [];
      const dest = await dockerDaemonTransport.parseReference('x:new').newDestination(ctx);
      const put = async (d: Descriptor, b: Buffer) => dest.putBlob(d, Readable.from([b]));
      let err: unknown;
      try {
        await put({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: digestOf(layer), size: layer.length }, layer);
        await put({ mediaType: 'application/vnd.docker.container.image.v1+json', digest: id as never, size: config.length }, config);
        await dest.putManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: id, size: config.length }, layers: [{ digest: digestOf(layer), size: layer.length }] })), 'application/vnd.docker.distribution.manifest.v2+json');
        await dest.commit();
      } catch (e) {
        err = e;
      }
      await dest.close();
      expect(isDsvError(err), mode).toBe(true);
      expect((err as Error).message).toMatch(mode === 'refuse' ? /no space left on device/ : /invalid diffID/);
      expect(fake.tags).toEqual([]);
    }
  });

  test('a successful load is tagged afterwards, by image id', async () => {
    fake.mode.load = 'ok';
    fake.tags = [];
    const dest = await dockerDaemonTransport.parseReference('team/app:v2').newDestination(ctx);
    await dest.putBlob({ mediaType: 'x', digest: digestOf(layer), size: layer.length }, Readable.from([layer]));
    await dest.putBlob({ mediaType: 'x', digest: id as never, size: config.length }, Readable.from([config]));
    await dest.putManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: id }, layers: [{ digest: digestOf(layer) }] })), 'application/vnd.docker.distribution.manifest.v2+json');
    await dest.commit();
    await dest.close();
    expect(fake.tags).toEqual([`/images/${id}/tag?repo=team/app&tag=v2`]);
  });
});
