// Helpers for the docker-storage:/docker-daemon: e2e tests: an HMAC test signer, a small copy-and-sign
// (a stand-in for core's copyImage, which did not exist yet when these tests were written), an
// integrity check over any ImageSource, and a docker-save archive built with the real tar CLI.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  ImageConfig,
  copyImage as coreCopyImage,
  verifyImage as coreVerifyImage,
  verifySignatures,
  type CopyResult,
  type VerifyResult,
  type Descriptor,
  type Digest,
  type ImageReference,
  type ImageSource,
  type Signer,
  type SystemContext,
  type VerificationResult,
} from '@dsv/core';
import { dockerDaemonTransport, dockerStorageTransport } from '@dsv/source-repository';
import { run, tempDir } from '../helpers/proc.js';

export function ref(text: string): ImageReference {
  const i = text.indexOf(':');
  const name = text.slice(0, i);
  const t = name === 'docker-daemon' ? dockerDaemonTransport : name === 'docker-storage' ? dockerStorageTransport : undefined;
  if (!t) throw new Error(`unknown transport in ${text}`);
  return t.parseReference(text.slice(i + 1));
}

import { hmacSigner, hmacVerify } from '../helpers/hmac-signer.js';
export { hmacSigner, hmacVerify };

export async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Copies one image with core's copyImage, signing its config on the way when a signer is given. */
export async function copyImage(from: string, to: string, ctx: SystemContext, signer?: Signer): Promise<{ configDigest: Digest; result: CopyResult }> {
  const src = await ref(from).newSource(ctx);
  try {
    const dest = await ref(to).newDestination(ctx);
    try {
      const result = await coreCopyImage(src, dest, signer ? { sign: { signer, kind: 'sign' } } : {});
      return { configDigest: result.images[0]!.configDigest, result };
    } finally {
      await dest.close();
    }
  } finally {
    await src.close();
  }
}

/** Core's verifyImage (integrity of every blob, then every signature) over `text`. */
export async function coreVerify(text: string, ctx: SystemContext, verify: (data: Uint8Array, signature: string) => Promise<VerificationResult> = hmacVerify): Promise<VerifyResult> {
  const src = await ref(text).newSource(ctx);
  try {
    return await coreVerifyImage(src, verify);
  } finally {
    await src.close();
  }
}

/** Integrity of an image (every blob against its descriptor, layers against rootfs.diff_ids) and its HMAC signatures. */
export async function verifyImage(src: ImageSource, verify: (data: Uint8Array, signature: string) => Promise<VerificationResult> = hmacVerify): Promise<{ config: ImageConfig; manifest: Buffer; signatures: Awaited<ReturnType<typeof verifySignatures>> | 'none' }> {
  const { bytes } = await src.getManifest();
  const m = JSON.parse(Buffer.from(bytes).toString());
  const config = ImageConfig.parse(await readAll(await src.getBlob(m.config)));
  if (config.digest !== m.config.digest) throw new Error(`config digest ${config.digest} != ${m.config.digest}`);
  const diffIds = config.diffIds;
  if (diffIds.length !== m.layers.length) throw new Error('layer count != diff_ids');
  for (const [i, l] of (m.layers as Descriptor[]).entries()) {
    const h = createHash('sha256');
    let size = 0;
    for await (const c of await src.getBlob(l)) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    const digest = `sha256:${h.digest('hex')}`;
    if (digest !== l.digest || size !== l.size) throw new Error(`layer ${i}: ${digest}/${size} != ${l.digest}/${l.size}`);
    if (digest !== diffIds[i]) throw new Error(`layer ${i}: diff_id mismatch`);
  }
  let signatures: Awaited<ReturnType<typeof verifySignatures>> | 'none' = 'none';
  try {
    signatures = await verifySignatures(config, verify);
  } catch (e) {
    if ((e as { code?: string }).code !== 'NoSignatures') throw e;
  }
  return { config, manifest: Buffer.from(bytes), signatures };
}

/**
 * A docker-save archive of one multi-layer image built with the real tar CLI (so `docker load` is fed
 * something no code of ours wrote): each layer a directory tarred, layer 2 deletes a file of layer 1
 * (whiteout) and adds a hard link and a symlink.
 */
export function buildSaveArchive(tag: string, salt: string): string {
  const work = tempDir('dsvsave-');
  const layers: Array<Record<string, string>> = [
    { 'etc/os-release': `ID=dsv-${salt}\n`, 'bin/tool': `#!/bin/sh\necho ${salt}\n`, 'usr/share/big.bin': 'x'.repeat(300_000) + salt },
    { 'etc/.wh.os-release': '', 'etc/hosts': `127.0.0.1 ${salt}\n` },
    { 'app/run.sh': `#!/bin/sh\necho run ${salt}\n`, 'app/data.txt': 'data\n'.repeat(1000) },
  ];
  const diffIds: string[] = [];
  const layerNames: string[] = [];
  for (const [i, files] of layers.entries()) {
    const dir = join(work, `l${i}`);
    mkdirSync(dir);
    for (const [p, content] of Object.entries(files)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), content);
    }
    if (i === 2) {
      run('ln', [join(dir, 'app', 'run.sh'), join(dir, 'app', 'run-hardlink.sh')]);
      run('ln', ['-s', 'run.sh', join(dir, 'app', 'run-symlink.sh')]);
      // A name over 100 bytes (GNU long name), a UTF-8 name, and one that is not UTF-8 (tar-split name_raw).
      const long = join(dir, 'app', 'd'.repeat(90), 'e'.repeat(60));
      mkdirSync(join(long, '..'), { recursive: true });
      writeFileSync(long, `long ${salt}\n`);
      writeFileSync(join(dir, 'app', 'grüße-✓.txt'), `unicode ${salt}\n`);
      writeFileSync(Buffer.concat([Buffer.from(join(dir, 'app') + '/raw-'), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]), `raw ${salt}\n`);
    }
    const tar = join(work, `layer${i}.tar`);
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=2024-01-01', '-C', dir, '-cf', tar, '.']);
    const bytes = run('sha256sum', [tar]).split(' ')[0]!;
    diffIds.push(`sha256:${bytes}`);
    mkdirSync(join(work, 'out'), { recursive: true });
    run('cp', [tar, join(work, 'out', `${bytes}.tar`)]);
    layerNames.push(`${bytes}.tar`);
  }
  const config = JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/tool'], Labels: { 'org.example.salt': salt } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
  });
  const configHex = createHash('sha256').update(config).digest('hex');
  writeFileSync(join(work, 'out', `${configHex}.json`), config);
  writeFileSync(join(work, 'out', 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [tag], Layers: layerNames }]));
  const archive = join(work, 'image.tar');
  run('tar', ['-C', join(work, 'out'), '-cf', archive, '.']);
  return archive;
}
