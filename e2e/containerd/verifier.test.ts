// dsv-containerd-verifier called exactly as containerd 2's bindir image verifier plugin calls it (bindir.ts:
// containerd 2 is not installable here), judging images in a real docker-registry by a dsv policy file:
// simple signatures written by skopeo --sign-by (lookaside named by registries.d), embedded signatures
// written by dsv sign, cosign signatures (a .sig tag written with the cosign library and a generated key); unsigned and wrongly signed images, a missing policy, a moved tag, an unreachable
// registry and the protocol's own errors all block the pull with one line of reason on stdout.
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { digestOf } from '@dsv/core';
import { dockerTransport } from '@dsv/source-registry';
import { generateKeyPair, readPrivateKey, signImage, tagStoreFor, writeKeyPair } from '@dsv/signature-cosign';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir } from '../helpers/proc.js';
import { insecurePolicy, lookasideRegistriesD, skopeoOk } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { OUTPUT_LIMIT, runVerifier, verifyImage, type BindirConfig, type Descriptor } from './bindir.js';
import { launcher } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const VERIFIER = launcher('dsv-containerd-verifier');
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

let reg: StartedRegistry;
let work: string;
let binDir: string;
let signer: GpgHome;
let other: GpgHome;
let policy: string;
/** containerd's environment, as the verifiers inherit it. */
let env: NodeJS.ProcessEnv;
let hang: Server;
const sockets: Socket[] = [];

const config = (extra: NodeJS.ProcessEnv = {}): BindirConfig => ({ binDir, maxVerifiers: 10, perVerifierTimeoutMs: 10_000, env: { ...env, ...extra } });

async function descriptorOf(repo: string, ref: string): Promise<Descriptor> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { mediaType: res.headers.get('content-type')!, digest: res.headers.get('docker-content-digest')!, size: bytes.length };
}

function skopeo(args: string[], gnupgHome: string): void {
  skopeoOk(['--policy', join(work, 'insecure.json'), '--registries.d', join(work, 'home/.config/containers/registries.d'), ...args], { GNUPGHOME: gnupgHome });
}

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsvc-verifier-');
  signer = makeGpgHome({ withKey: { name: 'Release Signer', email: 'release@dsv.invalid' } });
  other = makeGpgHome({ withKey: { name: 'Someone Else', email: 'else@dsv.invalid' } });
  writeFileSync(join(work, 'signer.pub'), signer.exportPublic());
  insecurePolicy(join(work, 'insecure.json'));
  // The lookaside store, named by registries.d in containerd's $HOME (where dsv and skopeo look for it).
  lookasideRegistriesD(join(work, 'home/.config/containers/registries.d'), join(work, 'sigstore'));
  policy = join(work, 'policy.json');
  writeFileSync(
    policy,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          [`${reg.host}/app`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'signer.pub') }],
          [`${reg.host}/app/embedded`]: [{ type: 'dsvSigned', keyPath: join(work, 'signer.pub') }],
          [`${reg.host}/app/cosigned`]: [{ type: 'sigstoreSigned', keyPath: join(work, 'keys', 'cosign.pub'), signedIdentity: { type: 'matchRepository' } }],
        },
      },
    }),
  );
  // Installed as an administrator would: a link in containerd's image-verifier bin_dir.
  binDir = join(work, 'image-verifier', 'bin');
  mkdirSync(binDir, { recursive: true });
  symlinkSync(VERIFIER, join(binDir, 'dsv'));
  env = { PATH: process.env.PATH, HOME: join(work, 'home'), DSV_POLICY: policy };

  const layout = (tag: string) => join(work, `layout-${tag}`);
  for (const tag of ['signed', 'unsigned', 'other', 'cosigned']) {
    writeOciLayout(layout(tag), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/release': `${tag}\n` }, { 'bin/app': `${tag} app\n` }] }), tag });
  }
  skopeo(['copy', '--dest-tls-verify=false', '--sign-by', signer.fingerprint, `oci:${layout('signed')}:signed`, `docker://${reg.host}/app/signed:v1`], signer.home);
  skopeo(['copy', '--dest-tls-verify=false', '--sign-by', other.fingerprint, `oci:${layout('other')}:other`, `docker://${reg.host}/app/other:v1`], other.home);
  skopeo(['copy', '--dest-tls-verify=false', `oci:${layout('unsigned')}:unsigned`, `docker://${reg.host}/app/unsigned:v1`], other.home);
  skopeo(['copy', '--dest-tls-verify=false', `oci:${layout('cosigned')}:cosigned`, `docker://${reg.host}/app/cosigned:v1`], other.home);
  const { keyPath } = writeKeyPair(join(work, 'keys'), generateKeyPair({ passphrase: 'verifier e2e' }));
  const cosigned = await (await fetch(`http://${reg.host}/v2/app/cosigned/manifests/v1`, { headers: { Accept: ACCEPT } })).arrayBuffer();
  const tags = tagStoreFor(dockerTransport.parseReference(`${reg.host}/app/cosigned:v1`), { insecureRegistries: [reg.host] });
  await signImage(tags, {
    dockerReference: `${reg.host}/app/cosigned:v1`,
    manifestDigest: digestOf(new Uint8Array(cosigned)),
    privateKey: readPrivateKey(readFileSync(keyPath), { passphrase: 'verifier e2e' }),
  });
  const s = await runNodeScript(join(root, 'apps/cli/bin/dsv.js'), ['sign', '--key', signer.fingerprint, `docker://${reg.host}/app/unsigned:v1`, `docker://${reg.host}/app/embedded:v1`], {
    env: { PATH: process.env.PATH, HOME: work, GNUPGHOME: signer.home },
  });
  expect(s.code, s.all).toBe(0);
  // A registry that accepts connections and never answers (no real server hangs on purpose).
  hang = createServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
}, 300_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (hang) await new Promise<void>((r) => hang.close(() => r()));
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv-containerd-verifier, called as containerd 2 calls its image verifiers', () => {
  it('allows a pull of an image skopeo signed with the trusted key (simple signing, lookaside)', async () => {
    const desc = await descriptorOf('app/signed', 'v1');
    const j = await verifyImage(config(), `${reg.host}/app/signed:v1`, desc);
    expect(j.ok, j.reason).toBe(true);
    expect(j.reason).toMatch(/^dsv => dsv allowed .*app\/signed:v1@sha256:[0-9a-f]{64}: accepted by /);
    expect(j.reason).toContain('signedBy satisfied');
    // By digest, as containerd pulls NAME@DIGEST.
    const byDigest = await verifyImage(config(), `${reg.host}/app/signed@${desc.digest}`, desc);
    expect(byDigest.ok, byDigest.reason).toBe(true);
  });

  it('allows an image with an embedded dsv signature under dsvSigned', async () => {
    const desc = await descriptorOf('app/embedded', 'v1');
    const j = await verifyImage(config(), `${reg.host}/app/embedded:v1`, desc);
    expect(j.ok, j.reason).toBe(true);
    expect(j.reason).toContain('dsvSigned satisfied');
  });

  it('allows an image with a cosign signature (.sig tag) under sigstoreSigned', async () => {
    const desc = await descriptorOf('app/cosigned', 'v1');
    const j = await verifyImage(config(), `${reg.host}/app/cosigned:v1`, desc);
    expect(j.ok, j.reason).toBe(true);
    expect(j.reason).toContain('sigstoreSigned satisfied');
  });

  it('blocks unsigned and wrongly signed images, saying which requirement failed', async () => {
    for (const repo of ['app/unsigned', 'app/other']) {
      const desc = await descriptorOf(repo, 'v1');
      const r = await runVerifier(join(binDir, 'dsv'), `${reg.host}/${repo}:v1`, desc, config());
      expect(r.exitCode, r.reason).toBe(1);
      expect(r.reason).toMatch(new RegExp(`^dsv blocked ${reg.host}/${repo}:v1@${desc.digest}: rejected by .*signedBy not satisfied`));
      const j = await verifyImage(config(), `${reg.host}/${repo}:v1`, desc);
      expect(j).toMatchObject({ ok: false, reason: expect.stringContaining('verifier dsv rejected image (exit code 1): dsv blocked') });
    }
    // Outside every scope: the policy's default (reject).
    const desc = await descriptorOf('app/signed', 'v1');
    const r = await runVerifier(join(binDir, 'dsv'), `${reg.host}/elsewhere/signed:v1`, desc, config());
    expect(r.exitCode, r.reason).not.toBe(0);
  });

  it('blocks when the tag no longer names the digest containerd resolved', async () => {
    const unsigned = await descriptorOf('app/unsigned', 'v1');
    const r = await runVerifier(join(binDir, 'dsv'), `${reg.host}/app/signed:v1`, unsigned, config());
    expect(r.exitCode, r.reason).toBe(1);
    expect(r.reason).toContain(unsigned.digest);
    expect(r.reason).toContain('pull again');
  });

  it('blocks every pull without a policy, naming where it looked', async () => {
    const desc = await descriptorOf('app/signed', 'v1');
    const missing = join(work, 'no-such-policy.json');
    const r = await runVerifier(join(binDir, 'dsv'), `${reg.host}/app/signed:v1`, desc, config({ DSV_POLICY: missing }));
    expect(r.exitCode, r.reason).toBe(2);
    expect(r.reason).toContain(`no dsv policy at ${missing}`);
    if (!existsSync('/etc/dsv/policy.json')) {
      const { DSV_POLICY: _unset, ...noPolicy } = env;
      const d = await runVerifier(join(binDir, 'dsv'), `${reg.host}/app/signed:v1`, desc, { ...config(), env: noPolicy });
      expect(d.exitCode, d.reason).toBe(2);
      expect(d.reason).toContain('no dsv policy at /etc/dsv/policy.json');
    }
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{"default": [{"type": "signedByNobody"}]}');
    const b = await runVerifier(join(binDir, 'dsv'), `${reg.host}/app/signed:v1`, desc, config({ DSV_POLICY: broken }));
    expect(b.exitCode, b.reason).toBe(2);
    expect(b.reason).toContain('signedByNobody');
  });

  it('blocks with exit 3 when the registry is unreachable, and answers before containerd’s timeout when it hangs', async () => {
    const desc = await descriptorOf('app/signed', 'v1');
    const down = await runVerifier(join(binDir, 'dsv'), `127.0.0.1:1/app/signed:v1`, desc, config());
    expect(down.exitCode, down.reason).toBe(3);
    expect(down.reason).toContain('127.0.0.1:1');
    const port = (hang.address() as { port: number }).port;
    const slow = await runVerifier(join(binDir, 'dsv'), `127.0.0.1:${port}/app/signed:v1`, desc, config({ DSV_VERIFIER_TIMEOUT: '1.5' }));
    expect(slow.exitCode, slow.reason).toBe(3);
    expect(slow.reason).toContain('no verdict within 1.5s');
    expect(slow.ms).toBeLessThan(10_000);
  });

  it('refuses calls it does not understand, and takes Go flag syntax', async () => {
    const desc = await descriptorOf('app/signed', 'v1');
    const name = `${reg.host}/app/signed:v1`;
    const bin = join(binDir, 'dsv');
    const go = await runVerifier(bin, name, desc, config(), [`-name=${name}`, '--digest', desc.digest, '--stdin-media-type=application/vnd.oci.descriptor.v1+json']);
    expect(go.exitCode, go.reason).toBe(0);
    const cases: [string[], Descriptor, string][] = [
      [['-name', name, '-digest', desc.digest, '-stdin-media-type', 'application/json'], desc, 'is not application/vnd.oci.descriptor.v1+json'],
      [['-name', name, '-digest', `sha256:${'0'.repeat(64)}`, '-stdin-media-type', 'application/vnd.oci.descriptor.v1+json'], desc, 'differ'],
      [['-name', name, '-digest', desc.digest, '-platform', 'linux/amd64'], desc, 'unknown flag -platform'],
      [['-digest', desc.digest], desc, 'missing -name'],
      [['-name', name], { ...desc, digest: 'sha256:nothex' }, 'no valid digest'],
    ];
    for (const [args, d, why] of cases) {
      const r = await runVerifier(bin, name, d, config(), args);
      expect(r.exitCode, r.reason).toBe(2);
      expect(r.reason).toContain(why);
    }
  });

  it('keeps the reason to one line well inside the 32 KiB containerd reads, and runs with the others in bin_dir', async () => {
    const desc = await descriptorOf('app/unsigned', 'v1');
    const long = `${reg.host}/app/unsigned:v1`;
    const r = await runVerifier(join(binDir, 'dsv'), long, { ...desc, annotations: { note: 'x'.repeat(100_000) } }, config());
    expect(r.stdout.length).toBeLessThan(OUTPUT_LIMIT);
    expect(r.stdout.toString().trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.length).toBeLessThanOrEqual(OUTPUT_LIMIT);
    // Another verifier beside dsv: verdicts are ANDed, reasons joined in name order.
    const other = join(binDir, 'zz-other');
    writeFileSync(other, '#!/bin/sh\ncat >/dev/null\necho "other: fine"\n', { mode: 0o755 });
    const signed = await descriptorOf('app/signed', 'v1');
    const both = await verifyImage(config(), `${reg.host}/app/signed:v1`, signed);
    expect(both.ok, both.reason).toBe(true);
    expect(both.reason).toMatch(/^dsv => dsv allowed .*, zz-other => other: fine$/);
    const blocked = await verifyImage(config(), long, desc);
    expect(blocked.ok).toBe(false);
  });
});
