// dsv-copy --verify (the BUILT bin) against a real docker-registry: full integrity (every layer inflated and
// checked against the config's rootfs.diff_ids) in the copy's one pass, refusing before DEST's tag moves.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '@dsv/core';
import { buildSampleImage, writeOciLayout, type SampleLayerSpec } from '@dsv/conformance';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { launcher } from '../helpers/cli.js';

const dsvCopy = launcher('dsv-copy');
const WRONG = `sha256:${'e'.repeat(64)}` as Digest;

let reg: StartedRegistry;
let work: string;

function copy(args: string[]) {
  const r = spawnSync(process.execPath, [dsvCopy, ...args], { env: { ...process.env, DOCKER_CONFIG: join(work, 'docker') }, encoding: 'utf8', timeout: 120_000, cwd: work });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}
const inspectDigest = (ref: string) => JSON.parse(run(requireTool('skopeo'), ['inspect', '--tls-verify=false', ref])).Digest as string;

beforeAll(async () => {
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-copy-verify-e2e-');
  const layers: SampleLayerSpec[] = [{ 'etc/hello': 'verified copy\n' }, { 'app/data.bin': Buffer.alloc(200_000, 3) }];
  writeOciLayout(join(work, 'good'), { image: await buildSampleImage({ format: 'oci', layers }), tag: 'v1' });
  const good = await buildSampleImage({ format: 'oci', layers });
  // The same layers, but the config claims another diff_id for layer 1: every blob digest is right.
  const bad = await buildSampleImage({ format: 'oci', layers, diffIds: [good.layers[0]!.diffId, WRONG] });
  writeOciLayout(join(work, 'bad'), { image: bad, tag: 'v1' });
  const r = copy([`oci:${join(work, 'good')}:v1`, `docker://${reg.host}/app/verified:v1`]);
  expect(r.code, r.all).toBe(0);
});

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe('dsv-copy --verify', () => {
  it('copies a consistent image with --verify (exit 0, same digest at DEST)', () => {
    const r = copy(['--verify', '--json', `oci:${join(work, 'good')}:v1`, `docker://${reg.host}/app/verified:v2`]);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout).sameDigest).toBe(true);
    expect(inspectDigest(`docker://${reg.host}/app/verified:v2`)).toBe(inspectDigest(`docker://${reg.host}/app/verified:v1`));
  });

  it('refuses a config whose diff_id does not match its layer: exit 1, one line naming the layer, the tag at DEST unmoved', () => {
    const before = inspectDigest(`docker://${reg.host}/app/verified:v1`);
    const r = copy(['--verify', `oci:${join(work, 'bad')}:v1`, `docker://${reg.host}/app/verified:v1`]);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/layer 1 sha256:[0-9a-f]{64}/);
    expect(r.stderr).toContain(WRONG);
    expect(inspectDigest(`docker://${reg.host}/app/verified:v1`)).toBe(before);
  });

  it('a plain copy treats the config as opaque (as skopeo does): the same image is copied without --verify', () => {
    const r = copy([`oci:${join(work, 'bad')}:v1`, `docker://${reg.host}/app/unverified:v1`]);
    expect(r.code, r.all).toBe(0);
  });
});
