// Lookaside stores over file:// and http:// (a node:http static file server in this process stands in for
// the web server a lookaside is published on; the protocol is plain GET).
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLookasideSignature, lookasideSignatureUrl, readLookasideSignatures, writeLookasideSignatures } from './lookaside.js';
import { MAX_SIGNATURE_BYTES, MAX_SIGNATURES } from './limits.js';

const root = mkdtempSync(join(tmpdir(), 'dsv-lookaside-'));
const D = `sha256:${'b'.repeat(64)}`;
const sig = (n: number) => new Uint8Array([0xa3, n, n, n]);
let server: Server;
let httpBase = '';
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url!.startsWith('/fail/')) return void res.writeHead(500).end();
    try {
      const body = readFileSync(join(root, decodeURIComponent(req.url!)));
      res.writeHead(200, { 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  httpBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe('lookaside', () => {
  it('names signature-<n> under <base>/<repository>@<algorithm>=<hex>', () => {
    expect(lookasideSignatureUrl('file:///srv/sigs/', 'busybox:latest', D, 1).href).toBe(`file:///srv/sigs/library/busybox@sha256=${'b'.repeat(64)}/signature-1`);
    expect(lookasideSignatureUrl('https://h.example/a', 'reg.example:5000/ns/app@' + D, D, 3).href).toBe(`https://h.example/a/ns/app@sha256=${'b'.repeat(64)}/signature-3`);
    expect(() => lookasideSignatureUrl('file:///x', 'a/b', 'sha256:short', 1)).toThrow(/digest/);
  });

  it('writes with temp + rename, reads back to the first gap, replaces a set and removes stale ones', async () => {
    const base = pathToFileURL(join(root, 'store')).href;
    await writeLookasideSignatures(base, 'example.com/ns/app:1', D, [sig(1), sig(2), sig(3)]);
    const dir = join(root, 'store/ns/app@sha256=' + 'b'.repeat(64));
    expect(readdirSync(dir).sort()).toEqual(['signature-1', 'signature-2', 'signature-3']);
    expect(await readLookasideSignatures(base, 'example.com/ns/app:1', D)).toEqual([sig(1), sig(2), sig(3)]);
    await writeLookasideSignatures(base, 'example.com/ns/app:1', D, [sig(9)]);
    expect(readdirSync(dir)).toEqual(['signature-1']);
    expect(await addLookasideSignature(base, 'example.com/ns/app:1', D, sig(9))).toBe(1);
    expect(await addLookasideSignature(base, 'example.com/ns/app:1', D, sig(8))).toBe(2);
    expect(await readLookasideSignatures(base, 'example.com/ns/app:1', D)).toEqual([sig(9), sig(8)]);
    rmSync(join(dir, 'signature-1'));
    expect(await readLookasideSignatures(base, 'example.com/ns/app:1', D)).toEqual([]);
  });

  it('reads over http, stopping at the first 404; other statuses are errors', async () => {
    const base = pathToFileURL(join(root, 'web')).href;
    await writeLookasideSignatures(base, 'example.com/web:1', D, [sig(4), sig(5)]);
    expect(await readLookasideSignatures(`${httpBase}/web`, 'example.com/web:1', D)).toEqual([sig(4), sig(5)]);
    expect(requests.filter((r) => r.startsWith('/web/')).map((r) => r.split('/').pop())).toEqual(['signature-1', 'signature-2', 'signature-3']);
    await expect(readLookasideSignatures(`${httpBase}/fail`, 'example.com/web:1', D)).rejects.toMatchObject({ code: 'RemoteError' });
    let seen = '';
    const request = async (url: string) => { seen = url; return new Response(null, { status: 404 }); };
    expect(await readLookasideSignatures('https://sigs.example/x', 'example.com/web:1', D, { request })).toEqual([]);
    expect(seen).toBe(`https://sigs.example/x/web@sha256=${'b'.repeat(64)}/signature-1`);
  });

  it('refuses writing anywhere but file://', async () => {
    await expect(writeLookasideSignatures(httpBase, 'a/b:1', D, [sig(1)])).rejects.toThrow(/only be written to file:\/\//);
  });

  it(`refuses more than ${MAX_SIGNATURES} signatures and signatures over 4 MiB`, async () => {
    const base = pathToFileURL(join(root, 'many')).href;
    const dir = join(root, 'many/x/y@sha256=' + 'b'.repeat(64));
    mkdirSync(dir, { recursive: true });
    for (let i = 1; i <= MAX_SIGNATURES; i++) writeFileSync(join(dir, `signature-${i}`), sig(1));
    expect(await readLookasideSignatures(base, 'r.example/x/y:1', D)).toHaveLength(MAX_SIGNATURES);
    writeFileSync(join(dir, `signature-${MAX_SIGNATURES + 1}`), sig(1));
    await expect(readLookasideSignatures(base, 'r.example/x/y:1', D)).rejects.toMatchObject({ code: 'LimitExceeded' });
    writeFileSync(join(dir, 'signature-1'), Buffer.alloc(MAX_SIGNATURE_BYTES + 1));
    await expect(readLookasideSignatures(base, 'r.example/x/y:1', D)).rejects.toMatchObject({ code: 'LimitExceeded' });
    await expect(readLookasideSignatures(`${httpBase}/many`, 'r.example/x/y:1', D)).rejects.toMatchObject({ code: 'LimitExceeded' });
  });
});
