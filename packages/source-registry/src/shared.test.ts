// Sharing one registry client per registry and configuration within a run (SystemContext.runResources): who shares, tokens per scope, connections, and who closes.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResources, SystemContext } from '@dsv/core/transport';
import { Readable } from 'node:stream';
import { type Seen, blob, blobDigest, cleanup, fake, failure, lookupLoopback, manifest, servers, uploadServer } from './__tests__/fake-registry.js';
import { clientFor, sharedClientKey } from './shared.js';
import { createDockerTransport, type DockerImageReference } from './transport.js';

afterEach(cleanup);

/** The smallest run scope: what the runtime's RunScope does (one per key, closed once at the end). */
function runScope(): RunResources & { made: number; close(): Promise<void> } {
  const items = new Map<string, { close(): Promise<void> }>();
  let closed = false;
  const scope = {
    made: 0,
    shared<T extends { close(): Promise<void> }>(key: string, make: () => T): T {
      if (closed) throw new Error('closed');
      let item = items.get(key);
      if (!item) {
        item = make();
        scope.made++;
        items.set(key, item);
      }
      return item as T;
    },
    async close() {
      closed = true;
      for (const i of items.values()) await i.close();
      items.clear();
    },
  };
  return scope;
}

/** A registry with Bearer auth: tokens named after the scope asked for; every manifest answered with `manifest`. */
async function tokenRegistry() {
  const tokens: string[] = [];
  const realm = await fake((req, res) => {
    const scope = new URL(req.url!, 'http://x').searchParams.getAll('scope').join(' ');
    tokens.push(scope);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `t:${scope}`, expires_in: 300 }));
  });
  const reg = await fake((req, res) => {
    const m = /^\/v2\/([^/]+)\/manifests\//.exec(req.url!);
    const want = m ? `Bearer t:repository:${m[1]}:pull` : undefined;
    if (req.url === '/v2/' || req.headers.authorization !== want) {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token",service="svc"` }).end();
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(manifest.length) }).end(manifest);
  });
  let connections = 0;
  servers.at(-1)!.on('connection', () => connections++);
  return { reg, realm, tokens, connections: () => connections };
}

const transport = createDockerTransport({ lookup: lookupLoopback, retryBaseDelayMs: 1 });
const base: SystemContext = { certsDirs: [], insecureRegistries: [], retryTimes: 1, registryCredentials: { username: 'u', password: 'p' } };

describe('run-scoped registry clients', () => {
  it('gives every image of a run on one registry the same client; a source close() leaves it open; the run closes it', async () => {
    const t = await tokenRegistry();
    const run = runScope();
    const ctx: SystemContext = { ...base, runResources: run };
    const refs = ['a:1', 'a:2', 'b:1', 'a:3'].map((r) => transport.parseReference(`${t.reg.host}/${r}`) as DockerImageReference);
    const clients = new Set();
    for (const ref of refs) {
      const src = await ref.newSource(ctx);
      clients.add((src as unknown as { client: unknown }).client);
      expect((await src.getManifest()).bytes.length).toBe(manifest.length);
      await src.close();
    }
    expect(clients.size).toBe(1);
    expect(run.made).toBe(1);
    // One token per scope (repository:a:pull, repository:b:pull), not one per image; one scheme probe and
    // kept-alive connections, not a probe and a connection per image as the same four images open alone.
    expect(t.tokens.sort()).toEqual(['repository:a:pull', 'repository:b:pull']);
    const alone = await tokenRegistry();
    for (const r of ['a:1', 'a:2', 'b:1', 'a:3']) {
      const single = await (transport.parseReference(`${alone.reg.host}/${r}`) as DockerImageReference).newSource(base);
      await single.getManifest();
      await single.close();
    }
    expect(alone.tokens).toHaveLength(4);
    expect([t.connections(), alone.connections()]).toEqual([3, 8]);
    const client = [...clients][0] as { getManifest(r: string, t: string): Promise<unknown> };
    await run.close();
    expect((await failure(client.getManifest('a', '1'))).message).toMatch(/is closed/);
  });

  it('without run resources every source has its own client and token, closed by its close()', async () => {
    const t = await tokenRegistry();
    const ref = transport.parseReference(`${t.reg.host}/a:1`) as DockerImageReference;
    const one = await ref.newSource(base);
    const two = await ref.newSource(base);
    await one.getManifest();
    await two.getManifest();
    expect((one as unknown as { client: unknown }).client).not.toBe((two as unknown as { client: unknown }).client);
    expect(t.tokens).toEqual(['repository:a:pull', 'repository:a:pull']);
    await one.close();
    expect((await failure(one.getManifest())).message).toMatch(/is closed/);
    await two.close();
  });

  it('keys on the whole configuration: other credentials, another registry, another signal or callback get their own client', () => {
    const key = (registry: string, ctx: SystemContext) => sharedClientKey({ registry, ctx, lookup: lookupLoopback });
    const signal = new AbortController().signal;
    const debug = () => undefined;
    const ctx: SystemContext = { ...base, signal, debug, registryAuth: { 'dest.test': { registryCredentials: { username: 'd', password: 'q' } } } };
    // A copy of the same settings (the runtime spreads contexts) shares; run resources themselves do not count.
    expect(key('src.test', ctx)).toBe(key('SRC.test', { ...ctx, runResources: runScope() }));
    expect(key('src.test', ctx)).not.toBe(key('dest.test', ctx));
    expect(key('src.test', ctx)).not.toBe(key('src.test', { ...ctx, registryCredentials: { username: 'u', password: 'other' } }));
    expect(key('src.test', ctx)).not.toBe(key('src.test', { ...ctx, signal: new AbortController().signal }));
    expect(key('src.test', ctx)).not.toBe(key('src.test', { ...ctx, onProgress: () => undefined }));
    expect(key('src.test', ctx)).not.toBe(key('src.test', { ...ctx, insecureRegistries: ['src.test'] }));
    expect(sharedClientKey({ registry: 'src.test', ctx })).not.toBe(key('src.test', ctx));
    // Credentials count as this registry gets them: named for it in registryAuth or at the top level, the same client;
    // another registry's entry does not split it.
    const creds = { username: 's', password: 'p' };
    const files = ['/auth/src.json'];
    const { registryAuth: _auth, ...plain } = ctx;
    const topLevel = key('src.test', { ...plain, credentialsFiles: files, registryCredentials: creds });
    expect(key('src.test', { ...plain, registryAuth: { 'src.test': { credentialsFiles: files, registryCredentials: creds } } })).toBe(topLevel);
    expect(key('src.test', { ...plain, credentialsFiles: files, registryCredentials: creds, registryAuth: { 'dest.test': { registryCredentials: { username: 'd', password: 'q' } } } })).toBe(topLevel);
    expect(key('src.test', { ...plain, credentialsFiles: files, registryCredentials: creds, registryAuth: { 'src.test': { credentialsFiles: files } } })).not.toBe(topLevel);
    // The key holds no secret.
    expect(key('src.test', ctx)).not.toMatch(/other|"p"/);
  });

  it('a destination and a source of the same registry share the client; its close() does not shut it', async () => {
    const t = await tokenRegistry();
    const run = runScope();
    const ctx: SystemContext = { ...base, runResources: run };
    const ref = transport.parseReference(`${t.reg.host}/a:1`) as DockerImageReference;
    const dest = await ref.newDestination(ctx);
    await dest.close();
    const src = await ref.newSource(ctx);
    expect((src as unknown as { client: unknown }).client).toBe((dest as unknown as { client: unknown }).client);
    expect((await src.getManifest()).bytes.length).toBe(manifest.length);
    await run.close();
  });

  it('sends a blob two images of the run push to one repository once; the second reads its stream to the end and waits', async () => {
    const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
    const f = await fake(uploadServer(state));
    const run = runScope();
    const c = clientFor({ registry: f.host, lookup: lookupLoopback, retryBaseDelayMs: 1, ctx: { certsDirs: [], insecureRegistries: [], runResources: run } });
    let secondRead = 0;
    const second = Readable.from((function* () {
      for (let i = 0; i < blob.length; i += 65536) {
        const part = blob.subarray(i, i + 65536);
        secondRead += part.length;
        yield part;
      }
    })());
    await Promise.all([
      c.uploadBlob('app', blobDigest, Readable.from([blob]), { size: blob.length }),
      c.uploadBlob('app', blobDigest, second, { size: blob.length }),
    ]);
    expect(state.puts.length).toBe(1);
    expect(secondRead).toBe(blob.length);
    // Later images of the run find it done; another repository is its own upload.
    await c.uploadBlob('app', blobDigest, Readable.from([blob]), { size: blob.length });
    expect(state.puts.length).toBe(1);
    await c.uploadBlob('other', blobDigest, Readable.from([blob]), { size: blob.length });
    expect(state.puts.length).toBe(2);
    await run.close();
  });

  it('a failed upload is not shared: the next image of the run uploads the blob itself', async () => {
    const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
    const f = await fake(uploadServer(state));
    const run = runScope();
    const c = clientFor({ registry: f.host, lookup: lookupLoopback, retryBaseDelayMs: 1, ctx: { certsDirs: [], insecureRegistries: [], runResources: run } });
    const wrong = Buffer.from(blob);
    wrong[0] ^= 1;
    expect((await failure(c.uploadBlob('app', blobDigest, Readable.from([wrong]), { size: blob.length }))).code).toBe('DigestMismatch');
    await c.uploadBlob('app', blobDigest, Readable.from([blob]), { size: blob.length });
    expect(state.puts.length).toBe(1);
    // One that fails while another image waits on it: the waiting one read its stream and fails with it.
    let read = 0;
    const waiting = Readable.from((function* () {
      read += blob.length;
      yield blob;
    })());
    const [first, second] = await Promise.all([
      failure(c.uploadBlob('third', blobDigest, Readable.from([wrong]), { size: blob.length })),
      failure(c.uploadBlob('third', blobDigest, waiting, { size: blob.length })),
    ]);
    expect(first.code).toBe('DigestMismatch');
    expect(second).toEqual(first);
    expect(read).toBe(blob.length);
    expect(state.puts.length).toBe(1);
    await run.close();
  });
});
