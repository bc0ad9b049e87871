// Keyless cosign verification through `dsv verify`'s cosign flags (--certificate-identity[-regexp],
// --certificate-oidc-issuer[-regexp], --trusted-root, --ca-roots + --rekor-public-key, --sign-identity) against
// a real docker-registry. containers/image's Fulcio + Rekor fixture (made by cosign) has no image blobs, so it is
// pushed as its .sig manifest and judged through the runtime's stores with the requirement the flags build;
// the command line runs over a registry image signed here the keyless way: an openssl CA and leaf certificate
// (email and URI SANs, Fulcio's OIDC issuer extension) and a Rekor signed entry timestamp made with a local
// log key, each in cosign's annotations.
import { createHash, createPrivateKey, createPublicKey, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '@dsv/core';
import { evaluatePolicy } from '@dsv/policy';
import {
  addCosignSignatures, createCosignPayload, parseSerialisedAttachment,
  BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
} from '@dsv/signature-cosign';
import { createContext, detachedStores, keylessRequirement, policyFormats, type KeylessFlags } from '@dsv/runtime';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';
import { launcher } from '../helpers/cli.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '../../packages/signature-cosign/fixtures');
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
const EMAIL = 'release@example.com';
const WORKFLOW = 'https://github.com/example/app/.github/workflows/release.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
let reg: StartedRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let image: string;
let signedAt: Date;

const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env: { ...env, ...extra }, cwd: work });
}

function openssl(args: string[]): void {
  run(requireTool('openssl'), args, { cwd: work });
}

/** A Sigstore trusted_root.json (protobuf-specs TrustedRoot JSON) over these CA certificates and Rekor key. */
function trustedRoot(name: string, caPem: string, rekorPem: string, w: { caStart: Date; caEnd?: Date; tlogStart?: Date }): string {
  const rekorDer = createPublicKey(rekorPem).export({ format: 'der', type: 'spki' });
  const certs = caPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((p) => ({ rawBytes: b64(new X509Certificate(p).raw) }));
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: 'https://rekor.example.com', hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(rekorDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: (w.tlogStart ?? new Date('2021-01-01T00:00:00Z')).toISOString() } },
      logId: { keyId: b64(sha256(rekorDer)) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'dsv-test', commonName: 'fulcio-test' }, uri: 'https://fulcio.example.com',
      certChain: { certificates: certs },
      validFor: { start: w.caStart.toISOString(), ...(w.caEnd ? { end: w.caEnd.toISOString() } : {}) },
    }],
    ctlogs: [],
    timestampAuthorities: [],
  }, null, 2));
  return path;
}

async function manifestDigest(repo: string, ref: string): Promise<string> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  expect(res.status, `${repo}:${ref}`).toBe(200);
  return digestOf(Buffer.from(await res.arrayBuffer()));
}

function skopeoCopy(from: string, to: string): void {
  run(requireTool('skopeo'), ['--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', from, to]);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-cosign-keyless-e2e-');
  env = { PATH: process.env.PATH, HOME: work };

  // A CA standing in for Fulcio, a leaf certificate as Fulcio issues them, a Rekor log key.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
    '-subj', '/O=dsv-test/CN=fulcio-test', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/']);
  writeFileSync(join(work, 'leaf.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=codeSigning',
    `subjectAltName=critical,email:${EMAIL},URI:${WORKFLOW}`,
    `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${ISSUER}`,
    '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'leaf.ext', '-out', 'leaf.pem']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'rekor.key']);
  openssl(['pkey', '-in', 'rekor.key', '-pubout', '-out', 'rekor.pub']);

  // The image, and its keyless signature under the .sig tag (cosign's annotations).
  const layout = join(work, 'layout');
  writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/content': 'keyless\n' }] }), tag: 'v1' });
  skopeoCopy(`oci:${layout}:v1`, `docker://${reg.host}/app/keyless:v1`);
  image = `docker://${reg.host}/app/keyless:v1`;
  const digest = await manifestDigest('app/keyless', 'v1');
  const payload = createCosignPayload({ dockerReference: `${reg.host}/app/keyless:v1`, manifestDigest: digest });
  const signature = sign('sha256', payload, createPrivateKey(readFileSync(join(work, 'leaf.key'))));
  const certPem = readFileSync(join(work, 'leaf.pem'), 'utf8');
  const caPem = readFileSync(join(work, 'ca.pem'), 'utf8');
  const integratedTime = Math.floor(new Date(new X509Certificate(certPem).validFrom).getTime() / 1000) + 60;
  signedAt = new Date(integratedTime * 1000);
  const body = b64(JSON.stringify({
    apiVersion: '0.0.1', kind: 'hashedrekord',
    spec: { data: { hash: { algorithm: 'sha256', value: sha256(payload).toString('hex') } }, signature: { content: b64(signature), publicKey: { content: b64(certPem) } } },
  }));
  const logID = sha256(createPublicKey(readFileSync(join(work, 'rekor.pub'))).export({ format: 'der', type: 'spki' })).toString('hex');
  const entry = { body, integratedTime, logID, logIndex: 1234 };
  const set = sign('sha256', Buffer.from(JSON.stringify(entry)), createPrivateKey(readFileSync(join(work, 'rekor.key'))));
  const ctx = await createContext({ env, references: [image] });
  const stores = await detachedStores(ctx);
  try {
    await addCosignSignatures(await stores.tagStore(`${reg.host}/app/keyless`), digest, [{
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      payload,
      annotations: {
        [SIGNATURE_ANNOTATION]: b64(signature),
        [CERTIFICATE_ANNOTATION]: certPem,
        [CHAIN_ANNOTATION]: caPem,
        [BUNDLE_ANNOTATION]: JSON.stringify({ SignedEntryTimestamp: b64(set), Payload: entry }),
      },
    }]);
  } finally {
    await stores.close();
  }
  trustedRoot('trusted_root.json', caPem, readFileSync(join(work, 'rekor.pub'), 'utf8'), { caStart: new Date('2021-01-01T00:00:00Z') });
  trustedRoot('expired_root.json', caPem, readFileSync(join(work, 'rekor.pub'), 'utf8'), { caStart: new Date('2021-01-01T00:00:00Z'), caEnd: new Date(signedAt.getTime() - 86_400_000) });
  trustedRoot('late_rekor_root.json', caPem, readFileSync(join(work, 'rekor.pub'), 'utf8'), { caStart: new Date('2021-01-01T00:00:00Z'), tlogStart: new Date(signedAt.getTime() + 86_400_000) });
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

const ID = ['--certificate-identity', EMAIL, '--certificate-oidc-issuer', ISSUER];

describe('dsv verify with cosign\'s keyless flags (a registry image signed keyless here)', () => {
  it('--trusted-root: verifies and names the identity and issuer that matched (text and --json)', async () => {
    const r = await dsv(['verify', ...ID, '--trusted-root', 'trusted_root.json', image]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Judging by keyless identity ${EMAIL}, issuer ${ISSUER} (trusted root trusted_root.json)`);
    expect(r.stdout).toMatch(new RegExp(`sigstoreSigned: satisfied: cosign signature 1 accepted: signed by key \\S+ ${EMAIL.replace('.', '\\.')} \\(OIDC issuer ${ISSUER.replace(/\./g, '\\.')}\\)`));
    const j = await dsv(['verify', '--json', ...ID, '--trusted-root', 'trusted_root.json', image]);
    expect(j.code, j.all).toBe(0);
    const report = expectValidReport('policy-verify', j.stdout) as any;
    expect(report.results[0].policy.requirements[0].signatures[0]).toMatchObject({ accepted: true, certificateIdentity: EMAIL, certificateOidcIssuer: ISSUER });
  });

  it('--ca-roots with --rekor-public-key: verifies the same way', async () => {
    const r = await dsv(['verify', ...ID, '--ca-roots', 'ca.pem', '--rekor-public-key', 'rekor.pub', image]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`(OIDC issuer ${ISSUER})`);
  });

  it('the identity matches any SAN: the URI one as well as the email', async () => {
    const r = await dsv(['verify', '--json', '--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', ISSUER, '--trusted-root', 'trusted_root.json', image]);
    expect(r.code, r.all).toBe(0);
    expect((JSON.parse(r.stdout) as any).results[0].policy.requirements[0].signatures[0].certificateIdentity).toBe(WORKFLOW);
  });

  it.each([
    ['identity pattern', ['--certificate-identity-regexp', 'https://github\\.com/example/.*', '--certificate-oidc-issuer', ISSUER]],
    ['issuer pattern', ['--certificate-identity', EMAIL, '--certificate-oidc-issuer-regexp', 'https://token\\.actions\\..*']],
  ])('a matching %s verifies', async (_name, flags) => {
    const r = await dsv(['verify', ...flags, '--trusted-root', 'trusted_root.json', image]);
    expect(r.code, r.all).toBe(0);
  });

  it.each([
    ['another identity', ['--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', ISSUER], `the certificate is for ${EMAIL}, ${WORKFLOW}, not someone@example.com`],
    ['another issuer', ['--certificate-identity', EMAIL, '--certificate-oidc-issuer', 'https://accounts.google.com'], `the certificate's OIDC issuer is ${ISSUER}, not https://accounts.google.com`],
    ['an identity pattern that matches only part of a SAN (patterns match the whole value)', ['--certificate-identity-regexp', 'example\\.com', '--certificate-oidc-issuer', ISSUER], 'not /example\\.com/'],
    ['an issuer pattern that does not match', ['--certificate-identity', EMAIL, '--certificate-oidc-issuer-regexp', 'https://gitlab\\.com'], `the certificate's OIDC issuer is ${ISSUER}, not /https://gitlab\\.com/`],
  ])('%s: rejected (exit 1) with the reason', async (_name, flags, reason) => {
    const r = await dsv(['verify', ...flags, '--trusted-root', 'trusted_root.json', image]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain('sigstoreSigned: no signature was accepted');
    expect(r.stderr).toContain(reason);
  });

  it('a trusted root whose CA validFor ends before the signing time: rejected, saying so', async () => {
    const r = await dsv(['verify', ...ID, '--trusted-root', 'expired_root.json', image]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`the certificate authority https://fulcio.example.com is trusted from 2021-01-01T00:00:00.000Z until ${new Date(signedAt.getTime() - 86_400_000).toISOString()}, not at ${signedAt.toISOString()}`);
  });

  it('a trusted root whose Rekor key is valid only after the entry: rejected', async () => {
    const r = await dsv(['verify', ...ID, '--trusted-root', 'late_rekor_root.json', image]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain(`not at the entry's time ${signedAt.toISOString()}`);
  });

  it('another CA: not issued by a trusted CA', async () => {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '30',
      '-subj', '/CN=other-ca', '-addext', 'basicConstraints=critical,CA:TRUE']);
    const r = await dsv(['verify', ...ID, '--ca-roots', 'other-ca.pem', '--rekor-public-key', 'rekor.pub', image]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain('is not issued by a trusted CA');
  });

  it('--sign-identity: a copy in another repository verifies only when told what the signature claims', async () => {
    const digest = await manifestDigest('app/keyless', 'v1');
    for (const tag of ['v1', `${digest.replace(':', '-')}.sig`]) skopeoCopy(`docker://${reg.host}/app/keyless:${tag}`, `docker://${reg.host}/mirror/keyless:${tag}`);
    const mirror = `docker://${reg.host}/mirror/keyless:v1`;
    const plain = await dsv(['verify', ...ID, '--trusted-root', 'trusted_root.json', mirror]);
    expect(plain.code, plain.all).toBe(1);
    expect(plain.stderr).toContain(`${reg.host}/app/keyless:v1`);
    const told = await dsv(['verify', ...ID, '--trusted-root', 'trusted_root.json', '--sign-identity', `${reg.host}/app/keyless`, mirror]);
    expect(told.code, told.all).toBe(0);
  });

  it.each([
    ['identity without issuer', ['--certificate-identity', EMAIL, '--trusted-root', 'trusted_root.json'], /--certificate-oidc-issuer/],
    ['issuer without identity', ['--certificate-oidc-issuer', ISSUER, '--trusted-root', 'trusted_root.json'], /--certificate-identity/],
    ['no trust material', ID, /needs --trusted-root FILE, or --ca-roots FILE with --rekor-public-key FILE/],
    ['--ca-roots without --rekor-public-key', [...ID, '--ca-roots', 'ca.pem'], /--ca-roots needs --rekor-public-key/],
    ['--trusted-root with --ca-roots', [...ID, '--trusted-root', 'trusted_root.json', '--ca-roots', 'ca.pem'], /--trusted-root and --ca-roots cannot be combined/],
    ['an identity both ways', [...ID, '--certificate-identity-regexp', '.*', '--trusted-root', 'trusted_root.json'], /--certificate-identity and --certificate-identity-regexp cannot be combined/],
    ['a bad pattern', ['--certificate-identity-regexp', '(', '--certificate-oidc-issuer', ISSUER, '--trusted-root', 'trusted_root.json'], /--certificate-identity-regexp "\(" is not a valid regular expression/],
    ['a missing trusted root', [...ID, '--trusted-root', 'nope.json'], /--trusted-root nope\.json: no such file/],
    ['a trusted root that is not one', [...ID, '--trusted-root', 'ca.pem'], /--trusted-root ca\.pem: not JSON/],
    ['with --policy', [...ID, '--trusted-root', 'trusted_root.json', '--policy', 'policy.json'], /--policy and --certificate-identity cannot be combined/],
    ['with --trust cosign:', [...ID, '--trusted-root', 'trusted_root.json', '--trust', 'cosign:rekor.pub'], /--trust cosign: and --certificate-identity cannot be combined/],
    ['with --dct', [...ID, '--trusted-root', 'trusted_root.json', '--dct'], /--certificate-identity cannot be combined with --dct/],
    ['--all-tags with --policy', [...ID, '--trusted-root', 'trusted_root.json', '--all-tags', '--policy', 'policy.json'], /--certificate-identity cannot be combined with a policy \(--policy\)/],
    ['--sign-identity alone', ['--sign-identity', 'example.com/app'], /--sign-identity needs --trust cosign:FILE or the keyless flags/],
  ])('%s: a one-line usage error, exit 2', async (_name, flags, message) => {
    writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const r = await dsv(['verify', ...flags, image]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--all-tags: every tag of the repository judged by the same requirement', async () => {
    const repo = `docker://${reg.host}/app/keyless`;
    const ok = await dsv(['verify', '--all-tags', ...ID, '--trusted-root', 'trusted_root.json', repo]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toMatch(/v1/);
    const no = await dsv(['verify', '--all-tags', '--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', ISSUER, '--trusted-root', 'trusted_root.json', repo]);
    expect(no.code, no.all).toBe(1);
    expect(no.all).toContain('not someone@example.com');
  });

  it('docker verify (the Docker CLI plugin, run as docker runs it) takes the same flags', async () => {
    const plugin = (args: string[]) => runNodeScript(launcher('docker-verify', 'docker-plugin'), ['verify', ...args], { env, cwd: work });
    const ok = await plugin(['--remote', ...ID, '--trusted-root', 'trusted_root.json', image.replace('docker://', '')]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stdout).toContain(`${EMAIL} (OIDC issuer ${ISSUER})`);
    const wrong = await plugin(['--remote', '--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', ISSUER, '--trusted-root', 'trusted_root.json', image.replace('docker://', '')]);
    expect(wrong.code, wrong.all).toBe(1);
    const usage = await plugin(['--remote', '--certificate-identity', EMAIL, '--trusted-root', 'trusted_root.json', image.replace('docker://', '')]);
    expect(usage.code, usage.all).toBe(2);
    expect(usage.stderr).toContain('--certificate-oidc-issuer');
  });

  it('a usage error in --json is a valid report', async () => {
    const r = await dsv(['verify', '--json', '--certificate-identity', EMAIL, '--trusted-root', 'trusted_root.json', image]);
    expect(r.code).toBe(2);
    expect(expectValidReport('policy-verify', r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
  });
});

describe('containers/image\'s Fulcio + Rekor fixture (signed by cosign), in a real registry, judged by the requirement the keyless flags build', () => {
  const name = 'dir-img-cosign-fulcio-rekor-valid';
  const claimed = '192.168.64.2:5000/cosign-signed/fulcio-rekor-1';
  const bytes = new Uint8Array(readFileSync(join(FIX, name, 'manifest.json')));
  const fixtureDigest = digestOf(bytes);
  const FIXTURE_ID: KeylessFlags = { certificateIdentity: 'mitr@redhat.com', certificateOidcIssuer: 'https://github.com/login/oauth' };
  let repo: string;

  beforeAll(async () => {
    const ctx = await createContext({ env, references: [`docker://${reg.host}/x`] });
    const stores = await detachedStores(ctx);
    try {
      repo = `${reg.host}/fixtures/keyless`;
      await addCosignSignatures(await stores.tagStore(repo), fixtureDigest, [parseSerialisedAttachment(readFileSync(join(FIX, name, 'signature-1')))]);
    } finally {
      await stores.close();
    }
    const fulcio = readFileSync(join(FIX, 'fulcio_v1.crt.pem'), 'utf8');
    const rekor = readFileSync(join(FIX, 'rekor.pub'), 'utf8');
    trustedRoot('fixture_root.json', fulcio, rekor, { caStart: new Date('2022-04-13T20:06:15Z') });
    trustedRoot('fixture_expired_root.json', fulcio, rekor, { caStart: new Date('2021-03-07T03:20:29Z'), caEnd: new Date('2022-04-13T20:06:15Z') });
  });

  async function judge(flags: KeylessFlags) {
    const ctx = await createContext({ env, references: [`docker://${repo}`] });
    const stores = await detachedStores(ctx);
    try {
      const requirement = await keylessRequirement(
        Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, /Root|Roots|PublicKey/.test(k) ? join(work, v) : v])) as KeylessFlags,
        { type: 'matchRepository' },
      );
      return await evaluatePolicy({ default: [requirement], transports: new Map() }, {
        transport: 'docker', dockerReference: claimed, manifestDigest: fixtureDigest, manifestBytes: bytes,
        context: { subject: { dockerReference: `${repo}:v1`, manifestDigest: fixtureDigest } },
      }, { formats: policyFormats(ctx, stores), baseDir: work });
    } finally {
      await stores.close();
    }
  }

  it('--trusted-root built from the fixture\'s Fulcio root and Rekor key: accepted, naming mitr@redhat.com and GitHub\'s issuer', async () => {
    const v = await judge({ ...FIXTURE_ID, trustedRoot: 'fixture_root.json' });
    expect(v.allowed, JSON.stringify(v.requirements)).toBe(true);
    expect(v.requirements[0]!.signatures[0]).toMatchObject({ accepted: true, certificateIdentity: 'mitr@redhat.com', certificateOidcIssuer: 'https://github.com/login/oauth' });
  });

  it('--ca-roots fulcio_v1.crt.pem with --rekor-public-key rekor.pub: accepted', async () => {
    writeFileSync(join(work, 'fulcio_v1.crt.pem'), readFileSync(join(FIX, 'fulcio_v1.crt.pem')));
    writeFileSync(join(work, 'fixture-rekor.pub'), readFileSync(join(FIX, 'rekor.pub')));
    expect((await judge({ ...FIXTURE_ID, caRoots: 'fulcio_v1.crt.pem', rekorPublicKey: 'fixture-rekor.pub' })).allowed).toBe(true);
  });

  it.each<[string, KeylessFlags, string]>([
    ['another identity', { ...FIXTURE_ID, certificateIdentity: 'someone@example.com', trustedRoot: 'fixture_root.json' }, 'not someone@example.com'],
    ['another issuer', { ...FIXTURE_ID, certificateOidcIssuer: 'https://accounts.google.com', trustedRoot: 'fixture_root.json' }, 'not https://accounts.google.com'],
    ['an identity pattern that does not match', { certificateIdentityRegexp: '.*@example\\.com', certificateOidcIssuer: FIXTURE_ID.certificateOidcIssuer!, trustedRoot: 'fixture_root.json' }, 'not /.*@example\\.com/'],
    ['a CA validFor that ended before the signature (2023-01-20)', { ...FIXTURE_ID, trustedRoot: 'fixture_expired_root.json' }, 'not at 2023-01-20T20:51:33.000Z'],
  ])('%s: rejected with the reason', async (_name, flags, reason) => {
    const v = await judge(flags);
    expect(v.allowed).toBe(false);
    expect(v.requirements[0]!.reason).toContain(reason);
  });

  it('an identity pattern that matches: accepted', async () => {
    expect((await judge({ certificateIdentityRegexp: '.*@redhat\\.com', certificateOidcIssuerRegexp: 'https://github\\.com/.*', trustedRoot: 'fixture_root.json' })).allowed).toBe(true);
  });
});
