// docker-archive:, oci: and oci-archive: against the real thing: dockerd 20.10 (docker save / load /
// inspect) and skopeo 1.9 (writes archives and layouts we read; reads what we write).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { digestOf } from '@dsv/core';
import { DockerSaveArchive, parseTaggedName, scanDockerArchiveStream, writeDockerArchive } from '@dsv/source-archive';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { removeTempDirs, requireTool, run, tempDir } from '../helpers/proc.js';
import { createPkiSigner, createPkiVerifier } from '@dsv/signer-pki';
import { copyImage, hmacSigner, verifyImage } from './support.js';

let d: Dockerd;
let work: string;
let saved: string;
let id1: string;
let id2: string;

beforeAll(async () => {
  requireTool('skopeo');
  d = await startDockerd();
  work = tempDir('dsv-arch-');
  id1 = importImage(d, 'dsv-arch:1', { 'etc/hello.txt': 'hello\n', 'bin/tool': '#!/bin/sh\necho tool\n' });
  id2 = importImage(d, 'localhost:5000/team/other:2', { 'other.txt': 'other\n' });
  d.docker(['tag', 'dsv-arch:1', 'dsv-arch:keep']);
  saved = join(work, 'saved.tar');
  d.docker(['save', '-o', saved, 'dsv-arch:1', 'dsv-arch:keep', 'localhost:5000/team/other:2']);
});
afterAll(async () => {
  await d?.stop();
  removeTempDirs();
});

const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args]);
const inspectId = (name: string) => d.docker(['image', 'inspect', '--format', '{{.Id}}', name]).trim();
const sha = (b: Uint8Array) => digestOf(b);

function fresh(name: string): string {
  const p = join(work, name);
  cpSync(saved, p);
  return p;
}

describe('docker save archives (dockerd 20.10, legacy layout)', () => {
  test('read: the synthesised manifest names the exact config and layer files', async () => {
    const a = await DockerSaveArchive.open(saved);
    expect(a.layout).toBe('legacy');
    expect(a.images.map((i) => i.configDigest).sort()).toEqual([id1, id2].sort());
    const v = await verifyImage(`docker-archive:${saved}:dsv-arch:keep`);
    expect(v.config.digest).toBe(id1);
    expect(v.signatures).toBe('none');
  });

  test('sign in place (real PKI signer, openssl key), docker load: the DEST tag is the signed config, other tags untouched', async () => {
    const path = fresh('sign-legacy.tar');
    const key = join(work, 'key.pem');
    const pub = join(work, 'pub.pem');
    run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
    run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    const signer = await createPkiSigner({ key });
    const verifier = await createPkiVerifier({ trust: [pub] });
    const { configDigest } = await copyImage(`docker-archive:${path}:dsv-arch:1`, `docker-archive:${path}:dsv-arch:signed`, signer);
    expect(configDigest).not.toBe(id1);
    expect(readdirSync(work).filter((f) => f.includes('.dsv-'))).toEqual([]);
    const v = await verifyImage(`docker-archive:${path}:dsv-arch:signed`, (data, sig) => verifier.verify(data, sig));
    expect(v.config.digest).toBe(configDigest);
    expect(v.signatures !== 'none' && v.signatures.map((c) => c.result.status)).toEqual(['valid']);
    // the untouched image still verifies as unsigned
    expect((await verifyImage(`docker-archive:${path}:dsv-arch:1`)).signatures).toBe('none');
    // the real daemon loads it
    d.docker(['rmi', 'dsv-arch:1', 'dsv-arch:keep', 'localhost:5000/team/other:2']);
    const out = d.docker(['load', '-i', path]);
    expect(out).toContain('dsv-arch:signed');
    expect(inspectId('dsv-arch:signed')).toBe(configDigest);
    expect(inspectId('dsv-arch:1')).toBe(id1);
    expect(inspectId('localhost:5000/team/other:2')).toBe(id2);
    expect(d.docker(['image', 'inspect', '--format', '{{index .Config.Labels "signatures"}}', 'dsv-arch:signed'])).toContain('PKI SIGNATURE');
    d.docker(['rmi', 'dsv-arch:signed']);
  });

  test('re-signing a tag in place moves it; docker load follows', async () => {
    const path = fresh('move.tar');
    const { configDigest } = await copyImage(`docker-archive:${path}:dsv-arch:keep`, `docker-archive:${path}:dsv-arch:keep`, hmacSigner);
    const a = await DockerSaveArchive.open(path);
    expect(a.images.find((i) => i.configDigest === id1)!.repoTags).toEqual(['dsv-arch:1']);
    expect(a.images.find((i) => i.configDigest === configDigest)!.repoTags).toEqual(['dsv-arch:keep']);
    const repos = JSON.parse((await a.tar.readEntry('repositories', 1 << 20)).toString());
    expect(Object.keys(repos['dsv-arch']).sort()).toEqual(['1', 'keep']);
    d.docker(['load', '-i', path]);
    expect(inspectId('dsv-arch:keep')).toBe(configDigest);
    expect(inspectId('dsv-arch:1')).toBe(id1);
    d.docker(['tag', 'dsv-arch:1', 'dsv-arch:keep']);
  });

  test('the Docker 25+ OCI layout (built from a skopeo oci: layout + manifest.json): sign in place, docker load', async () => {
    const dir = join(work, 'd25');
    skopeo(['copy', '-q', `docker-archive:${saved}:dsv-arch:1`, `oci:${dir}:1`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const mdesc = index.manifests[0];
    mdesc.annotations = { 'io.containerd.image.name': 'docker.io/library/dsv-d25:src', 'org.opencontainers.image.ref.name': 'src' };
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', mdesc.digest.slice(7)), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${m.config.digest.slice(7)}`, RepoTags: ['dsv-d25:src'], Layers: m.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`) }]));
    const path = join(work, 'd25.tar');
    run('tar', ['-C', dir, '-cf', path, 'blobs', 'index.json', 'oci-layout', 'manifest.json']);
    const before = await verifyImage(`docker-archive:${path}:dsv-d25:src`);
    expect(before.config.digest).toBe(m.config.digest); // skopeo converted the config to OCI
    expect(before.config.diffIds).toEqual((await verifyImage(`docker-archive:${saved}:dsv-arch:1`)).config.diffIds);
    const { configDigest, manifest } = await copyImage(`docker-archive:${path}:dsv-d25:src`, `docker-archive:${path}:dsv-arch:d25`, hmacSigner);
    const a = await DockerSaveArchive.open(path);
    expect(a.layout).toBe('oci');
    expect(a.tar.has(`blobs/sha256/${configDigest.slice(7)}`)).toBe(true);
    expect(a.tar.has(`blobs/sha256/${sha(manifest).slice(7)}`)).toBe(true);
    const v = await verifyImage(`docker-archive:${path}:dsv-arch:d25`);
    expect(v.signatures !== 'none' && v.signatures[0]!.result.status).toBe('valid');
    d.docker(['load', '-i', path]);
    expect(inspectId('dsv-arch:d25')).toBe(configDigest);
    // the updated index.json still reads as an OCI layout (skopeo reads the tar extracted)
    const x = join(work, 'd25x');
    run('mkdir', ['-p', x]);
    run('tar', ['-C', x, '-xf', path]);
    const raw = skopeo(['inspect', '--config', '--raw', `oci:${x}:d25`]);
    expect(sha(Buffer.from(raw))).toBe(configDigest);
  });
});

describe('skopeo interoperability', () => {
  test('archives skopeo writes (symlinked legacy layers) read, sign and load', async () => {
    const path = join(work, 'skopeo.tar');
    skopeo(['copy', '-q', `docker-archive:${saved}:dsv-arch:1`, `docker-archive:${path}:localhost:5000/sk/img:v1`]);
    const { configDigest } = await copyImage(`docker-archive:${path}:localhost:5000/sk/img:v1`, `docker-archive:${path}:localhost:5000/sk/img:v1`, hmacSigner);
    const raw = skopeo(['inspect', '--config', '--raw', `docker-archive:${path}:localhost:5000/sk/img:v1`]);
    expect(sha(Buffer.from(raw))).toBe(configDigest);
    skopeo(['copy', '-q', `docker-archive:${path}:localhost:5000/sk/img:v1`, `dir:${join(work, 'skdir')}`]);
    d.docker(['load', '-i', path]);
    expect(inspectId('localhost:5000/sk/img:v1')).toBe(configDigest);
  });

  test('oci: layouts skopeo writes read, sign in place, and skopeo reads the result', async () => {
    const dir = join(work, 'oci1');
    skopeo(['copy', '-q', `docker-archive:${saved}:dsv-arch:1`, `oci:${dir}:v1`]);
    const ociConfig = sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci:${dir}:v1`])));
    expect((await verifyImage(`oci:${dir}:v1`)).config.digest).toBe(ociConfig);
    const { configDigest } = await copyImage(`oci:${dir}:v1`, `oci:${dir}:v1-signed`, hmacSigner);
    const v = await verifyImage(`oci:${dir}:v1-signed`);
    expect(v.signatures !== 'none' && v.signatures[0]!.result.status).toBe('valid');
    expect(sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci:${dir}:v1-signed`])))).toBe(configDigest);
    expect(sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci:${dir}:v1`])))).toBe(ociConfig);
    skopeo(['copy', '-q', `oci:${dir}:v1-signed`, `dir:${join(work, 'ocidir')}`]);
    // ... and into a new docker archive (gzip layers) that docker load and skopeo accept
    const out = join(work, 'from-oci.tar');
    await copyImage(`oci:${dir}:v1-signed`, `docker-archive:${out}:dsv-oci:signed`);
    expect(JSON.parse(skopeo(['inspect', `docker-archive:${out}`])).Layers).toHaveLength(1);
    d.docker(['load', '-i', out]);
    expect(inspectId('dsv-oci:signed')).toBe(configDigest);
  });

  test('oci-archive: skopeo-written, signed in place, read back by skopeo', async () => {
    const path = join(work, 'oa.tar');
    skopeo(['copy', '-q', `docker-archive:${saved}:localhost:5000/team/other:2`, `oci-archive:${path}:v2`]);
    const { configDigest } = await copyImage(`oci-archive:${path}:v2`, `oci-archive:${path}:v2`, hmacSigner);
    expect(readdirSync(work).filter((f) => f.includes('.dsv-'))).toEqual([]);
    expect(sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci-archive:${path}:v2`])))).toBe(configDigest);
    skopeo(['copy', '-q', `oci-archive:${path}:v2`, `dir:${join(work, 'oadir')}`]);
    const v = await verifyImage(`oci-archive:${path}:v2`);
    expect(v.signatures !== 'none' && v.signatures[0]!.result.status).toBe('valid');
    // a new oci-archive and a new oci: layout written by us, read by skopeo
    const fresh2 = join(work, 'new-oa.tar');
    await copyImage(`oci-archive:${path}:v2`, `oci-archive:${fresh2}:copied`);
    expect(sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci-archive:${fresh2}:copied`])))).toBe(configDigest);
    // (skopeo 1.9 only finds OCI media types in index.json, so the source here is an OCI image)
    const freshDir = join(work, 'new-oci');
    await copyImage(`oci-archive:${path}:v2`, `oci:${freshDir}:x`);
    skopeo(['copy', '-q', `oci:${freshDir}:x`, `dir:${join(work, 'newocidir')}`]);
    expect(sha(Buffer.from(skopeo(['inspect', '--config', '--raw', `oci:${freshDir}:x`])))).toBe(configDigest);
  });
});

describe('streams (Engine API style: docker save stdout / docker load stdin)', () => {
  test('scanDockerArchiveStream over docker save output; writeDockerArchive into docker load', async () => {
    const child = spawn('docker', ['save', 'dsv-arch:1'], { env: d.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const scan = await scanDockerArchiveStream(child.stdout!);
    expect(scan.manifests).toHaveLength(1);
    const entry = scan.manifests[0]!;
    const config = scan.configs.get(entry.Config)!;
    expect(sha(config)).toBe(id1);
    const diffIds = JSON.parse(config.toString()).rootfs.diff_ids;
    expect(entry.Layers.map((l) => scan.entries.get(l)!.diffId)).toEqual(diffIds);

    // write an archive stream from the saved file's blobs, signed config, and load it
    const a = await DockerSaveArchive.open(saved);
    const img = a.select({ name: parseTaggedName('dsv-arch:1') });
    const { ImageConfig, addSignature } = await import('@dsv/core');
    const signed = Buffer.from((await addSignature(ImageConfig.parse(img.configBytes), hmacSigner, 'sign')).config.bytes);
    const stream = writeDockerArchive({
      config: signed,
      repoTags: ['dsv-stream:1'],
      layers: img.layers.map((l) => ({ descriptor: { mediaType: l.mediaType, digest: l.digest!, size: l.size }, open: async () => a.tar.openEntry(l.entry) })),
    });
    const load = spawn('docker', ['load'], { env: d.env, stdio: ['pipe', 'pipe', 'inherit'] });
    const outChunks: Buffer[] = [];
    load.stdout!.on('data', (c: Buffer) => outChunks.push(c));
    const exited = new Promise<number>((r) => load.on('exit', (code) => r(code ?? -1)));
    await pipeline(stream, load.stdin!);
    expect(await exited).toBe(0);
    expect(Buffer.concat(outChunks).toString()).toContain('dsv-stream:1');
    expect(inspectId('dsv-stream:1')).toBe(sha(signed));
  });
});
