// Property-based fuzzing (fast-check, fixed seed, bounded runs) of the registry answers this package
// exports a parser for: WWW-Authenticate challenges and Link headers. (The token and error bodies are
// parsed inside the client and not exported, so they are exercised by the client's own tests only.)
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { nextLink, parseAuthChallenge } from './index.js';

const SEED = 20240601;

function typedOrResult(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DsvError)) throw new Error(`${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

describe('fuzzing registry header parsers', () => {
  it('WWW-Authenticate and Link values end in a result or a DsvError', () => {
    const challenge = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull", Basic realm="x"';
    const link = '</v2/a/tags/list?n=2&last=b>; rel="next"';
    const edits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 });
    const mutate = (s: string) => edits.map((es) => es.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, s));
    let n = 0;
    fc.assert(
      fc.property(fc.oneof(mutate(challenge), mutate(link), fc.string({ maxLength: 200 }), fc.constant('"'.repeat(10_000))), (v) => {
        n++;
        typedOrResult(() => parseAuthChallenge(v));
        typedOrResult(() => nextLink([v], new URL('https://registry.example/v2/a/tags/list')));
      }),
      { seed: SEED, numRuns: 1000 },
    );
    console.log(`fuzz registry headers: ${n} inputs (x2 parsers)`);
    expect(n).toBe(1000);
  });
});
