// The docker transport end to end against in-process servers (TLS, certs.d, trusted roots, insecure registries, tokens, timeouts): faults a real registry cannot produce.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, type Descriptor, type Digest } from '@dsv/core/formats';
import { RegistryClient } from './client.js';
import { probeTls, SYSTEM_CA_FILES, trustRoots } from './tls.js';
import { createDockerTransport, dockerTransport, type DockerImageDestination } from './transport.js';

const servers: Server[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => unknown;
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

function wrap(handler: Handler, seen: Seen[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function fake(handler: Handler): Promise<{ host: string; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const port = await listen(createServer(wrap(handler, seen)));
  return { host: `127.0.0.1:${port}`, port, seen };
}

const quiet = { certsDirs: [], insecureRegistries: [], retryTimes: 1 };

describe('dockerTransport references', () => {
  it('parses host/repo:tag and prints docker://host/repo:tag', () => {
    const r = dockerTransport.parseReference('127.0.0.1:5000/team/app:v1');
    expect(r.transport.name).toBe('docker');
    expect(r.toString()).toBe('docker://127.0.0.1:5000/team/app:v1');
    expect(r.within).toBe('127.0.0.1:5000/team/app:v1');
    expect(dockerTransport.parseReference(r.within).toString()).toBe(r.toString());
    expect(dockerTransport.parseReference('//localhost:5000/a@sha256:' + 'a'.repeat(64)).toString()).toBe(`docker://localhost:5000/a@sha256:${'a'.repeat(64)}`);
    expect(dockerTransport.parseReference('busybox').toString()).toBe('docker://docker.io/library/busybox:latest');
  });

  it('rejects bad references with ReferenceInvalid', () => {
    expect(() => dockerTransport.parseReference('Host:5000/UPPER:tag')).toThrow(expect.objectContaining({ code: 'ReferenceInvalid' }));
    expect(() => dockerTransport.parseReference('')).toThrow(expect.objectContaining({ code: 'ReferenceInvalid' }));
  });
});

describe('DockerImageDestination', () => {
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}');
  const child = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","child":true}');

  it('meets its registry (GET /v2/) as soon as it is opened, while the source is still being read', async () => {
    const f = await fake((_req, res) => res.writeHead(200).end('{}'));
    const t = createDockerTransport({ sleep: async () => undefined });
    const dest = await t.parseReference(`${f.host}/app:v1`).newDestination(quiet);
    closers.push(() => dest.close());
    for (let i = 0; i < 100 && f.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(f.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /v2/']);
    expect(await dest.hasBlob({ mediaType: 'x', digest: digestOf(child), size: child.length })).toBe(true);
    expect(f.seen.filter((s) => s.url === '/v2/')).toHaveLength(1);
  });

  it('PUTs child manifests by digest at once and the tagged manifest only on commit()', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      if (req.method === 'PUT') return res.writeHead(201).end();
      res.writeHead(404).end();
    });
    const t = createDockerTransport({ sleep: async () => undefined });
    const dest = (await t.parseReference(`${f.host}/app:v1`).newDestination(quiet)) as DockerImageDestination;
    closers.push(() => dest.close());
    await dest.putManifest(child, 'application/vnd.oci.image.manifest.v1+json', digestOf(child));
    expect(f.seen.filter((s) => s.method === 'PUT').map((s) => s.url)).toEqual([`/v2/app/manifests/${digestOf(child)}`]);
    await dest.putManifest(manifest, 'application/vnd.oci.image.manifest.v1+json');
    expect(f.seen.filter((s) => s.method === 'PUT')).toHaveLength(1);
    await dest.commit();
    const puts = f.seen.filter((s) => s.method === 'PUT');
    expect(puts.map((s) => s.url)).toEqual([`/v2/app/manifests/${digestOf(child)}`, '/v2/app/manifests/v1']);
    expect(puts[1]!.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(puts[1]!.body.equals(manifest)).toBe(true);
    await expect(dest.putManifest(child, 'x', digestOf(manifest))).rejects.toMatchObject({ code: 'Usage' });
  });

  it('refuses a child manifest whose bytes do not match its digest, sending nothing', async () => {
    const f = await fake((req, res) => res.writeHead(req.url === '/v2/' ? 200 : 201).end());
    const dest = await dockerTransport.parseReference(`${f.host}/app:v1`).newDestination(quiet);
    closers.push(() => dest.close());
    await expect(dest.putManifest(child, 'x', digestOf(manifest))).rejects.toMatchObject({ code: 'DigestMismatch' });
    expect(f.seen.filter((s) => s.method === 'PUT')).toHaveLength(0);
  });

  it('mounts only from a docker reference on the same registry', async () => {
    const blob = Buffer.from('layer');
    const d: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(blob) as Digest, size: blob.length };
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      if (req.method === 'HEAD') return res.writeHead(404).end();
      if (req.method === 'POST' && req.url!.includes('mount=')) return res.writeHead(201, { location: `/v2/dst/blobs/${d.digest}` }).end();
      res.writeHead(500).end();
    });
    const dest = await dockerTransport.parseReference(`${f.host}/dst:v1`).newDestination(quiet);
    closers.push(() => dest.close());
    expect(await dest.tryReuseBlob!(d, { mountFrom: dockerTransport.parseReference('other.example:5000/src:v1') })).toBe(false);
    expect(f.seen.some((s) => s.url.includes('mount='))).toBe(false);
    expect(await dest.tryReuseBlob!(d, { mountFrom: dockerTransport.parseReference(`${f.host}/src:v1`) })).toBe(true);
    const post = f.seen.find((s) => s.url.includes('mount='))!;
    expect(post.url).toBe(`/v2/dst/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=src`);
    // The caller asked hasBlob() already: no second HEAD.
    expect(f.seen.filter((s) => s.method === 'HEAD')).toHaveLength(0);
  });
});

describe('RegistryClient edge cases', () => {
  let certDir: string;
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    certDir = mkdtempSync(join(tmpdir(), 'dsv-registry-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(certDir, 'k.pem'), '-out', join(certDir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    tls = { key: readFileSync(join(certDir, 'k.pem')), cert: readFileSync(join(certDir, 'c.pem')) };
  });
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  it('tells a TLS port from a plain-HTTP one, and from a closed one, by a handshake that trusts nothing', async () => {
    const tlsPort = await listen(createHttpsServer(tls, (_req, res) => res.writeHead(200).end('{}')));
    const plain = await fake((_req, res) => res.writeHead(200).end('{}'));
    const closed = await fake(() => undefined);
    for (const s of servers.splice(-1)) await new Promise((r) => s.close(r));
    const opts = { timeoutMs: 5000 };
    expect(await probeTls('127.0.0.1', tlsPort, opts)).toEqual({ tls: true, codes: [] });
    const p = await probeTls('127.0.0.1', plain.port, opts);
    expect(p.tls).toBe(false);
    expect(p.codes.some((c) => c.startsWith('ERR_SSL_'))).toBe(true);
    expect(await probeTls('127.0.0.1', closed.port, opts)).toEqual({ tls: undefined, codes: ['ECONNREFUSED'] });
    // A port that takes the connection and never answers the handshake: not TLS.
    const held: Socket[] = [];
    const silent = createNetServer((sock) => void held.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => (held.forEach((h) => h.destroy()), silent.close(() => r()))));
    const stalled = await probeTls('127.0.0.1', (silent.address() as AddressInfo).port, { timeoutMs: 200 });
    expect(stalled).toEqual({ tls: false, codes: ['ERR_TLS_HANDSHAKE_TIMEOUT'] });
    const aborted = AbortSignal.abort();
    expect((await probeTls('127.0.0.1', tlsPort, { ...opts, signal: aborted })).tls).toBeUndefined();
  });

  it('reaches a listed insecure loopback registry that speaks TLS over HTTPS (the probe finds TLS, nothing verified)', async () => {
    const seen: Seen[] = [];
    const port = await listen(
      createHttpsServer(
        tls,
        wrap((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/v2/' ? '{}' : '{"name":"app","tags":["t"]}'), seen),
      ),
    );
    const debug: string[] = [];
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { ...quiet, insecureRegistries: [`127.0.0.1:${port}`], debug: (m) => debug.push(m) }, credentials: null });
    closers.push(() => c.close());
    expect(await c.listTags('app')).toEqual(['t']);
    expect(seen.map((s) => s.url)).toEqual(['/v2/', '/v2/app/tags/list']);
    expect(debug.join('\n')).not.toContain('plain HTTP');
  });

  it('refuses a redirect from HTTPS to plain HTTP', async () => {
    const plain = await fake((_req, res) => res.writeHead(200).end('data'));
    const seen: Seen[] = [];
    const port = await listen(
      createHttpsServer(
        tls,
        wrap((req, res) => {
          if (req.url === '/v2/') return res.writeHead(200).end('{}');
          res.writeHead(302, { location: `http://127.0.0.1:${plain.port}/blob` }).end();
        }, seen),
      ),
    );
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { ...quiet, insecureRegistries: [`127.0.0.1:${port}`] }, credentials: null });
    closers.push(() => c.close());
    await expect(c.getBlob('app', digestOf('data'))).rejects.toMatchObject({ code: 'RemoteError', message: expect.stringContaining('HTTPS to plain HTTP') });
    expect(plain.seen).toHaveLength(0);
    expect(seen.some((s) => s.url === '/v2/')).toBe(true);
  });

  it('verifies TLS for loopback hosts too: a self-signed server fails with Network, no HTTP fallback', async () => {
    const port = await listen(createHttpsServer(tls, (_req, res) => res.writeHead(200).end('{}')));
    const debug: string[] = [];
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { ...quiet, debug: (m) => debug.push(m) }, credentials: null });
    closers.push(() => c.close());
    await expect(c.listTags('app')).rejects.toMatchObject({ code: 'Network', message: expect.stringContaining('https://127.0.0.1') });
    expect(debug.join('\n')).not.toContain('plain HTTP');
  });

  it('trusts a CA from a certs.d directory', async () => {
    const port = await listen(
      createHttpsServer(tls, (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/v2/' ? '{}' : '{"name":"app","tags":["a"]}');
      }),
    );
    const certsD = mkdtempSync(join(tmpdir(), 'dsv-certsd-'));
    execFileSync('mkdir', ['-p', join(certsD, `127.0.0.1:${port}`)]);
    execFileSync('cp', [join(certDir, 'c.pem'), join(certsD, `127.0.0.1:${port}`, 'ca.crt')]);
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { ...quiet, certsDirs: [certsD] }, credentials: null });
    closers.push(async () => {
      await c.close();
      rmSync(certsD, { recursive: true, force: true });
    });
    expect(await c.listTags('app')).toEqual(['a']);
  });

  it('trusts the CAs docker and skopeo trust: tlsRoots (SSL_CERT_FILE, SSL_CERT_DIR and NODE_EXTRA_CA_CERTS), without certs.d', async () => {
    const port = await listen(createHttpsServer(tls, (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/v2/' ? '{}' : '{"name":"app","tags":["a"]}')));
    const dir = mkdtempSync(join(tmpdir(), 'dsv-ssl-cert-dir-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('cp', [join(certDir, 'c.pem'), join(dir, 'registry.pem')]);
    for (const tlsRoots of [{ certFile: join(certDir, 'c.pem') }, { certDirs: [join(dir, 'missing'), dir] }, { extraCaFile: join(certDir, 'c.pem') }]) {
      const debug: string[] = [];
      const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { ...quiet, tlsRoots, debug: (m) => debug.push(m) }, credentials: null });
      closers.push(() => c.close());
      expect(await c.listTags('app'), JSON.stringify(tlsRoots)).toEqual(['a']);
      expect(debug.join('\n')).toContain(`TLS roots for 127.0.0.1:${port}: `);
    }
    // Without any of them the self-signed certificate does not verify (the system bundle does not hold it).
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: quiet, credentials: null });
    closers.push(() => c.close());
    await expect(c.listTags('app')).rejects.toMatchObject({ code: 'Network' });
  });

  it('reads the trusted roots from the system bundle, SSL_CERT_FILE instead of it, and names an unreadable one', () => {
    const system = SYSTEM_CA_FILES.find((f) => existsSync(f));
    const roots = trustRoots({});
    if (system) expect(roots.sources).toEqual([system]);
    else expect(roots.sources).toEqual(["Node's bundled roots"]);
    expect(roots.certificates.length).toBeGreaterThan(10);
    expect(trustRoots({})).toBe(roots);
    const own = trustRoots({ certFile: join(certDir, 'c.pem') });
    expect(own).toEqual({ certificates: [readFileSync(join(certDir, 'c.pem'), 'utf8').trim()], sources: [join(certDir, 'c.pem')] });
    expect(() => trustRoots({ certFile: join(certDir, 'missing.pem') })).toThrow(expect.objectContaining({ code: 'IoError', message: expect.stringContaining(`SSL_CERT_FILE: cannot read ${join(certDir, 'missing.pem')}`) }));
  });

  it('exchanges an identity token with an OAuth2 refresh_token POST', async () => {
    const realm = await fake((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at","expires_in":120}'));
    const f = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer at') {
        return res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token",service="svc"` }).end();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["x"]}');
    });
    const c = new RegistryClient({ registry: f.host, ctx: quiet, credentials: { identityToken: 'refresh-secret' } });
    closers.push(() => c.close());
    expect(await c.listTags('app')).toEqual(['x']);
    const post = realm.seen.find((s) => s.method === 'POST')!;
    const form = new URLSearchParams(post.body.toString());
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe('refresh-secret');
    expect(form.get('service')).toBe('svc');
    expect(form.get('scope')).toBe('repository:app:pull');
  });

  it('times out a server that never answers (Network)', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return res.writeHead(200).end('{}');
      /* never answers */
    });
    const c = new RegistryClient({ registry: f.host, ctx: { ...quiet, retryTimes: 0 }, credentials: null, timeoutMs: 300 });
    closers.push(() => c.close());
    await expect(c.getManifest('app', 'v1')).rejects.toMatchObject({ code: 'Network' });
  });

  it('insecureRegistries: a listed host is reached over HTTPS without verification', async () => {
    const port = await listen(createHttpsServer(tls, (req, res) => res.writeHead(200).end(req.url === '/v2/' ? '{}' : '{"tags":["z"]}')));
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, ctx: { certsDirs: [], insecureRegistries: ['other:1', `127.0.0.1:${port}`] }, credentials: null });
    closers.push(() => c.close());
    expect(await c.listTags('app')).toEqual(['z']);
  });
});
