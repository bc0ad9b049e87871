// Property-based fuzzing (fast-check, fixed seed, bounded runs) of what a PKI verifier reads from an
// image: the signature armour, its headers, and the DER certificates it carries (mutated real ones).
// Every input must end in a verification result or a DsvError: never another exception or a hang.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { createPkiVerifier } from './index.js';
import { formatV2Signature } from './armor.js';
import { signWith } from './algorithms.js';
import { spkiSha256 } from './pem.js';
import { CA_EXT, LEAF_EXT, makeCert, type TestIdentity } from './__tests__/certs.js';

const SEED = 20240601;
const dir = mkdtempSync(join(tmpdir(), 'dsv-pki-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = new TextEncoder().encode('sha256:' + 'ab'.repeat(32));
let root: TestIdentity, leaf: TestIdentity, good: string, leafDer: Buffer;

beforeAll(() => {
  root = makeCert(dir, 'root', { ext: CA_EXT, days: 3650 });
  leaf = makeCert(dir, 'leaf', { ext: LEAF_EXT, issuer: root });
  leafDer = Buffer.from(new X509Certificate(leaf.certPem).raw);
  good = formatV2Signature({ algorithm: 'ecdsa-p256-sha256', keyId: spkiSha256(createPublicKey(leaf.key)), certificates: [leafDer], signature: signWith('ecdsa-p256-sha256', leaf.key, data) });
});

describe('fuzzing the PKI verifier', () => {
  it('mutated armour, headers and certificates end in a result or a DsvError', async () => {
    const v = await createPkiVerifier({ trust: [root.certFile], datastore: false });
    expect((await v.verify(data, good)).status).toBe('valid');
    let n = 0;
    const textEdits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 });
    const derEdits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
    const input = fc.oneof(
      textEdits.map((es) => es.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, good)),
      fc.tuple(derEdits, fc.option(fc.nat(), { nil: undefined })).map(([es, cut]) => {
        const der = Buffer.from(leafDer);
        for (const [at, b] of es) der[at % der.length] = b;
        const c = cut === undefined ? der : der.subarray(0, 1 + (cut % der.length)); // the writer needs a byte
        return formatV2Signature({ algorithm: 'ecdsa-p256-sha256', keyId: spkiSha256(createPublicKey(leaf.key)), certificates: [c], signature: signWith('ecdsa-p256-sha256', leaf.key, data) });
      }),
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => formatV2Signature({ algorithm: 'ecdsa-p256-sha256', keyId: 'AB'.repeat(32), certificates: [Buffer.from(b)], signature: Buffer.from(b) })),
      fc.string({ maxLength: 300 }).map((s) => `-----BEGIN DSV PKI SIGNATURE-----\n${s}\n-----END DSV PKI SIGNATURE-----`),
      fc.string({ maxLength: 300 }).map((s) => `-----BEGIN PKI SIGNATURE-----\n${s}\n-----END PKI SIGNATURE-----`),
      fc.string({ maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(input, async (sig) => {
        n++;
        try {
          const r = await v.verify(data, sig);
          expect(typeof r.status).toBe('string');
        } catch (e) {
          if (!(e instanceof DsvError)) throw new Error(`${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
      }),
      { seed: SEED, numRuns: 600 },
    );
    console.log(`fuzz signer-pki: ${n} signature inputs`);
    expect(n).toBe(600);
  });
});
