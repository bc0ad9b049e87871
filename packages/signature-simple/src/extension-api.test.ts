// The signature extension API against an in-process server: no registry on this machine implements the
// extension (distribution answers 404), so the protocol is checked against a fake that records requests.
import { describe, expect, it } from 'vitest';
import { getExtensionSignatures, putExtensionSignature, putExtensionSignatures } from './extension-api.js';
import { MAX_SIGNATURES } from './limits.js';

const D = `sha256:${'c'.repeat(64)}`;
const B = 'https://reg.example:5000';
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });

function fakeRegistry(initial: Uint8Array[] = []) {
  const stored = initial.map((s, i) => ({ schemaVersion: 2, name: `${D}@${String(i).padStart(32, '0')}`, type: 'atomic', content: Buffer.from(s).toString('base64') }));
  const calls: Array<{ url: string; method: string; body?: string; headers?: Record<string, string> }> = [];
  const request = async (url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string }) => {
    calls.push({ url, method: init.method, body: init.body as string, headers: init.headers });
    if (init.method === 'GET') return json({ signatures: stored });
    stored.push(JSON.parse(init.body as string));
    return new Response(null, { status: 201 });
  };
  return { stored, calls, request };
}

describe('signature extension API', () => {
  it('GETs /extensions/v2/<repo>/signatures/<digest> and decodes atomic signatures, skipping other types', async () => {
    const f = fakeRegistry([new Uint8Array([1, 2, 3])]);
    f.stored.push({ schemaVersion: 2, name: 'x', type: 'other', content: 'AAAA' }, { schemaVersion: 3, name: 'y', type: 'atomic', content: 'AAAA' });
    expect(await getExtensionSignatures({ baseUrl: B, repository: 'ns/app', manifestDigest: D, request: f.request })).toEqual([new Uint8Array([1, 2, 3])]);
    expect(f.calls[0]).toMatchObject({ url: `${B}/extensions/v2/ns/app/signatures/${D}`, method: 'GET' });
  });

  it('PUTs one signature object alone, named <digest>@<32 hex>', async () => {
    const f = fakeRegistry();
    await putExtensionSignature({ baseUrl: B, repository: 'ns/app', manifestDigest: D, request: f.request }, new Uint8Array([7, 8]));
    const body = JSON.parse(f.calls[0]!.body!);
    expect(Object.keys(body)).toEqual(['schemaVersion', 'name', 'type', 'content']);
    expect(body).toMatchObject({ schemaVersion: 2, type: 'atomic', content: Buffer.from([7, 8]).toString('base64') });
    expect(body.name).toMatch(new RegExp(`^${D}@[0-9a-f]{32}$`));
    expect(f.calls[0]).toMatchObject({ method: 'PUT', url: `${B}/extensions/v2/ns/app/signatures/${D}` });
  });

  it('putExtensionSignatures sends only signatures the registry does not hold, one request each', async () => {
    const f = fakeRegistry([new Uint8Array([1])]);
    const n = await putExtensionSignatures({ baseUrl: B, repository: 'a/b', manifestDigest: D, request: f.request }, [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])]);
    expect(n).toBe(2);
    expect(f.calls.map((c) => c.method)).toEqual(['GET', 'PUT', 'PUT']);
  });

  it('maps statuses: 404 NotFound, 401 AuthFailed, 500 RemoteError; a PUT not answered 201 fails', async () => {
    for (const [status, code] of [[404, 'NotFound'], [401, 'AuthFailed'], [500, 'RemoteError']] as const) {
      const request = async () => new Response('no', { status });
      await expect(getExtensionSignatures({ baseUrl: B, repository: 'a/b', manifestDigest: D, request })).rejects.toMatchObject({ code });
      await expect(putExtensionSignature({ baseUrl: B, repository: 'a/b', manifestDigest: D, request }, new Uint8Array([1]))).rejects.toMatchObject({ code });
    }
  });

  it(`refuses more than ${MAX_SIGNATURES} signatures, bad base64, and bodies that are not a signature list`, async () => {
    const many = Array.from({ length: MAX_SIGNATURES + 1 }, () => ({ schemaVersion: 2, name: 'n', type: 'atomic', content: 'AQ==' }));
    const t = (v: unknown) => ({ baseUrl: B, repository: 'a/b', manifestDigest: D, request: async () => json(v) });
    await expect(getExtensionSignatures(t({ signatures: many }))).rejects.toMatchObject({ code: 'LimitExceeded' });
    await expect(getExtensionSignatures(t({ signatures: [{ schemaVersion: 2, name: 'n', type: 'atomic', content: '***' }] }))).rejects.toThrow(/base64/);
    await expect(getExtensionSignatures(t({ nope: [] }))).rejects.toThrow(/signatures/);
    await expect(getExtensionSignatures({ baseUrl: B, repository: 'Bad/Repo', manifestDigest: D, request: async () => json({}) })).rejects.toMatchObject({ code: 'ReferenceInvalid' });
  });
});
