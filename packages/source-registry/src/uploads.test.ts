// Blob uploads against a fault-injecting server: the three strategies, cancelling on bad bytes, a lost commit answer.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core/formats';
import { type Seen, blob, cleanup, client, failure, fake, ok, uploadServer } from './__tests__/fake-registry.js';
import type { RegistryClientOptions } from './client.js';

afterEach(cleanup);

describe('RegistryClient uploads', () => {
  const small = Buffer.from('hello layer');
  const cases: Array<{ name: string; data: Buffer; opts: (d: Buffer) => { size?: number; chunkSize?: number }; stat: 'monolithicUploads' | 'streamedUploads' | 'chunkedUploads'; client?: Partial<RegistryClientOptions> }> = [
    { name: 'monolithic', data: small, opts: (d) => ({ size: d.length }), stat: 'monolithicUploads' },
    { name: 'streamed PATCH (size unknown)', data: blob, opts: () => ({}), stat: 'streamedUploads' },
    { name: 'streamed PUT (size known)', data: blob, opts: (d) => ({ size: d.length }), stat: 'streamedUploads', client: { monolithicMaxBytes: 1024 } },
    { name: 'chunked', data: blob, opts: (d) => ({ size: d.length, chunkSize: 65_536 }), stat: 'chunkedUploads' },
  ];
  for (const tc of cases) {
    it(`${tc.name}: stores the bytes and commits with ?digest=`, async () => {
      const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
      const f = await fake(uploadServer(state));
      const c = client(f.host, tc.client);
      await c.uploadBlob('app', digestOf(tc.data), Readable.from([tc.data.subarray(0, 5), tc.data.subarray(5)]), tc.opts(tc.data));
      expect(Buffer.concat(state.data).equals(tc.data)).toBe(true);
      expect(state.puts).toHaveLength(1);
      expect(new URL(state.puts[0]!.url, 'http://x').searchParams.get('digest')).toBe(digestOf(tc.data));
      expect(state.deletes).toBe(0);
      expect(c.stats[tc.stat]).toBe(1);
      if (tc.name.startsWith('streamed PUT')) {
        expect(state.patches).toHaveLength(0);
        expect(state.puts[0]!.headers['content-length']).toBe(String(tc.data.length));
      }
      if (tc.name === 'chunked') {
        expect(state.patches.length).toBe(Math.ceil(blob.length / 65_536));
        expect(state.patches[1]!.headers['content-range']).toBe(`65536-131071`);
      }
    });

    it(`${tc.name}: cancels the upload and never sends the final PUT when the bytes do not match`, async () => {
      const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
      const f = await fake(uploadServer(state));
      const c = client(f.host, tc.client);
      const wrong = Buffer.from(tc.data);
      wrong[3] ^= 0xff;
      const e = await failure(c.uploadBlob('app', digestOf(tc.data), Readable.from([wrong]), tc.opts(tc.data)));
      expect(e.code).toBe('DigestMismatch');
      expect(state.puts).toHaveLength(0);
      expect(state.deletes).toBe(1);
    });
  }

  it('treats a commit whose answer was lost as done when the registry has the blob', async () => {
    let stored = false;
    const data = Buffer.from('lost answer');
    const f = await fake((req, res) => {
      if (req.url === '/v2/') return ok(res, Buffer.from('{}'));
      if (req.method === 'POST') return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1' }).end();
      if (req.method === 'PUT' && !stored) {
        stored = true;
        return res.socket?.destroy();
      }
      if (req.method === 'PUT') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
      }
      if (req.method === 'HEAD') return res.writeHead(stored ? 200 : 404).end();
      res.writeHead(204).end();
    });
    const c = client(f.host);
    await c.uploadBlob('app', digestOf(data), Readable.from([data]), { size: data.length });
    expect(f.seen.filter((s) => s.method === 'PUT')).toHaveLength(2);
    expect(f.seen.some((s) => s.method === 'DELETE')).toBe(false);
  });

  it('cancels when the source is longer than the descriptor says', async () => {
    const state = { data: [] as Buffer[], puts: [] as Seen[], deletes: 0, patches: [] as Seen[] };
    const f = await fake(uploadServer(state));
    const c = client(f.host);
    const e = await failure(c.uploadBlob('app', digestOf(blob), Readable.from([blob]), { size: 1000, chunkSize: 4096 }));
    expect(e.code).toBe('SizeMismatch');
    expect(state.puts).toHaveLength(0);
    expect(state.deletes).toBe(1);
  });
});
