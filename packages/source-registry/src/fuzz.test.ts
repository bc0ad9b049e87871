// Property-based fuzzing (fast-check, fixed seed, bounded runs) of the registry answers this package
// exports a parser for: WWW-Authenticate challenges and Link headers; and (below) the token and error
// bodies, through the client's own parsers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DsvError } from '@dsv/core/formats';
import { nextLink, parseAuthChallenge } from './index.js';
import { parseTokenResponse } from './authorizer.js';
import { readErrorBody, registryError } from './util.js';

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

// Token and error bodies: the two bodies a registry (or its token server) sends that dsv parses.
// parseTokenResponse is the token body's parser; registryError and readErrorBody read error answers.

/** JSON-ish text: real JSON values (objects with the fields that matter), edited at random, or noise. */
function jsonish(fields: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  const edits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 4 }), fc.string({ maxLength: 4 })), { maxLength: 3 });
  const edited = fc.tuple(fc.oneof(fields, fc.jsonValue()), edits).map(([v, es]) =>
    es.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, JSON.stringify(v) ?? 'null'),
  );
  return fc.oneof(edited, fc.string({ maxLength: 300 }), fc.constant('['.repeat(20_000)), fc.constant(`{"token":"${'a'.repeat(64 * 1024)}"}`));
}

describe('fuzzing registry bodies', () => {
  it('token responses end in a token with a positive lifetime or an AuthFailed that never quotes the body', () => {
    const fields = fc.record(
      { token: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), access_token: fc.oneof(fc.string(), fc.boolean()), expires_in: fc.oneof(fc.integer(), fc.double(), fc.string()) },
      { requiredKeys: [] },
    );
    let n = 0;
    let tokens = 0;
    fc.assert(
      fc.property(jsonish(fields), (body) => {
        n++;
        try {
          const r = parseTokenResponse(Buffer.from(body, 'utf8'), 'GET token from https://auth.example/token', 'registry.example');
          expect(typeof r.token).toBe('string');
          expect(r.token.length).toBeGreaterThan(0);
          expect(r.expires).toBeGreaterThan(0);
          tokens++;
        } catch (e) {
          if (!(e instanceof DsvError)) throw new Error(`${(e as Error)?.name}: ${(e as Error)?.message}`);
          expect(e.code).toBe('AuthFailed');
          expect(e.message).not.toContain('\n');
          if (body.length >= 12) expect(e.message).not.toContain(body);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
    console.log(`fuzz token responses: ${n} inputs (${tokens} gave a token)`);
    expect(n).toBe(1000);
  });

  it('error bodies, split into random chunks, end in one typed one-line error naming the request', async () => {
    const fields = fc.record(
      {
        errors: fc.oneof(
          fc.array(fc.record({ code: fc.oneof(fc.constantFrom('MANIFEST_UNKNOWN', 'DENIED', 'DIGEST_INVALID', 'TOOMANYREQUESTS'), fc.string(), fc.integer()), message: fc.oneof(fc.string(), fc.constant('line1\nline2\r\n\u0000')), detail: fc.jsonValue() }, { requiredKeys: [] }), { maxLength: 5 }),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    const statuses = fc.constantFrom(400, 401, 403, 404, 405, 409, 416, 429, 500, 502, 503);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(jsonish(fields), statuses, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), async (body, status, cuts) => {
        n++;
        const bytes = Buffer.from(body, 'utf8');
        // The body arrives in chunks of the given sizes (cycled); readErrorBody keeps at most its cap.
        async function* chunks() {
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length]! * (bytes.length > 4096 ? 4096 : 1);
            yield bytes.subarray(at, at + size);
            at += size;
          }
        }
        const kept = await readErrorBody(chunks(), 64 * 1024);
        expect(kept.length).toBeLessThanOrEqual(64 * 1024);
        expect(bytes.subarray(0, kept.length).equals(kept)).toBe(true);
        const e = registryError(status, kept, { what: 'GET manifest app:v1', host: 'registry.example' });
        expect(e).toBeInstanceOf(DsvError);
        expect(['NotFound', 'AuthFailed', 'DigestMismatch', 'RemoteError']).toContain(e.code);
        expect(e.message.startsWith(`GET manifest app:v1: registry registry.example answered ${status}: `)).toBe(true);
        expect(e.message).not.toMatch(/[\r\n\u0000]/);
        expect(e.message.length).toBeLessThan(400);
      }),
      { seed: SEED, numRuns: 600 },
    );
    console.log(`fuzz registry error bodies: ${n} inputs`);
    expect(n).toBe(600);
  });
});
