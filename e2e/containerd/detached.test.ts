// Detached signatures of a registry image judged against the image in containerd, as for Docker's store:
// skopeo --sign-by signs the image in a real docker-registry (lookaside named by a temp registries.d),
// `ctr images pull --plain-http` pulls it into a real containerd, and the BUILT dsv verifies
// `containerd:…` by a policy: the registry manifest its record names is read and proved to be this image
// before its signatures count. An unsigned image, and another image stored under the signed name, fail.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { insecurePolicy, lookasideRegistriesD, skopeoOk } from '../helpers/skopeo.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { startContainerd, type Containerd } from './containerd-daemon.js';
import { launcher } from '../helpers/cli.js';

let reg: StartedRegistry;
let c: Containerd;
let work: string;
let regd: string;
let signer: GpgHome;
let policy: string;
let env: NodeJS.ProcessEnv;

function dsv(args: string[]): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env, cwd: work });
}

function skopeo(args: string[], gnupgHome: string): void {
  skopeoOk(['--policy', join(work, 'insecure.json'), '--registries.d', regd, ...args], { GNUPGHOME: gnupgHome });
}

const inContainerd = (ns: string, name: string) => `containerd:[${ns}@${c.socket}]${name}`;

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  c = await startContainerd();
  work = tempDir('dsvc-detached-');
  regd = lookasideRegistriesD(join(work, 'registries.d'), join(work, 'sigstore'));
  insecurePolicy(join(work, 'insecure.json'));
  signer = makeGpgHome({ withKey: { name: 'Registry Signer', email: 'registry-signer@dsv.invalid' } });
  writeFileSync(join(work, 'signer.pub'), signer.exportPublic());
  policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'signer.pub') }] }));
  for (const tag of ['signed', 'unsigned']) {
    writeOciLayout(join(work, `layout-${tag}`), { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/which': `${tag}\n` }, { 'bin/tool': `${tag} tool\n` }] }), tag });
  }
  skopeo(['copy', '--dest-tls-verify=false', '--sign-by', signer.fingerprint, `oci:${join(work, 'layout-signed')}:signed`, `docker://${reg.host}/app/signed:v1`], signer.home);
  skopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, 'layout-unsigned')}:unsigned`, `docker://${reg.host}/app/unsigned:v1`], signer.home);
  // Pulled with containerd's own client, as a node pulls (the native snapshotter: this containerd has no overlayfs).
  for (const repo of ['app/signed:v1', 'app/unsigned:v1']) c.ctr('pulled', ['images', 'pull', '--plain-http', '--snapshotter', 'native', `${reg.host}/${repo}`]);
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: signer.home, DSV_INSECURE_REGISTRIES: reg.host };
}, 300_000);

afterAll(async () => {
  await c?.stop();
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('detached signatures of the registry image, judged against the image in containerd', () => {
  it('a pulled image verifies by the signature skopeo made for its registry manifest', async () => {
    const v = await dsv(['verify', '--policy', policy, '--registries.d', regd, inContainerd('pulled', `${reg.host}/app/signed:v1`)]);
    expect(v.code, v.all).toBe(0);
    expect(v.stdout).toMatch(/signedBy/);
    const j = await dsv(['verify', '--json', '--policy', policy, '--registries.d', regd, inContainerd('pulled', `${reg.host}/app/signed:v1`)]);
    expect(j.code, j.all).toBe(0);
    expect(j.stdout).toContain(`${reg.host}/app/signed:v1`);
  });

  it('an unsigned image fails, and so does another image stored under the signed name', async () => {
    const u = await dsv(['verify', '--policy', policy, '--registries.d', regd, inContainerd('pulled', `${reg.host}/app/unsigned:v1`)]);
    expect(u.code, u.all).toBe(1);
    // The unsigned image's content under the signed image's name, in another namespace.
    const cp = await runNodeScript(launcher('dsv-copy'), [inContainerd('pulled', `${reg.host}/app/unsigned:v1`), inContainerd('forged', `${reg.host}/app/signed:v1`)], { env, cwd: work });
    expect(cp.code, cp.all).toBe(0);
    const f = await dsv(['verify', '--policy', policy, '--registries.d', regd, inContainerd('forged', `${reg.host}/app/signed:v1`)]);
    expect(f.code, f.all).toBe(1);
    expect(f.all).toContain(`${reg.host}/app/signed:v1`);
    expect(f.all).toMatch(/could not be proved to be this image/);
  });
});
