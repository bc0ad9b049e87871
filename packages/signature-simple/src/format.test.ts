import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core/formats';
import { fixture } from './__tests__/fixtures.js';
import { lookasideSource, simpleSigningFormat } from './format.js';
import { writeLookasideSignatures } from './lookaside.js';
import { MAX_SIGNATURES } from './limits.js';

const root = mkdtempSync(join(tmpdir(), 'dsv-format-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MANIFEST = fixture('image.manifest.json');
const IMAGE = { dockerReference: 'testing/manifest:latest', manifestDigest: digestOf(MANIFEST), manifestBytes: MANIFEST };
const KEY = { kind: 'key', origin: 'public-key.gpg', bytes: fixture('public-key.gpg') };

describe('simpleSigningFormat', () => {
  it('lists the source\'s signatures and reports facts: key, signer, identity, digest', async () => {
    const f = simpleSigningFormat({ source: async () => [fixture('dir-img-valid/signature-1')] });
    expect(f.requirementTypes).toEqual(['signedBy']);
    const [c] = await f.listSignatures(IMAGE);
    expect(c!.origin).toBe('simple signature 1');
    expect(await f.verifySignature(c!, [KEY], IMAGE)).toEqual({
      valid: true, keyId: '08CD26E446E2E95249B7A405E932F44B23E8DD43', signer: 'skopeo testing key',
      identity: 'testing/manifest:latest', manifestDigest: IMAGE.manifestDigest,
    });
  });

  it('a signature for other manifest bytes is a digest mismatch; an unknown key is reported with its id', async () => {
    const f = simpleSigningFormat({ source: async () => [] });
    const other = new TextEncoder().encode('{}');
    const fact = await f.verifySignature({ origin: 's', data: fixture('dir-img-valid/signature-1') }, [KEY], { ...IMAGE, manifestBytes: other });
    expect(fact).toMatchObject({ valid: false, code: 'digest-mismatch' });
    const unknown = await f.verifySignature({ origin: 's', data: fixture('unknown-key.signature') }, [KEY], IMAGE);
    expect(unknown).toMatchObject({ valid: false, code: 'unknown-key' });
    expect(unknown.reason).toContain('signature by key');
  });

  it('bad key data is an error the engine reports; more than 128 signatures are refused', async () => {
    const f = simpleSigningFormat({ source: async () => Array.from({ length: MAX_SIGNATURES + 1 }, () => new Uint8Array([1])) });
    await expect(f.listSignatures(IMAGE)).rejects.toMatchObject({ code: 'LimitExceeded' });
    await expect(f.verifySignature({ origin: 's', data: fixture('image.signature') }, [{ kind: 'key', origin: 'keyData', bytes: new TextEncoder().encode('nonsense') }], IMAGE))
      .rejects.toMatchObject({ code: 'KeyInvalid', message: expect.stringContaining('keyData is not a valid OpenPGP key file') });
  });

  it('lookasideSource reads the store registries.d names for the image, and nothing without one', async () => {
    const base = pathToFileURL(join(root, 'store')).href;
    await writeLookasideSignatures(base, 'testing/manifest:latest', IMAGE.manifestDigest, [fixture('image.signature')]);
    const config = { docker: new Map([['docker.io/testing', { lookaside: base }]]) };
    expect(await lookasideSource(config)(IMAGE)).toEqual([fixture('image.signature')]);
    expect(await lookasideSource(config)({ ...IMAGE, dockerReference: 'quay.io/x:1' })).toEqual([]);
    expect(await lookasideSource(config)({ manifestDigest: IMAGE.manifestDigest })).toEqual([]);
  });
});
