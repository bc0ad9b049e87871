// Every cosign fixture made by real signers (containers/image's test data) gives its expected result
// under the policy engine (here because a signer package's own tests may not import @dsv/policy).
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '@dsv/core';
import { evaluatePolicy, parsePolicy } from '@dsv/policy';
import { describe, expect, it } from 'vitest';
import { cosignFormat, parseSerialisedAttachment, readCertificates, readPublicKeys, rekorLogId, verifyCosignAttachment, type CosignAttachment } from '@dsv/signature-cosign';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '../../packages/signature-cosign/fixtures');
const file = (rel: string) => new Uint8Array(readFileSync(join(FIX, rel)));

function loadDir(name: string): { manifest?: Uint8Array; attachments: CosignAttachment[] } {
  const dir = join(FIX, name);
  const sigs = readdirSync(dir).filter((f) => /^signature-\d+$/.test(f)).sort();
  return {
    ...(existsSync(join(dir, 'manifest.json')) ? { manifest: file(`${name}/manifest.json`) } : {}),
    attachments: sigs.map((s) => parseSerialisedAttachment(file(`${name}/${s}`))),
  };
}

async function judge(name: string, requirement: Record<string, unknown>, dockerReference?: string) {
  const { manifest, attachments } = loadDir(name);
  const identity = dockerReference ?? '192.168.64.2:5000/cosign-signed-single-sample';
  // The fixtures were signed for several repositories: compare repositories only where the test does not say otherwise.
  const policy = parsePolicy(Buffer.from(JSON.stringify({ default: [{ signedIdentity: { type: 'matchRepository' }, ...requirement }] })));
  const format = cosignFormat({ source: async () => attachments });
  return evaluatePolicy(policy, {
    transport: 'docker',
    dockerReference: identity,
    manifestDigest: manifest ? digestOf(manifest) : 'sha256:' + '0'.repeat(64),
    ...(manifest ? { manifestBytes: manifest } : {}),
  }, { formats: [format], baseDir: FIX });
}

const KEY = { type: 'sigstoreSigned', keyPath: 'cosign.pub' };

describe('containers/image cosign fixtures', () => {
  it('the Rekor key stored here is the one whose log id the fixtures name', () => {
    const [k] = readPublicKeys(file('rekor.pub'));
    expect(rekorLogId(k!)).toBe('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d');
  });

  it.each([
    ['dir-img-cosign-valid', undefined],
    ['dir-img-cosign-valid-with-tag', '192.168.64.2:5000/skopeo-signed:tag'],
    ['dir-img-cosign-mixed', undefined],
    ['dir-img-cosign-valid-2', undefined],
  ])('%s: valid with cosign.pub', async (name, ref) => {
    const v = await judge(name, ref ? { ...KEY, signedIdentity: { type: 'matchExact' } } : KEY, ref);
    expect(v.allowed, JSON.stringify(v)).toBe(true);
  });

  // The shared README says "valid with either key"; both signatures are cosign.pub's (openssl agrees), so cosign2.pub alone rejects.
  it('dir-img-cosign-valid-2: two signatures by cosign.pub; keyPaths with both keys accepts, cosign2.pub alone does not', async () => {
    const v = await judge('dir-img-cosign-valid-2', KEY);
    expect(v.requirements[0]!.signatures.filter((s) => s.accepted)).toHaveLength(2);
    expect((await judge('dir-img-cosign-valid-2', { type: 'sigstoreSigned', keyPath: 'cosign2.pub' })).allowed).toBe(false);
    expect((await judge('dir-img-cosign-valid-2', { type: 'sigstoreSigned', keyPaths: ['cosign2.pub', 'cosign.pub'] })).allowed).toBe(true);
    expect((await judge('dir-img-cosign-valid', { type: 'sigstoreSigned', keyPath: 'cosign2.pub' })).allowed).toBe(false);
  });

  it('dir-img-cosign-valid with keyData', async () => {
    expect((await judge('dir-img-cosign-valid', { type: 'sigstoreSigned', keyData: Buffer.from(file('cosign.pub')).toString('base64') })).allowed).toBe(true);
  });

  it('dir-img-cosign-valid rejects another identity', async () => {
    const v = await judge('dir-img-cosign-valid', KEY, '192.168.64.2:5000/someone-else');
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.signatures[0]!.code).toBe('wrong-identity');
  });

  it.each(['dir-img-cosign-modified-manifest', 'dir-img-cosign-manifest-digest-error'])('%s: rejected', async (name) => {
    const v = await judge(name, KEY);
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.signatures[0]!.reason).toMatch(/manifest/);
  });

  it('dir-img-cosign-no-manifest: the signature cannot match a manifest that is not there', async () => {
    const v = await judge('dir-img-cosign-no-manifest', KEY);
    expect(v.allowed).toBe(false);
  });

  it('dir-img-cosign-other-attachment: not a signature, nothing valid', async () => {
    const v = await judge('dir-img-cosign-other-attachment', KEY);
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.signatures[0]!.code).toBe('unsupported');
  });

  it('unknown-cosign-key.signature: rejected with cosign.pub', () => {
    const att = parseSerialisedAttachment(file('unknown-cosign-key.signature'));
    const r = verifyCosignAttachment(att, { keys: readPublicKeys(file('cosign.pub')) });
    expect(r).toMatchObject({ valid: false, code: 'unknown-key' });
  });

  // The shared README says cosign.pub; the signature (and the key its Rekor entry records) is cosign2.pub's.
  it('dir-img-cosign-key-rekor-valid: valid with cosign2.pub + rekor.pub; a wrong Rekor key rejects it', async () => {
    const KEY2 = { type: 'sigstoreSigned', keyPath: 'cosign2.pub' };
    expect((await judge('dir-img-cosign-key-rekor-valid', KEY, '192.168.64.2:5000/cosign-signed/key-1')).allowed).toBe(false);
    expect((await judge('dir-img-cosign-key-rekor-valid', { ...KEY2, rekorPublicKeyPath: 'rekor.pub' }, '192.168.64.2:5000/cosign-signed/key-1')).allowed).toBe(true);
    const v = await judge('dir-img-cosign-key-rekor-valid', { ...KEY2, rekorPublicKeyPath: 'cosign.pub' }, '192.168.64.2:5000/cosign-signed/key-1');
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.signatures[0]!.code).toBe('rekor');
    // A key signature without a SET is rejected once Rekor keys are required.
    expect((await judge('dir-img-cosign-valid', { ...KEY, rekorPublicKeyPath: 'rekor.pub' })).allowed).toBe(false);
  });

  const FULCIO = { type: 'sigstoreSigned', fulcio: { caPath: 'fulcio_v1.crt.pem', oidcIssuer: 'https://github.com/login/oauth', subjectEmail: 'mitr@redhat.com' }, rekorPublicKeyPath: 'rekor.pub' };

  it('dir-img-cosign-fulcio-rekor-valid: keyless, valid with the Fulcio CA and rekor.pub', async () => {
    const v = await judge('dir-img-cosign-fulcio-rekor-valid', FULCIO, '192.168.64.2:5000/cosign-signed/fulcio-rekor-1');
    expect(v.allowed, JSON.stringify(v)).toBe(true);
    expect(v.requirements[0]!.signatures[0]!.signer).toBe('mitr@redhat.com');
  });

  it.each([
    ['another email', { subjectEmail: 'someone@example.com' }, 'wrong-identity'],
    ['another issuer', { oidcIssuer: 'https://accounts.google.com' }, 'wrong-identity'],
    ['another CA', { caPath: 'pki_root_crts.pem' }, 'untrusted-certificate'],
  ])('dir-img-cosign-fulcio-rekor-valid: rejected with %s', async (_what, change, code) => {
    const v = await judge('dir-img-cosign-fulcio-rekor-valid', { ...FULCIO, fulcio: { ...FULCIO.fulcio, ...change } }, '192.168.64.2:5000/cosign-signed/fulcio-rekor-1');
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.signatures[0]!.code).toBe(code);
  });

  it('dir-img-cosign-fulcio-rekor-valid: the certificate expired long ago, so without Rekor time it would fail', () => {
    const { attachments } = loadDir('dir-img-cosign-fulcio-rekor-valid');
    const r = verifyCosignAttachment(attachments[0]!, {
      fulcio: { caCertificates: readCertificates(file('fulcio_v1.crt.pem')), oidcIssuer: 'https://github.com/login/oauth', subjectEmail: 'mitr@redhat.com' },
      rekorKeys: readPublicKeys(file('cosign.pub')),
    });
    expect(r).toMatchObject({ valid: false, code: 'rekor' });
  });

  const PKI = { type: 'sigstoreSigned', pki: { caRootsPath: 'pki_root_crts.pem', caIntermediatesPath: 'pki_intermediate_crts.pem', subjectEmail: 'qiwan@redhat.com' } };

  it('dir-img-cosign-pki-valid: valid with the private CA roots (+ intermediates)', async () => {
    const v = await judge('dir-img-cosign-pki-valid', PKI, 'localhost:5000/test');
    expect(v.allowed, JSON.stringify(v)).toBe(true);
    const roots = await judge('dir-img-cosign-pki-valid', { type: 'sigstoreSigned', pki: { caRootsPath: 'pki_root_crts.pem', subjectEmail: 'qiwan@redhat.com' } }, 'localhost:5000/test');
    expect(roots.allowed, JSON.stringify(roots)).toBe(true);
  });

  it('dir-img-cosign-pki-valid: rejected for another email, or with the Fulcio CA as root', async () => {
    expect((await judge('dir-img-cosign-pki-valid', { ...PKI, pki: { ...PKI.pki, subjectEmail: 'x@example.com' } }, 'localhost:5000/test')).allowed).toBe(false);
    expect((await judge('dir-img-cosign-pki-valid', { ...PKI, pki: { caRootsPath: 'fulcio_v1.crt.pem', subjectEmail: 'qiwan@redhat.com' } }, 'localhost:5000/test')).allowed).toBe(false);
  });
});
