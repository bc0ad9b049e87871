// Property-based fuzzing (fast-check, fixed seed, bounded runs) of what an OpenPGP verifier reads from an
// image: the armour (headers, CRC, base64) and the packets inside (mutated real signatures).
// Every input must end in a verification result or a DsvError: never another exception or a hang.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { createGpgVerifier } from './verifier.js';
import { armorAsSignature, binaryOf, cleanup, detachedSign, eccKey, enc, tmp, writeTmp } from './__tests__/helpers.js';

const SEED = 20240601;
const DATA = enc('sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2');
let alice: openpgp.PrivateKey;
let good: string;
beforeAll(async () => {
  alice = await eccKey('Alice');
  good = await detachedSign(alice, DATA);
});
afterAll(cleanup);

describe('fuzzing the OpenPGP verifier', () => {
  it('mutated armour and packets end in a result or a DsvError', async () => {
    const v = await createGpgVerifier({ trust: [writeTmp('fuzz-trust.asc', alice.toPublic().armor())], gpgHome: `${tmp()}/no-such-home` });
    expect((await v.verify(DATA, good)).status).toBe('valid');
    const packets = Buffer.from(binaryOf(good));
    let n = 0;
    const textEdits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 });
    const byteEdits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });
    const input = fc.oneof(
      textEdits.map((es) => es.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, good)),
      fc.tuple(byteEdits, fc.option(fc.nat(), { nil: undefined })).map(([es, cut]) => {
        const b = Buffer.from(packets);
        for (const [at, x] of es) b[at % b.length] = x;
        return armorAsSignature(cut === undefined ? b : b.subarray(0, cut % (b.length + 1)));
      }),
      fc.uint8Array({ maxLength: 400 }).map((b) => armorAsSignature(Buffer.from(b))),
      fc.string({ maxLength: 300 }).map((s) => `-----BEGIN PGP SIGNATURE-----\n\n${s}\n-----END PGP SIGNATURE-----`),
      fc.string({ maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(input, async (sig) => {
        n++;
        try {
          const r = await v.verify(DATA, sig);
          expect(typeof r.status).toBe('string');
        } catch (e) {
          if (!(e instanceof DsvError)) throw new Error(`${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
    console.log(`fuzz signer-gpg: ${n} signature inputs`);
    expect(n).toBe(500);
  });
});
