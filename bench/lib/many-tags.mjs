// The sync row's repository: 200 small distinct images (one 32 KiB layer each) as ONE OCI layout with 200
// tags (t000…t199), generated once and cached in bench/.work; pushed into the source registry with dsv sync.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateImage } from './gen-image.mjs';

export const MANY_TAGS = 200;

/** An OCI layout at `dir` (its basename is the repository name dsv sync gives it) with `count` (MANY_TAGS) tagged images. */
export async function generateManyTags(dir, parts, count = MANY_TAGS) {
  const done = join(dir, '.complete');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests = [];
  for (let i = 0; i < count; i++) {
    const tag = `t${String(i).padStart(3, '0')}`;
    const one = await generateImage(join(parts, tag), `many-${tag}`, [{ size: 32 * 1024, compressible: i % 2 === 0 }], { tag });
    cpSync(join(one.dir, 'blobs', 'sha256'), join(dir, 'blobs', 'sha256'), { recursive: true });
    const index = JSON.parse(readFileSync(join(one.dir, 'index.json'), 'utf8'));
    manifests.push(...index.manifests);
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  const info = { dir, tags: count };
  writeFileSync(done, JSON.stringify(info));
  return info;
}
