// dsv trust migrate --to simple|cosign against the real components: images pushed by skopeo to a real
// docker-registry, signed in Docker Content Trust by the `notary` client through a real notary-server (the
// docker CLI path is covered by docker-trust.test.ts; here no daemon is needed), then migrated by the built
// dsv and the migrated signatures checked by skopeo 1.9: signedBy (simple signing, lookaside store from a
// registries.d); cosign .sig signatures by dsv's own sigstoreSigned policy verdict and --trust cosign:FILE
// (Debian's skopeo 1.9 is built with sigstore disabled: "Debian-local change: sigstore disabled", and no
// cosign binary is packaged here). A tag re-pushed without signing is never signed in the new format.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, run, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { writeIn } from '../helpers/cli.js';
import { lookasideRegistriesD, skopeo } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';
import { notaryClient, servedManifest, signServedTag, startNotaryServer, trustNotaryCa, type NotaryServer } from '../helpers/notary.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');
const PASS = 'migrate-pass';
let reg: StartedRegistry;
let server: NotaryServer;
let publisher: ReturnType<typeof notaryClient>;
let work: string;
let gun: string;
let env: NodeJS.ProcessEnv;
let regd: string;
let store: string;
let ours: GpgHome;

function dsv(args: string[]): Promise<Ran> {
  return runNodeScript(join(root, 'apps/cli/bin/dsv.js'), args, { env, cwd: work });
}
const file = (name: string, body: unknown): string => writeIn(work, name, body);
const served = (tag: string) => servedManifest(gun, tag);
function push(from: string, to: string): void {
  run(requireTool('skopeo'), ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${join(work, 'layout')}:${from}`, `docker://${gun}:${to}`]);
}
const sign = (tag: string): Promise<void> => signServedTag(publisher, gun, tag);
/** skopeo copy of `gun:tag` under a policy with `requirement` for the repository. */
function skopeoPull(tag: string, requirement: unknown): { code: number; out: string } {
  const policy = file(`policy-${tag}-${Math.random().toString(36).slice(2)}.json`, { default: [{ type: 'reject' }], transports: { docker: { [gun]: [requirement] } } });
  return skopeo(['--policy', policy, '--registries.d', regd, 'copy', '--src-tls-verify=false', `docker://${gun}:${tag}`, `dir:${tempDir('dsv-migrate-pull-')}`]);
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  [reg, server] = await Promise.all([startRegistry({ mode: 'http' }), startNotaryServer()]);
  publisher = notaryClient(server);
  work = tempDir('dsv-dct-migrate-');
  gun = `${reg.host}/app/migrate`;
  const one = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'migrate one\n' }] });
  const two = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'migrate two\n' }] });
  writeOciLayout(join(work, 'layout'), [{ image: one, tag: 'one' }, { image: two, tag: 'two' }]);
  push('one', 'v1');
  push('one', 'moved');
  publisher.run(['init', gun]);
  await sign('v1');
  await sign('moved');
  push('two', 'moved'); // re-pushed without signing

  // dsv reads DCT as the docker CLI: DOCKER_CONFIG's trust dir and tls/<host:port>/ca.crt.
  const dockerConfig = join(work, 'docker');
  trustNotaryCa(dockerConfig, server);
  store = join(work, 'sigstore');
  regd = lookasideRegistriesD(join(work, 'registries.d'), store, { sigstoreAttachments: true });
  ours = makeGpgHome({ withKey: { name: 'DCT Migrator', email: 'migrate@dsv.invalid', passphrase: PASS } });
  file('ours.pub', ours.exportPublic());
  file('ours.sec.asc', ours.gpg(['--passphrase-fd', '0', '--armor', '--export-secret-keys', '--', ours.fingerprint], `${PASS}\n`));
  file('pass.txt', `${PASS}\n`);
  const openssl = requireTool('openssl');
  run(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(work, 'cosign-key.pem')]);
  run(openssl, ['pkey', '-in', join(work, 'cosign-key.pem'), '-pubout', '-out', join(work, 'cosign.pub')]);
  env = { PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: dockerConfig, DOCKER_CONTENT_TRUST_SERVER: server.url };
}, 300_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), server?.stop()]);
  removeGpgHomes();
  removeTempDirs();
});

describe('dsv trust migrate to detached signatures', () => {
  it('--to simple: the verified tag is signed for skopeo signedBy; the re-pushed one is not (exit 1); --dry-run writes nothing', async () => {
    const v1 = await served('v1');
    const keyArgs = ['--key', join(work, 'ours.sec.asc'), '--passphrase-file', join(work, 'pass.txt'), '--registries.d', regd];
    const dry = await dsv(['trust', 'migrate', gun, '--to', 'simple', ...keyArgs, '--dry-run', '--tags', 'v1']);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain(`Would migrate: v1 ${v1.digest}`);
    expect(existsSync(store)).toBe(false);

    const r = await dsv(['trust', 'migrate', gun, '--to', 'simple', ...keyArgs, '--json']);
    expect(r.code, r.all).toBe(1);
    expect(r.all).not.toContain(PASS);
    expect(expectValidReport('trust-migrate', r.stdout)).toMatchObject({ command: 'trust migrate', to: 'simple', ok: false, exitCode: 1 });
    const rows = Object.fromEntries(JSON.parse(r.stdout).tags.map((t: { tag: string }) => [t.tag, t]));
    expect(rows.v1).toMatchObject({ dct: 'verified', action: 'signed', digest: v1.digest, signedDigest: v1.digest });
    expect(rows.moved).toMatchObject({ dct: 'failed', action: 'skipped' });
    expect(existsSync(join(store, `app/migrate@${v1.digest.replace(':', '=')}`, 'signature-1'))).toBe(true);
    expect(existsSync(join(store, `app/migrate@${(await served('moved')).digest.replace(':', '=')}`))).toBe(false);

    const ok = skopeoPull('v1', { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'ours.pub') });
    expect(ok.code, ok.out).toBe(0);
    const no = skopeoPull('moved', { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'ours.pub') });
    expect(no.code).not.toBe(0);
  });

  it('--to cosign: the verified tag gets a cosign .sig signature that dsv verify accepts (sigstoreSigned policy, --trust cosign:FILE)', async () => {
    const v1 = await served('v1');
    const r = await dsv(['trust', 'migrate', gun, '--to', 'cosign', '--key', join(work, 'cosign-key.pem'), '--tags', 'v1']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Migrated: v1 ${v1.digest} (DCT signers: (Repo Admin)) -> ${gun}:${v1.digest.replace(':', '-')}.sig`);
    const sig = await fetch(`http://${reg.host}/v2/app/migrate/manifests/${v1.digest.replace(':', '-')}.sig`, { headers: { Accept: ACCEPT } });
    expect(sig.status).toBe(200);
    const policy = file('cosign-policy.json', { default: [{ type: 'sigstoreSigned', keyPath: join(work, 'cosign.pub'), signedIdentity: { type: 'matchRepository' } }] });
    const v = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${gun}:v1`]);
    expect(v.code, v.all).toBe(0);
    const t = await dsv(['verify', '--trust', `cosign:${join(work, 'cosign.pub')}`, `docker://${gun}:v1`]);
    expect(t.code, t.all).toBe(0);
    // The re-pushed tag has no cosign signature for what it serves now.
    const moved = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${gun}:moved`]);
    expect(moved.code, moved.all).toBe(1);
  });
});
