// docker-sign / docker-verify `repository` against the real dockerd (private root and socket): signing goes
// through the Engine API (docker-daemon: -> docker-daemon:); verifying reads the on-disk store
// (docker-storage:) when it is readable and the Engine API otherwise.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, type Ran } from '../helpers/proc.js';
import { importImage, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { launcher } from '../helpers/cli.js';

let d: Dockerd;
let gpgHome: GpgHome;

function bin(name: 'docker-sign' | 'docker-verify', args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher(name), args, {
    env: { PATH: process.env.PATH, HOME: gpgHome.home, DOCKER_HOST: d.host, DSV_DOCKER_ROOT: d.dataRoot, DSV_GPG_DATASTORE: gpgHome.home, ...env },
  });
}

function findFile(dir: string, rel: string): string[] {
  const found: string[] = [];
  for (const id of readdirSync(dir)) {
    const p = join(dir, id, 'diff', rel);
    try {
      if (statSync(p).isFile()) found.push(p);
    } catch {
      /* not in this layer */
    }
  }
  return found;
}

beforeAll(async () => {
  // npm test builds before the tests and says so: a build here would swap the bundles under running tests.
  buildUnlessPrebuilt();
  gpgHome = makeGpgHome({ withKey: { name: 'CLI Repository Signer', email: 'cli-repo@dsv.invalid' } });
  d = await startDockerd();
  importImage(d, 'cli/sample:1', { 'etc/hello': 'hello from the repository test\n', 'bin/tool': 'not really a tool\n' });
}, 300_000);

afterAll(async () => {
  await d?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe('docker-sign / docker-verify repository', () => {
  let signedConfig = '';

  it('signs an image in the engine under a new tag', async () => {
    const r = await bin('docker-sign', ['repository', '-k', gpgHome.keyId, 'cli/sample:1', 'cli/sample:signed'], { DSV_KEYPASS: '' });
    expect(r.code, r.all).toBe(0);
    signedConfig = /config digest \(signed\): (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    const id = d.docker(['image', 'inspect', '--format', '{{.Id}}', 'cli/sample:signed']).trim();
    expect(id).toBe(signedConfig);
  });

  it('verifies through the on-disk store when it is readable, else through the engine', async () => {
    const storage = await bin('docker-verify', ['--debug', 'repository', 'cli/sample:signed']);
    expect(storage.code, storage.all).toBe(0);
    expect(storage.stderr).toContain('docker-storage:cli/sample:signed');
    const daemon = await bin('docker-verify', ['repository', 'cli/sample:signed', '-v'], { DSV_DOCKER_ROOT: join(d.dataRoot, 'no-such-root') });
    expect(daemon.code, daemon.all).toBe(0);
    expect(daemon.stderr).toContain('docker-daemon:cli/sample:signed');
  });

  it('fails on the unsigned image', async () => {
    const r = await bin('docker-verify', ['repository', 'cli/sample:1']);
    expect(r.code, r.all).toBe(1);
  });

  it('fails, naming the layer, when a file changed on disk', async () => {
    const files = findFile(join(d.dataRoot, d.driver), 'etc/hello');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const b = readFileSync(f);
      b[0] ^= 0x20;
      writeFileSync(f, b);
    }
    const r = await bin('docker-verify', ['repository', 'cli/sample:signed']);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/layer 0 sha256:[0-9a-f]{64}/);
  });
});
