// containers/image's real simple-signing fixtures judged end to end by our policy engine with the
// simple-signing plug-in: the expected results are the ones containers/image's own tests assert.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core';
import { evaluatePolicy, parsePolicy, type PolicyImage } from '@dsv/policy';
import { simpleSigningFormat } from '@dsv/signature-simple';

const FIX = fileURLToPath(new URL('../../packages/signature-simple/fixtures/containers-image/', import.meta.url));

/** Reads a fixture, following the small "../target" files git writes for the original's symlinks. */
function read(rel: string): Uint8Array {
  let path = join(FIX, rel);
  for (let i = 0; i < 4; i++) {
    const bytes = readFileSync(path);
    const text = bytes.length < 200 ? bytes.toString('latin1') : '';
    if (!/^\.\.\/[\w./-]+$/.test(text)) return new Uint8Array(bytes);
    path = join(dirname(path), text);
  }
  throw new Error(`link loop: ${rel}`);
}

function signaturesOf(dir: string): Uint8Array[] {
  return readdirSync(join(FIX, dir)).filter((f) => /^signature-\d+$/.test(f)).sort().map((f) => read(`${dir}/${f}`));
}

async function judge(opts: { sigs: Uint8Array[]; manifest: Uint8Array; key: string; identity?: unknown; ref?: string }) {
  const policy = parsePolicy(JSON.stringify({
    default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(FIX, opts.key), ...(opts.identity ? { signedIdentity: opts.identity } : {}) }],
  }));
  const image: PolicyImage = { transport: 'docker', dockerReference: opts.ref ?? 'testing/manifest:latest', manifestDigest: digestOf(opts.manifest), manifestBytes: opts.manifest };
  return evaluatePolicy(policy, image, { formats: [simpleSigningFormat({ source: async () => opts.sigs })] });
}

const dirImage = (dir: string, key = 'public-key.gpg') => judge({ sigs: signaturesOf(dir), manifest: read(`${dir}/manifest.json`), key });

describe('containers/image simple-signing fixtures under signedBy', () => {
  it.each([
    ['dir-img-valid', 'public-key.gpg'],
    ['dir-img-valid-2', 'public-key.gpg'],
    ['dir-img-valid-subkey', 'public-key-with-subkey.gpg'],
    ['dir-img-mixed', 'public-key.gpg'],
  ])('%s is accepted', async (dir, key) => {
    const v = await dirImage(dir, key);
    expect(v.allowed, v.requirements[0]!.reason).toBe(true);
  });

  it('dir-img-valid-2: both signatures are accepted', async () => {
    expect((await dirImage('dir-img-valid-2')).requirements[0]!.signatures.map((s) => s.accepted)).toEqual([true, true]);
  });

  it('dir-img-modified-manifest and dir-img-manifest-digest-error are rejected: the signed digest is not the manifest\'s', async () => {
    for (const dir of ['dir-img-modified-manifest', 'dir-img-manifest-digest-error']) {
      const v = await dirImage(dir);
      expect(v.allowed, dir).toBe(false);
      expect(v.requirements[0]!.signatures.map((s) => s.code), dir).toEqual(['digest-mismatch']);
    }
  });

  it('dir-img-unsigned is rejected: a signature was required (dir-img-no-manifest has no manifest to judge at all)', async () => {
    const v = await dirImage('dir-img-unsigned');
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.reason).toBe('a signature was required, but the image has none');
    expect(existsSync(join(FIX, 'dir-img-no-manifest/manifest.json'))).toBe(false);
  });

  const single = (sig: string, key = 'public-key.gpg') =>
    judge({ sigs: [read(sig)], manifest: read('image.manifest.json'), key, identity: { type: 'exactReference', dockerReference: 'testing/manifest:latest' }, ref: 'testing/manifest:latest' })
      .then(async (exact) => ({ exact, repo: await judge({ sigs: [read(sig)], manifest: read('image.manifest.json'), key, identity: { type: 'matchRepository' } }) }));

  it.each(['image.signature', 'no-optional-fields.signature'])('%s is accepted for the repository testing/manifest (it signs the name without a tag)', async (sig) => {
    const { exact, repo } = await single(sig);
    expect(repo.allowed, repo.requirements[0]!.reason).toBe(true);
    expect(exact.allowed).toBe(false);
    expect(exact.requirements[0]!.signatures[0]!.code).toBe('wrong-identity');
  });

  it('subkey.signature is accepted with the key that has the signing subkey', async () => {
    expect((await single('subkey.signature', 'public-key-with-subkey.gpg')).repo.allowed).toBe(true);
  });

  it.each([
    ['expired.signature', 'public-key.gpg', 'expired'],
    ['unknown-key.signature', 'public-key.gpg', 'unknown-key'],
    ['subkey-revoked.signature', 'public-key-with-revoked-subkey.gpg', 'revoked'],
    ['corrupt.signature', 'public-key.gpg', undefined],
    ['invalid-blob.signature', 'public-key.gpg', 'malformed'],
    ['unsigned-literal.signature', 'public-key.gpg', 'malformed'],
    ['unsigned-encrypted.signature', 'public-key.gpg', 'malformed'],
    ['invalid-reference.signature', 'public-key.gpg', 'wrong-identity'],
  ])('%s is rejected (%s)', async (sig, key, code) => {
    const { repo } = await single(sig, key);
    expect(repo.allowed).toBe(false);
    const s = repo.requirements[0]!.signatures[0]!;
    expect(s.accepted).toBe(false);
    if (code) expect(s.code).toBe(code);
    expect(s.reason).toBeTruthy();
  });

  it('the invalid reference is named in the reason', async () => {
    const { repo } = await single('invalid-reference.signature');
    expect(repo.requirements[0]!.reason).toContain('"UPPERCASEISINVALID" is not a valid docker reference');
  });
});
