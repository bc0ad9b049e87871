// The Engine client's transport and error mapping against in-process servers (TLS handshakes and
// daemon error replies; the real dockerd is exercised in e2e/repository).
import { afterAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDsvError } from '@dsv/core/formats';
import { EngineClient, engineOptionsFrom, imagePath, readBody, readJsonMessages } from './engine.js';
import { Readable } from 'node:stream';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function listen(s: Server): Promise<number> {
  servers.push(s);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
}

function makeCerts(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dsv-engine-tls-'));
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=dsv test CA']);
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=client']);
  o(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2']);
  return dir;
}

const tlsFiles = (dir: string) => ({ caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') });

describe('Engine API client', () => {
  // Regression: the endpoint is typed and the client reads no environment, so a DOCKER_TLS_VERIFY left in
  // the shell cannot make a plain tcp:// endpoint (e.g. a docker context without TLS) speak TLS.
  test('a plain tcp:// endpoint speaks plain HTTP whatever DOCKER_TLS_VERIFY says', async () => {
    const saved = { v: process.env.DOCKER_TLS_VERIFY, p: process.env.DOCKER_CERT_PATH };
    process.env.DOCKER_TLS_VERIFY = '1';
    process.env.DOCKER_CERT_PATH = '/nonexistent';
    try {
      const port = await listen(createHttpServer((_req, res) => res.end('{"plain":true}')));
      const opts = engineOptionsFrom({ dockerEndpoint: { host: `tcp://127.0.0.1:${port}`, tlsVerify: false } });
      const c = new EngineClient(opts);
      expect(c.endpoint.tls).toBe(false);
      expect(await c.json('GET', '/_ping')).toEqual({ plain: true });
    } finally {
      if (saved.v === undefined) delete process.env.DOCKER_TLS_VERIFY;
      else process.env.DOCKER_TLS_VERIFY = saved.v;
      if (saved.p === undefined) delete process.env.DOCKER_CERT_PATH;
      else process.env.DOCKER_CERT_PATH = saved.p;
    }
  });

  test('DOCKER_HOST forms', () => {
    expect(new EngineClient({ host: 'unix:///run/x.sock' }).endpoint.base).toMatchObject({ socketPath: '/run/x.sock' });
    expect(new EngineClient({ host: 'tcp://127.0.0.1:2375' }).endpoint).toMatchObject({ tls: false, base: { host: '127.0.0.1', port: 2375 } });
    expect(() => new EngineClient({ host: 'unix://relative.sock' })).toThrow(/absolute/);
    expect(() => new EngineClient({ host: 'ssh://me@host' })).toThrow(/unix:\/\/ and tcp:\/\//);
    const err = (() => { try { new EngineClient({ host: 'tcp://127.0.0.1:2376', tlsVerify: true, ...tlsFiles('/nonexistent') }); } catch (e) { return e; } })();
    expect(isDsvError(err, 'KeyInvalid')).toBe(true);
    expect(engineOptionsFrom({ dockerEndpoint: { host: 'unix:///a.sock' } }).host).toBe('unix:///a.sock');
    expect(engineOptionsFrom({}).host).toBe('unix:///var/run/docker.sock');
    // TLS files without verification (docker --tls) still encrypt; no files and no verify is plain.
    expect(new EngineClient({ host: 'tcp://127.0.0.1:2376', caFile: '/dev/null' }).endpoint.tls).toBe(true);
    expect(imagePath('localhost:5000/team/app:1', 'json')).toBe('/images/localhost%3A5000/team/app%3A1/json');
  });

  test('daemon errors map to codes with the daemon message', async () => {
    const port = await listen(createHttpServer((req, res) => {
      const status = req.url!.includes('missing') ? 404 : req.url!.includes('conflict') ? 409 : 500;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `reply for ${req.url}` }));
    }));
    const c = new EngineClient({ host: `tcp://127.0.0.1:${port}` });
    let err: any = await c.json('GET', '/images/missing/json').catch((e: any) => e);
    expect(isDsvError(err, 'NotFound')).toBe(true);
    expect(err.message).toContain('reply for /images/missing/json');
    err = await c.json('GET', '/conflict').catch((e: any) => e);
    expect(isDsvError(err, 'Usage')).toBe(true);
    err = await c.json('GET', '/boom').catch((e: any) => e);
    expect(isDsvError(err, 'RemoteError')).toBe(true);
    err = await new EngineClient({ host: 'unix:///nonexistent/dsv.sock' }).json('GET', '/_ping').catch((e: any) => e);
    expect(isDsvError(err, 'Network')).toBe(true);
    expect(err.message).toContain('unix:///nonexistent/dsv.sock');
  });

  test('errors inside a JSON message stream (load) are RemoteError', async () => {
    const ok = await readJsonMessages(Readable.from(['{"stream":"Loaded image ID: sha256:abc\\n"}\n']), 'load', 'h');
    expect(ok).toHaveLength(1);
    const err = await readJsonMessages(Readable.from(['{"stream":"x"}\n{"errorDetail":{"message":"layer mismatch"},"error":"layer mismatch"}\n']), 'load', 'h').catch((e: any) => e);
    expect(isDsvError(err, 'RemoteError')).toBe(true);
    expect(err.message).toContain('layer mismatch');
    const big = await readBody(Readable.from([Buffer.alloc(20)]), 10).catch((e: any) => e);
    expect(isDsvError(big, 'LimitExceeded')).toBe(true);
  });

  test('tcp:// with DOCKER_TLS_VERIFY: client certificate, server checked against ca.pem', async () => {
    const dir = makeCerts();
    const { readFileSync } = await import('node:fs');
    const srv = createHttpsServer({
      key: readFileSync(join(dir, 'server-key.pem')),
      cert: readFileSync(join(dir, 'server.pem')),
      ca: readFileSync(join(dir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    }, (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.end(JSON.stringify({ client: peer.subject?.CN }));
    });
    const port = await listen(srv as unknown as Server);
    const c = new EngineClient({ host: `tcp://127.0.0.1:${port}`, tlsVerify: true, ...tlsFiles(dir) });
    expect(await c.json('GET', '/_ping')).toEqual({ client: 'client' });
    // A server certificate from another CA is refused.
    const other = makeCerts();
    writeFileSync(join(dir, 'ca.pem'), readFileSync(join(other, 'ca.pem')));
    const err = await new EngineClient({ host: `tcp://127.0.0.1:${port}`, tlsVerify: true, ...tlsFiles(dir) }).json('GET', '/_ping').catch((e: any) => e);
    expect(isDsvError(err, 'Network')).toBe(true);
  });
});
