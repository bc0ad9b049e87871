// Property-based fuzzing (fast-check, fixed seed, bounded runs) of tar-split metadata, which a reader of
// Docker's store takes from disk (layerdb/.../tar-split.json.gz): plain and gzip, mutated real entries and
// arbitrary lines. Every input must end in a size or a DsvError: never another exception or a hang.
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { tarSplitSize } from './tarsplit.js';

const SEED = 20240601;
const good = [
  '{"type":2,"payload":"ZXhhbXBsZQ==","position":0}',
  '{"type":1,"name":"a.txt","size":5,"payload":"AAAAAAAAAAA=","position":1}',
  '{"type":1,"name_raw":"Yi50eHQ=","size":0,"payload":null,"position":2}',
  '{"type":2,"payload":"","position":3}',
].join('\n');

describe('fuzzing tar-split metadata', () => {
  it('ends in a size or a DsvError', async () => {
    let n = 0;
    const edits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 });
    const text = fc.oneof(
      edits.map((es) => es.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, good)),
      fc.array(fc.json({ maxDepth: 2 }), { maxLength: 5 }).map((ls) => ls.join('\n')),
      fc.array(fc.record({ type: fc.constantFrom(1, 2, 3, '1'), position: fc.integer({ min: -1, max: 4 }), size: fc.oneof(fc.integer(), fc.double(), fc.constant(null)), name: fc.string({ maxLength: 8 }), payload: fc.oneof(fc.base64String({ maxLength: 16 }), fc.string({ maxLength: 8 }), fc.constant(null)) }), { maxLength: 5 }).map((rs) => rs.map((r) => JSON.stringify(r)).join('\n')),
      fc.string({ maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.boolean(), fc.option(fc.nat(), { nil: undefined }), async (t, gz, cut) => {
        let bytes = gz ? gzipSync(Buffer.from(t)) : Buffer.from(t);
        if (cut !== undefined) bytes = bytes.subarray(0, cut % (bytes.length + 1));
        n++;
        try {
          const size = await tarSplitSize(Readable.from([bytes]));
          expect(Number.isSafeInteger(size)).toBe(true);
        } catch (e) {
          if (!(e instanceof DsvError)) throw new Error(`${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
      }),
      { seed: SEED, numRuns: 800 },
    );
    console.log(`fuzz tar-split: ${n} metadata inputs`);
    expect(n).toBe(800);
  });
});
