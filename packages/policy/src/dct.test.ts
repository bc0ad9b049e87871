// Parsing and engine handling of dsv's dockerContentTrust requirement (server optional, strict fields).
import { describe, expect, it } from 'vitest';
import { evaluatePolicy } from './engine.js';
import type { PolicyImage, SignatureFormat } from './model.js';
import { parsePolicy } from './parse.js';

const wrap = (req: string) => `{"default":[${req}]}`;
const invalid = expect.objectContaining({ code: 'Usage', details: expect.objectContaining({ reason: 'PolicyInvalid' }) });

describe('dockerContentTrust requirement', () => {
  it('parses with and without a server', () => {
    expect(parsePolicy(wrap('{"type":"dockerContentTrust"}')).default[0]).toEqual({ type: 'dockerContentTrust' });
    expect(parsePolicy(wrap('{"type":"dockerContentTrust","server":"https://notary.example:4443/"}')).default[0])
      .toEqual({ type: 'dockerContentTrust', server: 'https://notary.example:4443' });
  });

  it.each([
    ['an unknown field', '{"type":"dockerContentTrust","keyPath":"/k"}', /unknown field "keyPath"/],
    ['a misspelt server', '{"type":"dockerContentTrust","serverUrl":"https://n"}', /unknown field "serverUrl"/],
    ['a server that is not a string', '{"type":"dockerContentTrust","server":4443}', /server must be a string/],
    ['a server that is not a URL', '{"type":"dockerContentTrust","server":"notary:4443"}', /not a URL|https/],
    ['an http server', '{"type":"dockerContentTrust","server":"http://notary:4443"}', /must be an https:\/\/ URL/],
    ['credentials in the server', '{"type":"dockerContentTrust","server":"https://u:p@notary"}', /without credentials/],
    ['an empty server', '{"type":"dockerContentTrust","server":""}', /not a URL/],
  ])('rejects %s', (_what, req, message) => {
    let err: unknown;
    try {
      parsePolicy(wrap(req));
    } catch (e) {
      err = e;
    }
    expect(err).toEqual(invalid);
    expect((err as Error).message).toMatch(message);
  });

  const image: PolicyImage = { transport: 'docker', dockerReference: 'r.example/app:1', manifestDigest: `sha256:${'a'.repeat(64)}` };
  const format = (digest: string | undefined, valid = true): SignatureFormat => ({
    name: 'dct-test',
    requirementTypes: ['dockerContentTrust'],
    listSignatures: async () => [{ origin: 'trust data', data: null }],
    verifySignature: async (_c, keys, _i, ctx) => {
      expect(keys).toEqual([]);
      expect(ctx.requirement).toEqual({ type: 'dockerContentTrust', server: 'https://n.example' });
      return valid ? { valid, ...(digest ? { manifestDigest: digest } : {}), signer: 'targets/releases' } : { valid, reason: 'no signed trust data' };
    },
  });
  const policy = parsePolicy(wrap('{"type":"dockerContentTrust","server":"https://n.example"}'));

  it('accepts when the signed target is the manifest, without keys or identity', async () => {
    const v = await evaluatePolicy(policy, image, { formats: [format(image.manifestDigest)] });
    expect(v.allowed).toBe(true);
  });

  it('rejects another digest, a missing digest, an invalid fact, and no plug-in', async () => {
    const other = await evaluatePolicy(policy, image, { formats: [format(`sha256:${'b'.repeat(64)}`)] });
    expect(other.allowed).toBe(false);
    expect(other.requirements[0]!.reason).toMatch(/is for manifest sha256:b+, the image's is sha256:a+/);
    expect((await evaluatePolicy(policy, image, { formats: [format(undefined)] })).allowed).toBe(false);
    const bad = await evaluatePolicy(policy, image, { formats: [format(undefined, false)] });
    expect(bad.requirements[0]!.reason).toMatch(/no signed trust data/);
    const none = await evaluatePolicy(policy, image, { formats: [] });
    expect(none.requirements[0]!.reason).toMatch(/no signature format able to check dockerContentTrust/);
  });
});
