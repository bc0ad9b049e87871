// PKI signatures against the real openssl: certificates made by `openssl req`/`openssl ca`, our signatures
// checked by `openssl dgst`/`openssl pkeyutl`, openssl's signatures checked by us.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignerRegistry, isDsvError } from '@dsv/core';
import { createPkiSigner, createPkiVerifier, parsePkiSignature, pkiPlugin } from '@dsv/signer-pki';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { OpensslCa, genKey, type Issued } from './openssl-ca.js';

const openssl = requireTool('openssl');
const digest = 'sha256:' + 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const data = new TextEncoder().encode(digest);
const otherData = new TextEncoder().encode('sha256:' + '0'.repeat(64));

let dir: string;
let dataFile: string;
let root: OpensslCa, inter: OpensslCa, otherRoot: OpensslCa;
let leaf: Issued, rsaLeaf: Issued, edLeaf: Issued, p384Leaf: Issued, expired: Issued, stranger: Issued, server: Issued;
const bundle = (name: string, ...parts: string[]) => {
  const p = join(dir, name);
  writeFileSync(p, parts.join(''));
  return p;
};
const verifier = (trust: string[]) => createPkiVerifier({ trust, datastore: false });

beforeAll(() => {
  dir = tempDir('dsv-pki-');
  dataFile = join(dir, 'data');
  writeFileSync(dataFile, data);
  root = OpensslCa.root(dir, 'root-ca', 'rsa2048');
  inter = root.intermediate('inter-ca', 'p384');
  leaf = inter.issue('signer', { ext: 'codesign_ext', alg: 'p256' });
  rsaLeaf = inter.issue('rsa-signer', { ext: 'codesign_ext', alg: 'rsa2048' });
  edLeaf = inter.issue('ed-signer', { ext: 'codesign_ext', alg: 'ed25519' });
  p384Leaf = inter.issue('p384-signer', { ext: 'codesign_ext', alg: 'p384' });
  expired = inter.issue('expired-signer', { ext: 'codesign_ext', startDate: '20200101000000Z', endDate: '20210101000000Z' });
  server = inter.issue('tls-server', { ext: 'server_ext' });
  otherRoot = OpensslCa.root(dir, 'other-ca', 'p256');
  stranger = otherRoot.issue('stranger', { ext: 'codesign_ext' });
});
afterAll(() => removeTempDirs());

/** Writes the raw signature bytes of our armour to a file for openssl. */
function sigFile(name: string, armoured: string): string {
  const p = join(dir, name);
  writeFileSync(p, parsePkiSignature(armoured).signature);
  return p;
}

/** Wraps raw signature bytes + a certificate chain in our v2 armour (as a third party would). */
function v2Armour(alg: string, sig: Buffer, chain: Issued[]): string {
  const certs = chain.map((c) => new X509Certificate(c.certPem));
  const keyId = createHash('sha256').update(certs[0]!.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  return [
    '-----BEGIN DSV PKI SIGNATURE-----',
    'Version: 2',
    `Algorithm: ${alg}`,
    `Key-Id: ${keyId}`,
    ...certs.map((c) => `Certificate: ${Buffer.from(c.raw).toString('base64')}`),
    '',
    sig.toString('base64'),
    '-----END DSV PKI SIGNATURE-----',
  ].join('\n');
}

describe('certificates made by openssl', () => {
  it('openssl and we agree on the chain', async () => {
    expect(run(openssl, ['verify', '-CAfile', root.cert.certFile, '-untrusted', inter.cert.certFile, leaf.certFile])).toMatch(/: OK/);
    expect(() => run(openssl, ['verify', '-CAfile', root.cert.certFile, '-untrusted', inter.cert.certFile, expired.certFile])).toThrow(/expired/);
    expect(() => run(openssl, ['verify', '-CAfile', root.cert.certFile, stranger.certFile])).toThrow();

    const signer = await createPkiSigner({ key: bundle('signer-bundle.pem', leaf.keyPem, leaf.certPem, inter.cert.certPem) });
    const sig = await signer.sign(data);
    const r = await (await verifier([root.cert.certFile])).verify(data, sig);
    expect(r).toMatchObject({ status: 'valid', type: 'pki', signer: 'O=dsv e2e, CN=signer', details: { issuer: 'O=dsv e2e, CN=inter-ca' } });
    expect(r.fingerprint).toBe(run(openssl, ['x509', '-in', leaf.certFile, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1]);
    expect((r.details as { serial: string }).serial).toBe(run(openssl, ['x509', '-in', leaf.certFile, '-noout', '-serial']).trim().split('=')[1]);

    // The chain we embed is one openssl accepts too.
    const parsed = parsePkiSignature(sig);
    const pems = parsed.certificates.map((d) => new X509Certificate(d).toString());
    const embeddedLeaf = bundle('embedded-leaf.pem', pems[0]!);
    const embeddedChain = bundle('embedded-chain.pem', ...pems.slice(1));
    expect(run(openssl, ['verify', '-CAfile', root.cert.certFile, '-untrusted', embeddedChain, '-purpose', 'any', embeddedLeaf])).toMatch(/: OK/);
  });
});

describe('our signatures, checked by openssl', () => {
  it('ECDSA P-256 (openssl dgst -sha256 -verify)', async () => {
    const sig = await (await createPkiSigner({ key: leaf.keyFile })).sign(data);
    expect(run(openssl, ['dgst', '-sha256', '-verify', leaf.pubFile, '-signature', sigFile('p256.sig', sig), dataFile])).toMatch(/Verified OK/);
  });
  it('ECDSA P-384 (openssl dgst -sha384 -verify)', async () => {
    const sig = await (await createPkiSigner({ key: p384Leaf.keyFile })).sign(data);
    expect(parsePkiSignature(sig).algorithm).toBe('ecdsa-p384-sha384');
    expect(run(openssl, ['dgst', '-sha384', '-verify', p384Leaf.pubFile, '-signature', sigFile('p384.sig', sig), dataFile])).toMatch(/Verified OK/);
  });
  it('RSA PKCS#1 v1.5, legacy armour and v2 (openssl dgst -sha256 -verify)', async () => {
    const rawKey = join(dir, 'raw-rsa.key');
    genKey(rawKey, 'rsa2048');
    const rawPub = join(dir, 'raw-rsa.pub');
    run(openssl, ['pkey', '-in', rawKey, '-pubout', '-out', rawPub]);
    const legacy = await (await createPkiSigner({ key: rawKey, format: 'legacy' })).sign(data);
    expect(legacy.startsWith('-----BEGIN PKI SIGNATURE-----\n\n')).toBe(true);
    expect(run(openssl, ['dgst', '-sha256', '-verify', rawPub, '-signature', sigFile('legacy.sig', legacy), dataFile])).toMatch(/Verified OK/);
    const v2 = await (await createPkiSigner({ key: rsaLeaf.keyFile })).sign(data);
    expect(run(openssl, ['dgst', '-sha256', '-verify', rsaLeaf.pubFile, '-signature', sigFile('rsa.sig', v2), dataFile])).toMatch(/Verified OK/);
  });
  it('RSA-PSS (openssl dgst with rsa_padding_mode:pss)', async () => {
    const sig = await (await createPkiSigner({ key: rsaLeaf.keyFile, rsaPadding: 'pss' })).sign(data);
    expect(run(openssl, ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-verify', rsaLeaf.pubFile,
      '-signature', sigFile('pss.sig', sig), dataFile])).toMatch(/Verified OK/);
  });
  it('Ed25519 (openssl pkeyutl -verify -rawin)', async () => {
    const sig = await (await createPkiSigner({ key: edLeaf.keyFile })).sign(data);
    expect(run(openssl, ['pkeyutl', '-verify', '-pubin', '-inkey', edLeaf.pubFile, '-rawin', '-in', dataFile, '-sigfile', sigFile('ed.sig', sig)]))
      .toMatch(/Signature Verified Successfully/);
  });
  it('openssl rejects our signature over other data', async () => {
    const sig = await (await createPkiSigner({ key: leaf.keyFile })).sign(otherData);
    expect(() => run(openssl, ['dgst', '-sha256', '-verify', leaf.pubFile, '-signature', sigFile('other.sig', sig), dataFile])).toThrow(/Verification failure/);
  });
});

describe("openssl's signatures, checked by us", () => {
  it('openssl dgst -sha256 -sign (RSA) in the legacy armour verifies against the certificate and the public key', async () => {
    const raw = join(dir, 'openssl-rsa.sig');
    run(openssl, ['dgst', '-sha256', '-sign', rsaLeaf.keyFile, '-out', raw, dataFile]);
    const armoured = `-----BEGIN PKI SIGNATURE-----\n\n${readFileSync(raw).toString('base64')}\n-----END PKI SIGNATURE-----`;
    expect((await (await verifier([rsaLeaf.pubFile])).verify(data, armoured)).status).toBe('valid');
    expect(await (await verifier([rsaLeaf.certFile])).verify(data, armoured)).toMatchObject({ status: 'valid', signer: 'O=dsv e2e, CN=rsa-signer' });
    expect((await (await verifier([rsaLeaf.pubFile])).verify(otherData, armoured)).status).toBe('invalid');
    expect((await (await verifier([root.cert.certFile])).verify(data, armoured)).status).toBe('unknown-key');
  });
  it('openssl ECDSA and PSS signatures wrapped in the v2 armour verify through the chain', async () => {
    const ec = join(dir, 'openssl-ec.sig');
    run(openssl, ['dgst', '-sha256', '-sign', leaf.keyFile, '-out', ec, dataFile]);
    const pss = join(dir, 'openssl-pss.sig');
    run(openssl, ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sign', rsaLeaf.keyFile, '-out', pss, dataFile]);
    const v = await verifier([root.cert.certFile]);
    expect((await v.verify(data, v2Armour('ecdsa-p256-sha256', readFileSync(ec), [leaf, inter.cert]))).status).toBe('valid');
    expect((await v.verify(data, v2Armour('rsa-pss-sha256', readFileSync(pss), [rsaLeaf, inter.cert]))).status).toBe('valid');
  });
});

describe('keys as openssl writes them', () => {
  it('encrypted PKCS#8 and legacy "Proc-Type: 4,ENCRYPTED" keys; wrong passphrase is PassphraseInvalid', async () => {
    const pk8 = join(dir, 'enc8.key');
    genKey(pk8, 'p256', 'open sesame');
    const trad = join(dir, 'enc-trad.key');
    genKey(join(dir, 'plain-rsa.key'), 'rsa2048');
    run(openssl, ['rsa', '-in', join(dir, 'plain-rsa.key'), '-traditional', '-aes256', '-passout', 'pass:open sesame', '-out', trad]);
    expect(readFileSync(trad, 'utf8')).toContain('Proc-Type: 4,ENCRYPTED');
    expect(readFileSync(pk8, 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    for (const f of [pk8, trad]) {
      const sig = await (await createPkiSigner({ key: f, passphrase: 'open sesame' })).sign(data);
      const pub = join(dir, 'pub-of-' + f.split('/').pop());
      run(openssl, ['pkey', '-in', f, '-passin', 'pass:open sesame', '-pubout', '-out', pub]);
      expect((await (await verifier([pub])).verify(data, sig)).status).toBe('valid');
      const err = await createPkiSigner({ key: f, passphrase: 'not it' }).catch((e) => e);
      expect(isDsvError(err, 'PassphraseInvalid')).toBe(true);
      expect(String(err.message)).not.toContain('not it');
    }
  });
});

describe('hostile and untrusted signatures', () => {
  let good: string;
  beforeAll(async () => {
    good = await (await createPkiSigner({ key: bundle('b2.pem', leaf.keyPem, leaf.certPem, inter.cert.certPem) })).sign(data);
  });
  it('corrupt armour and truncated base64 are invalid, never thrown', async () => {
    const v = await verifier([root.cert.certFile]);
    const body = good.split('\n').at(-2)!;
    for (const bad of [
      good.replace('-----END DSV PKI SIGNATURE-----', '-----END PKI SIGNATURE-----'),
      good.replace('Algorithm:', 'Algorithm'),
      good.replace(body, body.slice(0, body.length - 5)),
      good.replace(body, body.slice(0, body.length - 4)), // still base64, but the signature is cut short
      good.replace(/Certificate: [A-Za-z0-9+/]{20}/, 'Certificate: AAAAAAAAAAAAAAAAAAAA'),
    ]) {
      const r = await v.verify(data, bad);
      expect(r.status).toBe('invalid');
    }
  });
  it('a signature over other data is invalid', async () => {
    const r = await (await verifier([root.cert.certFile])).verify(otherData, good);
    expect(r).toMatchObject({ status: 'invalid', reason: 'signature does not match the data' });
  });
  it('an expired certificate is invalid (and cannot sign)', async () => {
    const key = bundle('expired-bundle.pem', expired.keyPem, expired.certPem, inter.cert.certPem);
    await expect(createPkiSigner({ key })).rejects.toMatchObject({ code: 'KeyInvalid' });
    // Signed while it was valid:
    const sig = await (await createPkiSigner({ key, now: new Date('2020-06-01T00:00:00Z') })).sign(data);
    const r = await (await verifier([root.cert.certFile])).verify(data, sig);
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/"O=dsv e2e, CN=expired-signer" expired on 2021-01-01T00:00:00.000Z/);
  });
  it('a certificate from another CA is an unknown signer; a TLS certificate is the wrong usage', async () => {
    const sig = await (await createPkiSigner({ key: bundle('stranger.pem', stranger.keyPem, stranger.certPem) })).sign(data);
    const v = await verifier([root.cert.certFile]);
    expect((await v.verify(data, sig)).status).toBe('unknown-key');
    expect((await (await verifier([otherRoot.cert.certFile])).verify(data, sig)).status).toBe('valid');
    await expect(createPkiSigner({ key: bundle('server.pem', server.keyPem, server.certPem) })).rejects.toMatchObject({ code: 'KeyInvalid' });
    const s = join(dir, 'server.sig');
    run(openssl, ['dgst', '-sha256', '-sign', server.keyFile, '-out', s, dataFile]);
    const r = await v.verify(data, v2Armour('ecdsa-p256-sha256', readFileSync(s), [server, inter.cert]));
    expect(r).toMatchObject({ status: 'invalid' });
    expect(r.reason).toMatch(/not for code signing/);
  });
  it('routes through a SignerRegistry next to other types', async () => {
    const reg = new SignerRegistry().register(pkiPlugin);
    const verify = reg.verifier({ trust: [root.cert.certFile], settings: { datastore: false } });
    expect((await verify(data, good)).status).toBe('valid');
    expect(await verify(data, '-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----')).toMatchObject({ status: 'invalid', reason: 'unrecognised signature format' });
  });
});
