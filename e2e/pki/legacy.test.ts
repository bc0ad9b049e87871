// docker-sign-verify's PKI armour, written by us: byte for byte what the original writes for the same
// RSA key and data (RSASSA-PKCS1-v1_5 / SHA-256 is deterministic, so `openssl dgst -sha256 -sign`
// computes the expected bytes independently), readable by the original's rule, verified by us.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPkiSigner, createPkiVerifier, parsePkiSignature } from '@dsv/signer-pki';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';

const openssl = requireTool('openssl');
const DIGESTS = [
  'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2',
];
const PASS = 'legacy keypair passphrase';

let dir: string;
let keyFile: string; // "RSA PRIVATE KEY" PEM, as the original reads it
let pubFile: string;
let keypair: string; // the original's keypair file: public key, then the encrypted RSA private key
let withCert: string; // the same key followed by a certificate for it

const o = (args: string[]) => run(openssl, args, { cwd: dir });

/** The signature text the original writes: TAG_START, empty line, base64, TAG_END (no final newline). */
function originalArmour(rawSignature: Buffer): string {
  return `-----BEGIN PKI SIGNATURE-----\n\n${rawSignature.toString('base64')}\n-----END PKI SIGNATURE-----`;
}

/** The original's verifier: base64 of the fourth whitespace-separated word. */
function originalParse(signature: string): Buffer {
  return Buffer.from(signature.split(/\s+/).filter(Boolean)[3]!, 'base64');
}

function opensslSign(key: string, data: string, passin?: string): Buffer {
  const dataFile = join(dir, `data-${Math.random().toString(36).slice(2)}`);
  const sigFile = `${dataFile}.sig`;
  writeFileSync(dataFile, data);
  o(['dgst', '-sha256', '-sign', key, ...(passin ? ['-passin', `pass:${passin}`] : []), '-out', sigFile, dataFile]);
  return readFileSync(sigFile);
}

function opensslVerify(pub: string, data: string, signature: Buffer): string {
  const dataFile = join(dir, `vdata-${Math.random().toString(36).slice(2)}`);
  writeFileSync(dataFile, data);
  writeFileSync(`${dataFile}.sig`, signature);
  return o(['dgst', '-sha256', '-verify', pub, '-signature', `${dataFile}.sig`, dataFile]);
}

beforeAll(() => {
  dir = tempDir('dsv-pki-legacy-');
  keyFile = join(dir, 'rsa.pem');
  o(['genrsa', '-traditional', '-out', keyFile, '2048']);
  expect(readFileSync(keyFile, 'utf8')).toContain('-----BEGIN RSA PRIVATE KEY-----');
  pubFile = join(dir, 'rsa.pub.pem');
  o(['rsa', '-in', keyFile, '-pubout', '-out', pubFile]);
  const encrypted = join(dir, 'rsa.enc.pem');
  o(['rsa', '-in', keyFile, '-traditional', '-aes256', '-passout', `pass:${PASS}`, '-out', encrypted]);
  expect(readFileSync(encrypted, 'utf8')).toContain('Proc-Type: 4,ENCRYPTED');
  keypair = join(dir, 'keypair.pem');
  writeFileSync(keypair, `${readFileSync(pubFile, 'utf8')}\n${readFileSync(encrypted, 'utf8')}`);
  const cert = join(dir, 'rsa.crt');
  o(['req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=legacy e2e', '-days', '30', '-out', cert,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature']);
  withCert = join(dir, 'rsa-with-cert.pem');
  writeFileSync(withCert, readFileSync(keyFile, 'utf8') + readFileSync(cert, 'utf8'));
});
afterAll(() => removeTempDirs());

describe("the original's PKI armour", () => {
  it('is what we write by default for an RSA key without a certificate: byte-identical to the original', async () => {
    for (const [key, passphrase] of [[keyFile, undefined], [keypair, PASS]] as const) {
      const signer = await createPkiSigner({ key, passphrase });
      for (const digest of DIGESTS) {
        const ours = await signer.sign(new TextEncoder().encode(digest));
        const expected = originalArmour(opensslSign(keyFile, digest));
        expect(ours, key).toBe(expected);
        expect(await (await createPkiSigner({ key, passphrase, format: 'legacy' })).sign(new TextEncoder().encode(digest))).toBe(expected);
      }
    }
  });

  it("parses by the original's rule (4th whitespace-separated word, base64); openssl verifies the bytes", async () => {
    const signer = await createPkiSigner({ key: keypair, passphrase: PASS });
    const sig = await signer.sign(new TextEncoder().encode(DIGESTS[0]));
    const raw = originalParse(sig);
    expect(raw.length).toBe(256);
    expect(raw.equals(parsePkiSignature(sig).signature)).toBe(true);
    expect(opensslVerify(pubFile, DIGESTS[0], raw)).toMatch(/Verified OK/);
    expect(() => opensslVerify(pubFile, DIGESTS[1], raw)).toThrow(/Verification failure/);
  });

  it('verifies in our verifier (public key, or the keypair file as the trust store); other data is invalid', async () => {
    const sig = await (await createPkiSigner({ key: keyFile })).sign(new TextEncoder().encode(DIGESTS[0]));
    for (const v of [
      await createPkiVerifier({ trust: [pubFile], datastore: false }),
      await createPkiVerifier({ datastore: keypair }),
    ]) {
      expect(await v.verify(new TextEncoder().encode(DIGESTS[0]), sig)).toMatchObject({ status: 'valid', details: { format: 'legacy' } });
      expect((await v.verify(new TextEncoder().encode(DIGESTS[1]), sig)).status).toBe('invalid');
    }
    // The original's own output (openssl's bytes in its armour) verifies the same way.
    const theirs = originalArmour(opensslSign(withCert, DIGESTS[1]));
    expect((await (await createPkiVerifier({ trust: [pubFile], datastore: false })).verify(new TextEncoder().encode(DIGESTS[1]), theirs)).status).toBe('valid');
  });

  it('a key with a certificate chain writes v2 by default; forcing legacy on it is a Usage error; v2 can be forced', async () => {
    const sig = await (await createPkiSigner({ key: withCert })).sign(new TextEncoder().encode(DIGESTS[0]));
    expect(sig.startsWith('-----BEGIN DSV PKI SIGNATURE-----\n')).toBe(true);
    expect(parsePkiSignature(sig).certificates).toHaveLength(1);
    await expect(createPkiSigner({ key: withCert, format: 'legacy' })).rejects.toMatchObject({
      code: 'Usage', message: expect.stringContaining('certificate chain'),
    });
    const v2 = await (await createPkiSigner({ key: keyFile, format: 'v2' })).sign(new TextEncoder().encode(DIGESTS[0]));
    expect(parsePkiSignature(v2)).toMatchObject({ format: 'v2', algorithm: 'rsa-pkcs1v15-sha256' });
    expect(parsePkiSignature(v2).signature.equals(opensslSign(keyFile, DIGESTS[0]))).toBe(true);
  });
});
