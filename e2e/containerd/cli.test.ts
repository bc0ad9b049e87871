// The containerd: transport through the shipped commands (registered with the runtime like every
// transport): dsv verify / inspect / sign and dsv-copy against a real containerd on a private socket, the
// namespace and socket given in the reference's brackets.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, ociArchive, type SampleImage } from '@dsv/conformance';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { blobPath, importArchive, startContainerd, type Containerd } from './containerd-daemon.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const NAME = 'docker.io/library/cli-app:1';
let c: Containerd;
let image: SampleImage;
let gpg: GpgHome;
let work: string;
let env: NodeJS.ProcessEnv;

const ref = (name: string) => `containerd:[default@${c.socket}]${name}`;
function bin(app: 'cli' | 'copy', name: string, args: string[]): Promise<Ran> {
  return runNodeScript(launcher(name, app), args, { env, cwd: work });
}

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  work = tempDir('dsvc-cli-');
  gpg = makeGpgHome({ withKey: { name: 'containerd CLI', email: 'containerd-cli@dsv.invalid' } });
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: gpg.home };
  c = await startContainerd();
  image = await buildSampleImage({ layers: [{ 'etc/hello.txt': 'hello from containerd\n' }, { 'bin/tool': 'tool\n' }], format: 'docker' });
  const archive = join(work, 'image.tar');
  writeFileSync(archive, ociArchive({ image, tag: NAME }));
  importArchive(c, 'default', archive);
}, 300_000);

afterAll(async () => {
  await c?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('containerd: through the commands', () => {
  it('dsv inspect and dsv --no-check-signatures verify read the image by its record', async () => {
    const i = await bin('cli', 'dsv', ['inspect', '--json', ref(NAME)]);
    expect(i.code, i.all).toBe(0);
    expect(i.stdout).toContain(image.manifestDigest);
    const v = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', ref(NAME)]);
    expect(v.code, v.all).toBe(0);
    const unsigned = await bin('cli', 'dsv', ['verify', ref(NAME)]);
    expect(unsigned.code, unsigned.all).toBe(1);
  });

  it('dsv sign into a new tag that ctr lists, and dsv verify trusts it', async () => {
    const s = await bin('cli', 'dsv', ['sign', '--key', gpg.fingerprint, ref(NAME), ref('docker.io/library/cli-app:signed')]);
    expect(s.code, s.all).toBe(0);
    expect(c.ctr('default', ['images', 'ls'])).toContain('docker.io/library/cli-app:signed');
    const v = await bin('cli', 'dsv', ['verify', ref('docker.io/library/cli-app:signed')]);
    expect(v.code, v.all).toBe(0);
  });

  it('without brackets, CONTAINERD_NAMESPACE and CONTAINERD_ADDRESS name the namespace and socket, as for ctr', async () => {
    const plain = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', `containerd:${NAME}`]);
    expect(plain.code, plain.all).toBe(3); // the system socket: no containerd there
    expect(plain.all).toContain('/run/containerd/containerd.sock');
    const saved = env;
    env = { ...env, CONTAINERD_ADDRESS: c.socket, CONTAINERD_NAMESPACE: 'default' };
    try {
      const v = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', `containerd:${NAME}`]);
      expect(v.code, v.all).toBe(0);
      env = { ...env, CONTAINERD_NAMESPACE: 'elsewhere' };
      const other = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', `containerd:${NAME}`]);
      expect(other.code, other.all).not.toBe(0);
      expect(other.all).toContain('elsewhere');
    } finally {
      env = saved;
    }
  });

  it('--namespace and --address win over CONTAINERD_NAMESPACE / CONTAINERD_ADDRESS, on dsv and dsv-copy', async () => {
    const saved = env;
    env = { ...env, CONTAINERD_ADDRESS: join(work, 'not-here.sock'), CONTAINERD_NAMESPACE: 'elsewhere' };
    try {
      const v = await bin('cli', 'dsv', ['--no-check-signatures', '--namespace', 'default', '--address', c.socket, 'verify', `containerd:${NAME}`]);
      expect(v.code, v.all).toBe(0);
      const after = await bin('cli', 'dsv', ['inspect', `containerd:${NAME}`, '--namespace', 'default', '--address', `unix://${c.socket}`]);
      expect(after.code, after.all).toBe(0);
      expect(after.stdout).toContain(image.manifestDigest);
      // Only --address: the namespace still comes from the environment (no image there).
      const envNs = await bin('cli', 'dsv', ['--no-check-signatures', '--address', c.socket, 'verify', `containerd:${NAME}`]);
      expect(envNs.code, envNs.all).not.toBe(0);
      expect(envNs.all).toContain('elsewhere');
      const cp = await bin('copy', 'dsv-copy', ['--namespace', 'flagged', '--address', c.socket, ref(NAME), `containerd:docker.io/library/cli-app:flagged`]);
      expect(cp.code, cp.all).toBe(0);
      expect(c.ctr('flagged', ['images', 'ls', '-q'])).toContain('docker.io/library/cli-app:flagged');
      const nested = await bin('cli', 'dsv', ['--no-check-signatures', '--namespace', 'flagged', '--address', c.socket, 'copy', `containerd:docker.io/library/cli-app:flagged`, `containerd:docker.io/library/cli-app:nested`]);
      expect(nested.code, nested.all).toBe(0);
      expect(c.ctr('flagged', ['images', 'ls', '-q'])).toContain('docker.io/library/cli-app:nested');
      const bad = await bin('cli', 'dsv', ['--namespace', 'no/slash', 'verify', `containerd:${NAME}`]);
      expect(bad.code, bad.all).toBe(2);
      expect(bad.stderr.trim().split('\n')[0]).toContain('--namespace "no/slash"');
    } finally {
      env = saved;
    }
  });

  it('containerd not running: exit 3 naming the socket', async () => {
    const socket = join(work, 'nothing.sock');
    const v = await bin('cli', 'dsv', ['--no-check-signatures', '--address', socket, 'verify', `containerd:${NAME}`]);
    expect(v.code, v.all).toBe(3);
    expect(v.stderr).toContain(socket);
    const cp = await bin('copy', 'dsv-copy', [ref(NAME), `containerd:[default@${socket}]docker.io/library/cli-app:none`]);
    expect(cp.code, cp.all).toBe(3);
    expect(cp.stderr).toContain(socket);
  });

  it('dsv verify exits 1 naming the blob when one byte of it changed in the content store', async () => {
    const tampered = await buildSampleImage({ layers: [{ 'etc/a.txt': 'to be changed\n' }, { 'etc/b.txt': 'b\n'.repeat(5000) }], format: 'docker' });
    const archive = join(work, 'tampered.tar');
    writeFileSync(archive, ociArchive({ image: tampered, tag: 'docker.io/library/tampered:1' }));
    importArchive(c, 'tamper', archive);
    const layer = tampered.layers[1]!.descriptor.digest;
    const file = blobPath(c, layer);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(file, bytes);
    const v = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', `containerd:[tamper@${c.socket}]docker.io/library/tampered:1`]);
    expect(v.code, v.all).toBe(1);
    expect(v.all).toContain(layer);
  });

  it('dsv-copy registry → containerd → registry keeps the manifest digest, and dsv verify reads it in containerd', async () => {
    let reg: StartedRegistry | undefined;
    try {
      reg = await startRegistry({ mode: 'http' });
      const push = await bin('copy', 'dsv-copy', [ref(NAME), `docker://${reg.host}/dsv/app:1`]);
      expect(push.code, push.all).toBe(0);
      const into = await bin('copy', 'dsv-copy', ['--json', '--namespace', 'pulled', '--address', c.socket, `docker://${reg.host}/dsv/app:1`, `containerd:${reg.host}/dsv/app:1`]);
      expect(into.code, into.all).toBe(0);
      expect(JSON.parse(into.stdout)).toMatchObject({ sourceDigest: image.manifestDigest, destinationDigest: image.manifestDigest });
      expect(c.ctr('pulled', ['images', 'ls', '-q'])).toContain(`${reg.host}/dsv/app:1`);
      const v = await bin('cli', 'dsv', ['--no-check-signatures', 'verify', `containerd:[pulled@${c.socket}]${reg.host}/dsv/app:1`]);
      expect(v.code, v.all).toBe(0);
      const back = await bin('copy', 'dsv-copy', ['--json', `containerd:[pulled@${c.socket}]${reg.host}/dsv/app:1`, `docker://${reg.host}/dsv/back:1`]);
      expect(back.code, back.all).toBe(0);
      expect(JSON.parse(back.stdout)).toMatchObject({ sourceDigest: image.manifestDigest, destinationDigest: image.manifestDigest });
    } finally {
      await reg?.stop();
    }
  });

  it('dsv-copy to an OCI layout keeps the manifest digest', async () => {
    const dest = join(work, 'layout');
    const cp = await bin('copy', 'dsv-copy', [ref(NAME), `oci:${dest}:1`]);
    expect(cp.code, cp.all).toBe(0);
    const i = await bin('cli', 'dsv', ['inspect', '--json', `oci:${dest}:1`]);
    expect(i.code, i.all).toBe(0);
    expect(i.stdout).toContain(image.manifestDigest);
  });
});
