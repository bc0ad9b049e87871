import { describe, expect, it } from 'vitest';
import { createPayload, parsePayload } from './payload.js';

const enc = (s: string) => new TextEncoder().encode(s);
const D = `sha256:${'a'.repeat(64)}`;
const ok = (critical: string, optional = '{}') => `{"critical":${critical},"optional":${optional}}`;
const CRIT = `{"identity":{"docker-reference":"example.com/a:1"},"image":{"docker-manifest-digest":"${D}"},"type":"atomic container signature"}`;

describe('simple-signing payload', () => {
  it('creates the canonical document and parses it back', () => {
    const bytes = createPayload({ dockerReference: 'example.com/a:1', manifestDigest: D, creator: 'dsv 0.1', timestamp: 1700000000 });
    expect(new TextDecoder().decode(bytes)).toBe(ok(CRIT, '{"creator":"dsv 0.1","timestamp":1700000000}'));
    expect(parsePayload(bytes)).toEqual({ dockerReference: 'example.com/a:1', manifestDigest: D, creator: 'dsv 0.1', timestamp: 1700000000 });
  });

  it('accepts an empty optional object and unknown optional fields', () => {
    expect(parsePayload(enc(ok(CRIT)))).toEqual({ dockerReference: 'example.com/a:1', manifestDigest: D });
    expect(parsePayload(enc(ok(CRIT, '{"other":[1,2]}')))).toEqual({ dockerReference: 'example.com/a:1', manifestDigest: D });
  });

  it.each([
    ['not JSON', 'nope'],
    ['trailing data', `${ok(CRIT)} x`],
    ['missing optional', `{"critical":${CRIT}}`],
    ['unknown top-level field', `{"critical":${CRIT},"optional":{},"extra":1}`],
    ['duplicate top-level key', `{"critical":${CRIT},"critical":${CRIT},"optional":{}}`],
    ['unknown critical field', ok(CRIT.replace('"type"', '"x":1,"type"'))],
    ['missing critical.identity', ok(`{"image":{"docker-manifest-digest":"${D}"},"type":"atomic container signature"}`)],
    ['wrong type', ok(CRIT.replace('atomic container signature', 'cosign container image signature'))],
    ['unknown image field', ok(CRIT.replace('{"docker-manifest-digest"', '{"x":"y","docker-manifest-digest"'))],
    ['duplicate identity key', ok(CRIT.replace('{"docker-reference":"example.com/a:1"}', '{"docker-reference":"a","docker-reference":"b"}'))],
    ['non-string reference', ok(CRIT.replace('"example.com/a:1"', '5'))],
    ['non-integer timestamp', ok(CRIT, '{"timestamp":1.5}')],
    ['string timestamp', ok(CRIT, '{"timestamp":"1"}')],
    ['non-string creator', ok(CRIT, '{"creator":1}')],
    ['duplicate optional key', ok(CRIT, '{"creator":"a","creator":"b"}')],
  ])('rejects %s', (_why, text) => {
    expect(() => parsePayload(enc(text))).toThrow(expect.objectContaining({ code: 'SignatureInvalid' }));
  });

  it('rejects bytes that are not UTF-8', () => {
    expect(() => parsePayload(new Uint8Array([0xff, 0xfe]))).toThrow(/not UTF-8/);
  });
});
