import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DsvError, SignerRegistry } from '@dsv/core/formats';
import { createPkiSigner, createPkiVerifier, pkiPlugin, parsePkiSignature } from './index.js';
import { formatLegacySignature, formatV2Signature } from './armor.js';
import { signWith } from './algorithms.js';
import { spkiSha256 } from './pem.js';
import { CA_EXT, LEAF_EXT, makeCert, makeKey, type TestIdentity } from './__tests__/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = new TextEncoder().encode('sha256:' + 'ab'.repeat(32));
const other = new TextEncoder().encode('sha256:' + 'cd'.repeat(32));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const pub = (id: { key: import('node:crypto').KeyObject }) =>
  createPublicKey(id.key).export({ type: 'spki', format: 'pem' }) as string;

let root: TestIdentity, inter: TestIdentity, leaf: TestIdentity, leafBundle: string, rootFile: string;
beforeAll(() => {
  root = makeCert(dir, 'root', { ext: CA_EXT, days: 3650 });
  inter = makeCert(dir, 'inter', { ext: 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign', issuer: root });
  leaf = makeCert(dir, 'leaf', { ext: LEAF_EXT, issuer: inter });
  leafBundle = file('leaf-bundle.pem', leaf.keyPem + leaf.certPem + inter.certPem);
  rootFile = root.certFile;
});

const verifier = (trust: string[], now?: Date) => createPkiVerifier({ trust, datastore: false, ...(now ? { now } : {}) });

/** Builds a v2 signature by hand (for certificates our signer would refuse). */
function handSigned(id: TestIdentity, chain: TestIdentity[], alg = 'ecdsa-p256-sha256' as const, what = data) {
  return formatV2Signature({
    algorithm: alg,
    keyId: spkiSha256(createPublicKey(id.key)),
    certificates: [id, ...chain].map((c) => Buffer.from(new X509Certificate(c.certPem).raw)),
    signature: signWith(alg, id.key, what),
  });
}

describe('certificate chains', () => {
  it('signs with a key file that holds the chain; verifies against the root', async () => {
    const signer = await createPkiSigner({ key: leafBundle });
    const info = await signer.describeKey();
    expect(info).toMatchObject({ type: 'pki', algorithm: 'ecdsa-p256-sha256', identity: 'O=dsv tests, CN=leaf' });
    expect(info.keyId).toMatch(/^[0-9A-F]{16}$/);
    const sig = await signer.sign(data);
    expect(sig.startsWith('-----BEGIN DSV PKI SIGNATURE-----\nVersion: 2\nAlgorithm: ecdsa-p256-sha256\n')).toBe(true);
    expect(parsePkiSignature(sig).certificates).toHaveLength(2);
    const v = await verifier([rootFile]);
    const r = await v.verify(data, sig);
    expect(r).toMatchObject({
      status: 'valid',
      type: 'pki',
      signer: 'O=dsv tests, CN=leaf',
      keyId: info.keyId,
      fingerprint: new X509Certificate(leaf.certPem).fingerprint256,
      details: { issuer: 'O=dsv tests, CN=inter', serial: new X509Certificate(leaf.certPem).serialNumber, chain: ['O=dsv tests, CN=leaf', 'O=dsv tests, CN=inter', 'O=dsv tests, CN=root'] },
    });
    expect(await v.verify(other, sig)).toMatchObject({ status: 'invalid', reason: 'signature does not match the data' });
    // Intermediate trusted directly is an anchor too.
    expect((await (await verifier([inter.certFile])).verify(data, sig)).status).toBe('valid');
    // No trust at all: unknown signer.
    const u = await (await verifier([])).verify(data, sig);
    expect(u).toMatchObject({ status: 'unknown-key', signer: 'O=dsv tests, CN=leaf' });
    expect(u.reason).toMatch(/does not chain to a trusted CA/);
  });

  it('takes the chain from a separate certificate file', async () => {
    const sig = await (await createPkiSigner({ key: leaf.keyFile, certificates: file('chain.pem', leaf.certPem + inter.certPem) })).sign(data);
    expect((await (await verifier([rootFile])).verify(data, sig)).status).toBe('valid');
    await expect(createPkiSigner({ key: leaf.keyFile, certificates: inter.certFile })).rejects.toMatchObject({ code: 'KeyInvalid' });
  });

  it('checks validity at the verification time', async () => {
    const sig = await (await createPkiSigner({ key: leafBundle })).sign(data);
    const later = new Date(Date.now() + 60 * 86400_000);
    const r = await (await verifier([rootFile], later)).verify(data, sig);
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/certificate "O=dsv tests, CN=(leaf|inter)" expired on/);
    const before = await (await verifier([rootFile], new Date(Date.now() - 86400_000))).verify(data, sig);
    expect(before).toMatchObject({ status: 'invalid' });
    expect(before.reason).toMatch(/not valid before/);
    await expect(createPkiSigner({ key: leafBundle, now: later })).rejects.toMatchObject({ code: 'KeyInvalid' });
  });

  it('enforces key usage, EKU, basicConstraints and pathLen', async () => {
    const v = await verifier([rootFile]);
    const server = makeCert(dir, 'server', { ext: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth', issuer: inter });
    await expect(createPkiSigner({ key: file('server-b.pem', server.keyPem + server.certPem) })).rejects.toMatchObject({ code: 'KeyInvalid' });
    expect((await v.verify(data, handSigned(server, [inter]))).reason).toMatch(/not for code signing/);

    const noDs = makeCert(dir, 'nods', { ext: 'keyUsage=critical,keyEncipherment\nextendedKeyUsage=codeSigning', issuer: inter });
    expect((await v.verify(data, handSigned(noDs, [inter]))).reason).toMatch(/does not allow digital signatures/);

    const notCa = makeCert(dir, 'notca', { ext: 'basicConstraints=critical,CA:FALSE', issuer: root });
    const underNotCa = makeCert(dir, 'undernotca', { ext: LEAF_EXT, issuer: notCa });
    const r1 = await v.verify(data, handSigned(underNotCa, [notCa]));
    expect(r1).toMatchObject({ status: 'invalid' });
    expect(r1.reason).toMatch(/is not a CA/);

    // inter has pathlen:0, so an intermediate below it breaks the chain.
    const sub = makeCert(dir, 'sub', { ext: CA_EXT, issuer: inter });
    const underSub = makeCert(dir, 'undersub', { ext: LEAF_EXT, issuer: sub });
    const r2 = await v.verify(data, handSigned(underSub, [sub, inter]));
    expect(r2.reason).toMatch(/allows 0 intermediate CA\(s\) below it, the chain has 1/);

    const crit = makeCert(dir, 'crit', { ext: LEAF_EXT + '\n1.2.3.4=critical,ASN1:NULL', issuer: inter });
    expect((await v.verify(data, handSigned(crit, [inter]))).reason).toMatch(/unsupported critical extension 1\.2\.3\.4/);
  });

  it('name constraints of a CA hold for the certificates below it (RFC 5280 §4.2.1.10, processed by pkijs)', async () => {
    const v = await verifier([rootFile]);
    const constrained = makeCert(dir, 'nc-inter', { ext: `${CA_EXT}\nnameConstraints=critical,permitted;DNS:good.example`, issuer: root });
    const inside = makeCert(dir, 'nc-inside', { ext: `${LEAF_EXT}\nsubjectAltName=DNS:build.good.example`, issuer: constrained });
    expect(await v.verify(data, handSigned(inside, [constrained]))).toMatchObject({ status: 'valid' });
    const outside = makeCert(dir, 'nc-outside', { ext: `${LEAF_EXT}\nsubjectAltName=DNS:build.evil.example`, issuer: constrained });
    const r = await v.verify(data, handSigned(outside, [constrained]));
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/rejected by RFC 5280 path validation: .*permitted sub-trees/);
  });

  it('a certificate from another CA: unknown when unrelated, invalid when it names a trusted CA', async () => {
    const otherRoot = makeCert(dir, 'other-root', { ext: CA_EXT });
    const stranger = makeCert(dir, 'stranger', { ext: LEAF_EXT, issuer: otherRoot });
    const v = await verifier([rootFile]);
    expect((await v.verify(data, handSigned(stranger, []))).status).toBe('unknown-key');
    // Same subject name as our root, different key.
    const impostor = makeCert(dir, 'impostor', { ext: CA_EXT, subject: '/O=dsv tests/CN=root' });
    const victim = makeCert(dir, 'victim', { ext: LEAF_EXT, issuer: impostor });
    const r = await v.verify(data, handSigned(victim, []));
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/names trusted CA "O=dsv tests, CN=root" as issuer but was not signed by it/);
  });

  it('an X.509 v1 root is accepted as a trusted CA, but not as an intermediate', async () => {
    const v1 = makeCert(dir, 'v1-root', { ext: '' });
    expect(new X509Certificate(v1.certPem).toLegacyObject()).not.toHaveProperty('ext_key_usage');
    const under = makeCert(dir, 'under-v1', { ext: LEAF_EXT, issuer: v1 });
    expect((await (await verifier([v1.certFile])).verify(data, handSigned(under, [])))).toMatchObject({ status: 'valid' });
    const v1Inter = makeCert(dir, 'v1-inter', { ext: '', issuer: root });
    const underInter = makeCert(dir, 'under-v1-inter', { ext: LEAF_EXT, issuer: v1Inter });
    const r = await (await verifier([rootFile])).verify(data, handSigned(underInter, [v1Inter]));
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/"O=dsv tests, CN=v1-inter" issued .* but is not a CA/);
  });

  it('bounds the work done on a hostile pile of look-alike certificates', async () => {
    // Ten self-signed CA certificates with the same name and key: each one "issues" every other.
    const caKey = makeKey('p256');
    const caKeyFile = file('loop.key', caKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const copies: TestIdentity[] = [];
    for (let n = 0; n < 10; n++) {
      const certFile = join(dir, `loop-${n}.pem`);
      execFileSync('openssl', ['req', '-x509', '-key', caKeyFile, '-subj', '/CN=loop', '-set_serial', String(n + 1), '-days', '30', '-out', certFile,
        '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
      copies.push({ name: `loop-${n}`, key: caKey, keyFile: caKeyFile, certFile, keyPem: '', certPem: readFileSync(certFile, 'utf8') });
    }
    const victim = makeCert(dir, 'loop-leaf', { ext: LEAF_EXT, issuer: copies[0]! });
    const r = await (await verifier([rootFile])).verify(data, handSigned(victim, copies.slice(0, 9)));
    expect(r.status).toBe('unknown-key');
  });

  it('a signer whose key is pinned as a raw public key is trusted without a chain', async () => {
    const sig = await (await createPkiSigner({ key: leafBundle })).sign(data);
    const r = await (await verifier([file('leaf-pub.pem', pub(leaf))])).verify(data, sig);
    expect(r).toMatchObject({ status: 'valid', details: { trustedBy: 'public key' } });
  });
});

describe('raw keys and algorithms', () => {
  for (const spec of ['p256', 'p384', 'ed25519', 'rsa2048'] as const) {
    it(`${spec}: v2 signature without certificate verifies against the public key`, async () => {
      const key = makeKey(spec);
      const keyFile = file(`${spec}.key`, key.export({ type: 'pkcs8', format: 'pem' }) as string);
      const signer = await createPkiSigner({ key: keyFile });
      const sig = await signer.sign(data);
      const parsed = parsePkiSignature(sig);
      expect(parsed.certificates).toHaveLength(0);
      const v = await verifier([file(`${spec}.pub`, pub({ key }))]);
      const r = await v.verify(data, sig);
      expect(r).toMatchObject({ status: 'valid', keyId: (await signer.describeKey()).keyId });
      expect((await v.verify(other, sig)).status).toBe('invalid');
      expect((await (await verifier([])).verify(data, sig)).status).toBe('unknown-key');
    });
  }

  it('RSA without a certificate: legacy armour (PKCS#1 v1.5) by default, v2 and PSS on request', async () => {
    const key = makeKey('rsa2048');
    const keyFile = file('rsa.key', key.export({ type: 'pkcs1', format: 'pem' }) as string);
    const pubFile = file('rsa.pub', pub({ key }));
    const v = await verifier([pubFile]);
    const s1 = await (await createPkiSigner({ key: keyFile, format: 'v2' })).sign(data);
    expect(parsePkiSignature(s1)).toMatchObject({ format: 'v2', algorithm: 'rsa-pkcs1v15-sha256' });
    const s2 = await (await createPkiSigner({ key: keyFile, rsaPadding: 'pss' })).sign(data);
    expect(parsePkiSignature(s2)).toMatchObject({ format: 'v2', algorithm: 'rsa-pss-sha256' });
    const s3 = await (await createPkiSigner({ key: keyFile, format: 'legacy' })).sign(data);
    expect(s3).toMatch(/^-----BEGIN PKI SIGNATURE-----\n\n[A-Za-z0-9+/=]+\n-----END PKI SIGNATURE-----$/);
    const byDefault = await (await createPkiSigner({ key: keyFile })).sign(data);
    expect(byDefault).toBe(s3); // RSASSA-PKCS1-v1_5 is deterministic
    expect(parsePkiSignature(s1).signature.equals(parsePkiSignature(s3).signature)).toBe(true);
    for (const s of [s1, s2, s3]) expect((await v.verify(data, s)).status).toBe('valid');
    // Legacy: the right key over other data is a bad signature; no matching key is an unknown key.
    expect(await v.verify(other, s3)).toMatchObject({ status: 'invalid', reason: 'signature does not match the data' });
    expect((await (await verifier([file('rsa-other.pub', pub({ key: makeKey('rsa2048') }))])).verify(data, s3)).status).toBe('unknown-key');
    // Legacy against a trusted certificate holding the key.
    const self = makeCert(dir, 'rsa-self', { key: 'rsa2048', ext: 'basicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature' });
    const s4 = formatLegacySignature(signWith('rsa-pkcs1v15-sha256', self.key, data));
    expect(await (await verifier([self.certFile])).verify(data, s4)).toMatchObject({ status: 'valid', signer: 'O=dsv tests, CN=rsa-self' });
    // Legacy refused when it cannot be honoured.
    await expect(createPkiSigner({ key: keyFile, format: 'legacy', rsaPadding: 'pss' })).rejects.toMatchObject({ code: 'Usage' });
    await expect(createPkiSigner({ key: leafBundle, format: 'legacy' })).rejects.toMatchObject({
      code: 'Usage', message: expect.stringMatching(/legacy PKI signature format .* carries no certificates, but key .* comes with a certificate chain: use format v2/),
    });
    await expect(createPkiSigner({ key: leafBundle, rsaPadding: 'pss' })).rejects.toMatchObject({ code: 'Usage' });
    await expect(createPkiSigner({ key: keyFile, format: 'v3' as never })).rejects.toMatchObject({ code: 'Usage', message: expect.stringContaining('"v3"') });
  });

  it('the default format: v2 with a certificate chain or a non-RSA key, legacy for a bare RSA key', async () => {
    expect(parsePkiSignature(await (await createPkiSigner({ key: leafBundle })).sign(data)).format).toBe('v2');
    const ec = file('ec-bare.key', makeKey('p256').export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(parsePkiSignature(await (await createPkiSigner({ key: ec })).sign(data)).format).toBe('v2');
    await expect(createPkiSigner({ key: ec, format: 'legacy' })).rejects.toMatchObject({ code: 'Usage' });
    const rsaSelf = makeCert(dir, 'rsa-with-cert', { key: 'rsa2048', ext: 'basicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature' });
    const rsaBundle = file('rsa-with-cert.pem', rsaSelf.keyPem + rsaSelf.certPem);
    expect(parsePkiSignature(await (await createPkiSigner({ key: rsaBundle })).sign(data))).toMatchObject({ format: 'v2', certificates: [expect.any(Buffer)] });
    await expect(createPkiSigner({ key: rsaBundle, format: 'legacy' })).rejects.toMatchObject({ code: 'Usage' });
    const bare = file('rsa-bare.key', makeKey('rsa2048').export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(parsePkiSignature(await (await createPkiSigner({ key: bare })).sign(data)).format).toBe('legacy');
  });

  it("docker-sign-verify's keypair file (public key + encrypted RSA PRIVATE KEY) signs legacy and serves as trust", async () => {
    const key = makeKey('rsa2048');
    const keypair = file('dsv.pem', pub({ key }) + '\n' + (key.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string));
    const sig = await (await createPkiSigner({ key: keypair, passphrase: 'pw', format: 'legacy' })).sign(data);
    expect(sig.split(/\s+/)[3]).toMatch(/^[A-Za-z0-9+/]{300,}={0,2}$/); // the original reads signature.split()[3]
    const v = await createPkiVerifier({ datastore: keypair });
    expect((await v.verify(data, sig)).status).toBe('valid');
    expect((await v.verify(other, sig)).status).toBe('invalid');
  });

  it('refuses weak or unsupported keys', async () => {
    const weak = file('weak.key', makeKey('rsa1024').export({ type: 'pkcs8', format: 'pem' }) as string);
    await expect(createPkiSigner({ key: weak })).rejects.toMatchObject({ code: 'KeyInvalid' });
    await expect(createPkiSigner({ key: join(dir, 'missing.key') })).rejects.toMatchObject({ code: 'KeyInvalid' });
    await expect(createPkiSigner({ key: rootFile })).rejects.toMatchObject({ code: 'KeyInvalid', message: expect.stringMatching(/no PEM private key/) });
  });
});

describe('encrypted keys', () => {
  const key = makeKey('rsa2048');
  const cases = {
    pkcs8: key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string,
    legacy: key.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string,
  };
  for (const [kind, pem] of Object.entries(cases)) {
    it(`${kind}: right passphrase signs, wrong or missing is PassphraseInvalid`, async () => {
      const f = file(`enc-${kind}.key`, pem);
      if (kind === 'legacy') expect(pem).toContain('Proc-Type: 4,ENCRYPTED');
      const sig = await (await createPkiSigner({ key: f, passphrase: 'correct horse' })).sign(data);
      expect((await (await verifier([file(`enc-${kind}.pub`, pub({ key }))])).verify(data, sig)).status).toBe('valid');
      for (const passphrase of ['wrong horse', undefined]) {
        const e = await createPkiSigner({ key: f, ...(passphrase ? { passphrase } : {}) }).catch((x) => x);
        expect(e).toBeInstanceOf(DsvError);
        expect(e.code).toBe('PassphraseInvalid');
        expect(e.message).not.toContain('horse');
      }
    });
  }
});

describe('hostile signatures never throw', () => {
  it('rejects corrupt armour, truncated base64, bad headers, mismatched key ids and junk certificates', async () => {
    const key = makeKey('p256');
    const keyFile = file('h.key', key.export({ type: 'pkcs8', format: 'pem' }) as string);
    const good = await (await createPkiSigner({ key: keyFile })).sign(data);
    const v = await verifier([file('h.pub', pub({ key }))]);
    expect((await v.verify(data, good)).status).toBe('valid');
    const lines = good.split('\n');
    const sigLine = lines.length - 2;
    const cases: Record<string, string> = {
      'no end line': lines.slice(0, -1).join('\n'),
      'truncated base64': [...lines.slice(0, sigLine), lines[sigLine]!.slice(0, -3), lines.at(-1)].join('\n'),
      'bad base64': good.replace(lines[sigLine]!, lines[sigLine]!.replace(/.$/, '!')),
      'version 3': good.replace('Version: 2', 'Version: 3'),
      'duplicate version': good.replace('Version: 2', 'Version: 2\nVersion: 2'),
      'unknown algorithm': good.replace('ecdsa-p256-sha256', 'ecdsa-p256-md5'),
      'wrong algorithm': good.replace('ecdsa-p256-sha256', 'ed25519'),
      'junk certificate': good.replace('Version: 2', 'Version: 2\nCertificate: AAAA'),
      'foreign certificate': good.replace('Version: 2', `Version: 2\nCertificate: ${Buffer.from(new X509Certificate(leaf.certPem).raw).toString('base64')}`),
      'no blank line': good.replace('\n\n', '\n'),
      'empty': '-----BEGIN DSV PKI SIGNATURE-----\n-----END DSV PKI SIGNATURE-----',
      'legacy empty': '-----BEGIN PKI SIGNATURE-----\n\n-----END PKI SIGNATURE-----',
      'legacy junk': '-----BEGIN PKI SIGNATURE-----\n\nnot base64 at all\n-----END PKI SIGNATURE-----',
      'trailing text': good + '\nextra',
      'huge': '-----BEGIN PKI SIGNATURE-----\n\n' + 'A'.repeat(300_000) + '\n-----END PKI SIGNATURE-----',
    };
    for (const [what, text] of Object.entries(cases)) {
      const r = await v.verify(data, text);
      expect(r.status, what).toBe('invalid');
      expect(r.reason, what).toBeTruthy();
    }
  });
});

describe('trust files', () => {
  it('skips OpenPGP key files, accepts DER, refuses junk and missing files', async () => {
    const pgp = file('k.asc', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n');
    const binPgp = join(dir, 'k.gpg');
    writeFileSync(binPgp, Buffer.from([0x99, 0x01, 0x0d, 0x04]));
    const der = join(dir, 'root.der');
    writeFileSync(der, new X509Certificate(root.certPem).raw);
    const sig = await (await createPkiSigner({ key: leafBundle })).sign(data);
    expect((await (await verifier([pgp, binPgp, der])).verify(data, sig)).status).toBe('valid');
    await expect(verifier([file('junk.pem', 'hello')])).rejects.toMatchObject({ code: 'KeyInvalid' });
    await expect(verifier([join(dir, 'nope.pem')])).rejects.toMatchObject({ code: 'KeyInvalid' });
    await expect(verifier([file('badcert.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')])).rejects.toMatchObject({ code: 'KeyInvalid' });
  });

  it('reads DSV_PKI_DATASTORE by default (a missing one is fine)', async () => {
    const sig = await (await createPkiSigner({ key: leafBundle })).sign(data);
    expect((await (await createPkiVerifier({ env: { DSV_PKI_DATASTORE: rootFile } })).verify(data, sig)).status).toBe('valid');
    expect((await (await createPkiVerifier({ env: { DSV_PKI_DATASTORE: join(dir, 'absent.pem') } })).verify(data, sig)).status).toBe('unknown-key');
  });
});

describe('pkiPlugin', () => {
  it('routes through a SignerRegistry with settings', async () => {
    const reg = new SignerRegistry().register(pkiPlugin);
    expect(pkiPlugin.recognizes('\n-----BEGIN PKI SIGNATURE-----')).toBe(true);
    expect(pkiPlugin.recognizes('-----BEGIN PGP SIGNATURE-----')).toBe(false);
    const key = makeKey('rsa2048');
    const keyFile = file('plug.key', key.export({ type: 'pkcs8', format: 'pem' }) as string);
    const legacy = await (await reg.get('pki').createSigner({ key: keyFile, settings: { legacyFormat: true } })).sign(data);
    const chained = await (await reg.get('pki').createSigner({ key: leafBundle })).sign(data);
    const verify = reg.verifier({ trust: [file('plug.pub', pub({ key })), rootFile], settingsByType: { pki: { datastore: false } } });
    expect((await verify(data, legacy)).status).toBe('valid');
    expect((await verify(data, chained)).status).toBe('valid');
    const late = reg.verifier({ trust: [rootFile], settings: { datastore: false, now: new Date(Date.now() + 90 * 86400_000).toISOString() } });
    expect((await late(data, chained)).status).toBe('invalid');
    await expect(reg.get('pki').createSigner({ key: keyFile, settings: { rsaPadding: 7 } })).rejects.toMatchObject({ code: 'Usage' });
    // format (as --pki-format / DSV_PKI_FORMAT give it) and legacyFormat pick the armour; unset: legacy for this bare RSA key.
    const formatOf = async (settings: Record<string, unknown>) =>
      parsePkiSignature(await (await reg.get('pki').createSigner({ key: keyFile, settings })).sign(data)).format;
    expect(await formatOf({})).toBe('legacy');
    expect(await formatOf({ format: 'V2' })).toBe('v2');
    expect(await formatOf({ format: 'legacy' })).toBe('legacy');
    expect(await formatOf({ legacyFormat: false })).toBe('v2');
    await expect(reg.get('pki').createSigner({ key: leafBundle, settings: { format: 'legacy' } })).rejects.toMatchObject({ code: 'Usage' });
    await expect(reg.get('pki').createSigner({ key: keyFile, settings: { format: 'pgp' } })).rejects.toMatchObject({ code: 'Usage' });
  });
});
