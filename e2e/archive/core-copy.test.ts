// The same flows through core's copyImage / verifyImage (what `docker-sign archive` and `docker-verify`
// run): sign in place in a docker save archive, docker load it; oci: and oci-archive: in place, skopeo reads.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { join } from 'node:path';
import { copyImage, digestOf, verifyImage } from '@dsv/core';
import { DockerSaveArchive } from '@dsv/source-archive';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { hmacSigner, hmacVerify, ref } from './support.js';

let d: Dockerd;
let work: string;
let saved: string;
let id1: string;

beforeAll(async () => {
  requireTool('skopeo');
  d = await startDockerd();
  work = tempDir('dsv-arch-core-');
  id1 = importImage(d, 'dsv-core:1', { 'etc/hello.txt': 'hello\n' });
  importImage(d, 'dsv-core-other:1', { 'other.txt': 'other\n' });
  saved = join(work, 'saved.tar');
  d.docker(['save', '-o', saved, 'dsv-core:1', 'dsv-core-other:1']);
});
afterAll(async () => {
  await d?.stop();
  removeTempDirs();
});

const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args]);

test('docker-sign archive: copyImage signs in place; docker load gets the signed config under DEST; verifyImage passes', async () => {
  const src = await ref(`docker-archive:${saved}:dsv-core:1`).newSource();
  const dest = await ref(`docker-archive:${saved}:dsv-core:signed`).newDestination();
  let result;
  try {
    result = await copyImage(src, dest, { sign: { signer: hmacSigner, kind: 'sign' } });
  } finally {
    await dest.close();
    await src.close();
  }
  const configDigest = result.images[0]!.configDigest;
  expect(result.images[0]!.sourceConfigDigest).toBe(id1);
  expect(result.images[0]!.blobsCopied).toBe(1); // only the new config
  const a = await DockerSaveArchive.open(saved);
  expect(a.images.find((i) => i.configDigest === configDigest)!.repoTags).toEqual(['dsv-core:signed']);

  const vsrc = await ref(`docker-archive:${saved}:dsv-core:signed`).newSource();
  const v = await verifyImage(vsrc, hmacVerify);
  await vsrc.close();
  expect(v.failures).toEqual([]);
  expect(v.ok).toBe(true);
  const unsigned = await ref(`docker-archive:${saved}:dsv-core:1`).newSource();
  const u = await verifyImage(unsigned, hmacVerify);
  await unsigned.close();
  expect(u.ok).toBe(false);
  expect(u.failures).toContain('no signatures');

  d.docker(['load', '-i', saved]);
  expect(d.docker(['image', 'inspect', '--format', '{{.Id}}', 'dsv-core:signed']).trim()).toBe(configDigest);
  expect(d.docker(['image', 'inspect', '--format', '{{.Id}}', 'dsv-core:1']).trim()).toBe(id1);
});

test('oci: and oci-archive: through copyImage, read back by skopeo', async () => {
  const dir = join(work, 'oci');
  skopeo(['copy', '-q', `docker-archive:${saved}:dsv-core-other:1`, `oci:${dir}:v1`]);
  for (const [from, to] of [[`oci:${dir}:v1`, `oci:${dir}:v1`], [`oci:${dir}:v1`, `oci-archive:${join(work, 'oa.tar')}:v1`]] as const) {
    const src = await ref(from).newSource();
    const dest = await ref(to).newDestination();
    let result;
    try {
      result = await copyImage(src, dest, { sign: { signer: hmacSigner, kind: 'sign' } });
    } finally {
      await dest.close();
      await src.close();
    }
    const vs = await ref(to).newSource();
    const v = await verifyImage(vs, hmacVerify);
    await vs.close();
    expect(v.failures).toEqual([]);
    expect(digestOf(Buffer.from(skopeo(['inspect', '--config', '--raw', to])))).toBe(result.images[0]!.configDigest);
  }
});
