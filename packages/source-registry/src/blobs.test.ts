// Blob downloads against a fault-injecting server: resumes, restarts, digest and size checks, back-pressure.
import { afterEach, describe, expect, it } from 'vitest';
import { blob, blobDigest, cleanup, client, collect, failure, fake, ok } from './__tests__/fake-registry.js';

afterEach(cleanup);

describe('RegistryClient blob downloads', () => {
  it('resumes a blob download that breaks off mid-way with a Range request', async () => {
    let calls = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      if (!m) return ok(res, blob);
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': String(blob.length - start), 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
      res.end(blob.subarray(start));
    });
    const c = client(f.host);
    const got = await collect(await c.getBlob('app', blobDigest, { size: blob.length }));
    expect(got.equals(blob)).toBe(true);
    expect(c.stats.resumes).toBe(1);
    const second = f.seen.filter((s) => s.url.includes('/blobs/'))[1]!;
    expect(second.headers.range).toMatch(/^bytes=\d+-$/);
  });

  it('restarts a broken download when the server ignores Range, skipping what was delivered', async () => {
    let calls = 0;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (++calls === 1) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 120_000), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      ok(res, blob);
    });
    const c = client(f.host);
    const got = await collect(await c.getBlob('app', blobDigest));
    expect(got.equals(blob)).toBe(true);
  });

  it('fails the stream (no clean end) when blob bytes do not match the digest', async () => {
    const bad = Buffer.from(blob);
    bad[1000] ^= 1;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      ok(res, bad);
    });
    const c = client(f.host);
    const s = await c.getBlob('app', blobDigest, { size: blob.length });
    const e = await failure(collect(s));
    expect(e.code).toBe('DigestMismatch');
    expect(e.message).toContain(blobDigest);
  });

  it('refuses a blob longer than its descriptor before reading it all', async () => {
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      ok(res, blob);
    });
    const c = client(f.host);
    const e = await failure(collect(await c.getBlob('app', blobDigest, { size: 10 })));
    expect(e.code).toBe('SizeMismatch');
  });

  it('a blob download is paced by its reader: a reader that stops stops the transfer, and destroying it ends the request', async () => {
    let written = 0;
    let closed = false;
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      res.writeHead(200, { 'content-length': String(1 << 30) });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && written < 1 << 30) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => (closed = true));
      pump();
    });
    const c = client(f.host);
    const s = await c.getBlob('app', blobDigest, { verify: false });
    const first = await new Promise<Buffer>((r) => s.once('data', (d: Buffer) => (s.pause(), r(d))));
    expect(first.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    // What the socket buffers and one stream buffer hold, not the gigabyte on offer.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(s.readableLength).toBeLessThanOrEqual(128 * 1024);
    s.destroy();
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });
});
