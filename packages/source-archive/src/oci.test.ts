import { describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ociArchiveTransport, ociTransport, TarIndex } from './index.js';
import { configFor, fakeSign, layerTar, readAll, sha, simpleCopy, tempDir } from './__tests__/support.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A layout directory with one multi-platform index tagged "multi" and one single manifest tagged "single". */
async function layout(dir: string) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => { writeFileSync(join(dir, 'blobs', 'sha256', sha(b).slice(7)), b); return { digest: sha(b), size: b.length }; };
  const mk = async (arch: string) => {
    const l = await layerTar({ [`${arch}.txt`]: arch });
    const c = configFor([l], { architecture: arch });
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(c) }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(l) }] }));
    return { l, c, m, d: put(m) };
  };
  const amd = await mk('amd64');
  const arm = await mk('arm64');
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
    { mediaType: OCI_MANIFEST, ...amd.d, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: OCI_MANIFEST, ...arm.d, platform: { architecture: 'arm64', os: 'linux' } },
  ] }));
  const idxD = put(idx);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [
    { mediaType: OCI_INDEX, ...idxD, annotations: { 'org.opencontainers.image.ref.name': 'multi' } },
    { mediaType: OCI_MANIFEST, ...amd.d, annotations: { 'org.opencontainers.image.ref.name': 'single' } },
  ] }));
  return { amd, arm, idx };
}

describe('oci: layouts', () => {
  test('reads a tag pointing at an index, its children by digest, and a plain manifest', async () => {
    const dir = tempDir();
    const { amd, arm, idx } = await layout(dir);
    const src = await ociTransport.parseReference(`${dir}:multi`).newSource();
    const top = await src.getManifest();
    expect(top.mediaType).toBe(OCI_INDEX);
    expect(Buffer.from(top.bytes)).toEqual(idx);
    const child = await src.getManifest(arm.d.digest);
    expect(Buffer.from(child.bytes)).toEqual(arm.m);
    expect(child.mediaType).toBe(OCI_MANIFEST);
    expect(await readAll(await src.getBlob({ mediaType: 'x', ...arm.d }))).toEqual(arm.m);
    expect((await src.listTags!()).sort()).toEqual(['multi', 'single']);
    const single = await ociTransport.parseReference(`${dir}:single`).newSource();
    expect(Buffer.from((await single.getManifest()).bytes)).toEqual(amd.m);
    await expect(ociTransport.parseReference(`${dir}:nope`).newSource()).rejects.toMatchObject({ code: 'NotFound' });
    await expect(ociTransport.parseReference(dir).newSource()).rejects.toMatchObject({ code: 'Usage' });
    await expect(ociTransport.parseReference(join(dir, 'missing')).newSource()).rejects.toMatchObject({ code: 'NotFound' });
    await expect(src.getBlob({ mediaType: 'x', digest: sha('zz'), size: 2 })).rejects.toMatchObject({ code: 'NotFound' });
  });

  test('writes: signs into a new tag, moves an existing tag, index.json stays valid', async () => {
    const dir = tempDir();
    const { amd } = await layout(dir);
    const r = await simpleCopy(await ociTransport.parseReference(`${dir}:single`).newSource(), await ociTransport.parseReference(`${dir}:signed`).newDestination(), fakeSign);
    let index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((d: { annotations: Record<string, string> }) => d.annotations['org.opencontainers.image.ref.name'])).toEqual(['multi', 'single', 'signed']);
    const signed = await ociTransport.parseReference(`${dir}:signed`).newSource();
    expect(Buffer.from((await signed.getManifest()).bytes)).toEqual(r.manifest);
    expect(sha(await readAll(await signed.getBlob(r.config)))).toBe(r.config.digest);
    // same tag again: replaced, not duplicated
    await simpleCopy(await ociTransport.parseReference(`${dir}:single`).newSource(), await ociTransport.parseReference(`${dir}:single`).newDestination(), fakeSign);
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const singles = index.manifests.filter((d: { annotations: Record<string, string> }) => d.annotations['org.opencontainers.image.ref.name'] === 'single');
    expect(singles).toHaveLength(1);
    expect(singles[0].digest).not.toBe(amd.d.digest);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('a new layout is created; a bad blob is never stored under its digest', async () => {
    const src = tempDir();
    await layout(src);
    const out = join(tempDir(), 'new', 'layout');
    await simpleCopy(await ociTransport.parseReference(`${src}:single`).newSource(), await ociTransport.parseReference(`${out}:v1`).newDestination());
    expect(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const dest = await ociTransport.parseReference(`${out}:v2`).newDestination();
    await expect(dest.putBlob({ mediaType: 'x', digest: sha('good'), size: 4 }, Readable.from([Buffer.from('evil')]))).rejects.toMatchObject({ code: 'DigestMismatch' });
    expect(existsSync(join(out, 'blobs', 'sha256', sha('good').slice(7)))).toBe(false);
    expect(readdirSync(join(out, 'blobs', 'sha256')).filter((f) => f.startsWith('.'))).toEqual([]);
    await dest.close();
    // no commit: index.json unchanged
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).manifests).toHaveLength(1);
  });

  test('copies a multi-platform index (children by digest)', async () => {
    const src = tempDir();
    const { amd, arm, idx } = await layout(src);
    const out = tempDir();
    const s = await ociTransport.parseReference(`${src}:multi`).newSource();
    const d = await ociTransport.parseReference(`${out}:m`).newDestination();
    for (const x of [amd, arm]) {
      const m = JSON.parse(x.m.toString());
      for (const b of [m.config, ...m.layers]) await d.putBlob(b, await s.getBlob(b));
      await d.putManifest(x.m, OCI_MANIFEST, x.d.digest);
    }
    await d.putManifest(idx, OCI_INDEX);
    await d.commit();
    await d.close();
    const back = await ociTransport.parseReference(`${out}:m`).newSource();
    expect(Buffer.from((await back.getManifest()).bytes)).toEqual(idx);
    expect(Buffer.from((await back.getManifest(arm.d.digest)).bytes)).toEqual(arm.m);
  });
});

describe('oci-archive:', () => {
  test('written as a tar, read back, updated in place keeping every other entry', async () => {
    const src = tempDir();
    const { idx } = await layout(src);
    const file = join(tempDir(), 'img.tar');
    await simpleCopy(await ociTransport.parseReference(`${src}:single`).newSource(), await ociArchiveTransport.parseReference(`${file}:v1`).newDestination());
    const t1 = await TarIndex.open(file);
    expect(t1.entries.map((e) => e.name)).toContain('oci-layout');
    const r = await simpleCopy(await ociArchiveTransport.parseReference(`${file}:v1`).newSource(), await ociArchiveTransport.parseReference(`${file}:v1`).newDestination(), fakeSign);
    const t2 = await TarIndex.open(file);
    for (const e of t1.entries) if (e.name !== 'index.json') expect(t2.has(e.name)).toBe(true);
    expect(t2.has(`blobs/sha256/${r.config.digest.slice(7)}`)).toBe(true);
    const back = await ociArchiveTransport.parseReference(`${file}:v1`).newSource();
    expect(Buffer.from((await back.getManifest()).bytes)).toEqual(r.manifest);
    expect(readdirSync(join(file, '..')).filter((f) => f.includes('.dsv-'))).toEqual([]);
    void idx;
  });
});
