// The bundle file's pieces without servers: destination naming, trust file types, the simple signature
// layout, and the tar reader's refusals (an entry outside the bundle, a link, a name twice); the whole
// commands are tested against real servers in e2e/fleet/bundle.test.ts.
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { extractTar, simpleSignatureDir, writeTar } from './format.js';
import { pushDestination } from './push.js';
import { trustType } from './create.js';

const dirs: string[] = [];
async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dsv-bundle-unit-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tarOf(path: string, entries: { name: string; type?: 'file' | 'symlink'; body?: string; linkname?: string }[]): Promise<void> {
  const p = pack();
  const done = pipeline(p, createWriteStream(path));
  for (const e of entries) {
    if (e.type === 'symlink') p.entry({ name: e.name, type: 'symlink', linkname: e.linkname ?? '/etc/passwd' });
    else p.entry({ name: e.name }, e.body ?? 'x');
  }
  p.finalize();
  await done;
}

describe('bundle naming', () => {
  it('push: DEST/REPO:TAG, the registry host dropped; a digest reference keeps its digest', () => {
    expect(pushDestination('docker://mirror.example/prod', 'registry.example:5000/team/app:1.0')).toBe('docker://mirror.example/prod/team/app:1.0');
    expect(pushDestination('docker://mirror.example/', 'docker.io/library/alpine:3')).toBe('docker://mirror.example/library/alpine:3');
    const d = `sha256:${'a'.repeat(64)}`;
    expect(pushDestination('docker://m.example', `registry.example/app@${d}`)).toBe(`docker://m.example/app@${d}`);
  });

  it('trust files: the TYPE: prefix wins, else what the file holds', () => {
    const pem = (label: string) => new TextEncoder().encode(`-----BEGIN ${label}-----\nAA==\n-----END ${label}-----\n`);
    expect(trustType('cosign:k.pub')).toEqual({ type: 'cosign', path: 'k.pub' });
    expect(trustType('k.asc', pem('PGP PUBLIC KEY BLOCK')).type).toBe('gpg');
    expect(trustType('ca.pem', pem('CERTIFICATE')).type).toBe('pki');
    expect(trustType('cosign.pub', pem('PUBLIC KEY')).type).toBe('cosign');
  });

  it('simple signatures sit as in a lookaside store, per registry and repository', () => {
    const d = `sha256:${'b'.repeat(64)}`;
    expect(simpleSignatureDir('registry.example:5000/team/app:1.0', d)).toBe(`dsv-bundle/signatures/simple/registry.example:5000/team/app@sha256=${'b'.repeat(64)}`);
    expect(simpleSignatureDir(`registry.example/app@${d}`, d)).toBe(`dsv-bundle/signatures/simple/registry.example/app@sha256=${'b'.repeat(64)}`);
  });
});

describe('bundle tar', () => {
  it('writes every file of a directory and reads it back; nothing left at FILE when the directory cannot be read', async () => {
    const src = await temp();
    await mkdir(join(src, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(src, 'index.json'), '{}');
    await writeFile(join(src, 'blobs', 'sha256', 'x'), 'blob');
    const out = join(await temp(), 'b.tar');
    expect(await writeTar(src, out, ['index.json'])).toBe(2);
    const back = await temp();
    await extractTar(out, back);
    expect(await readFile(join(back, 'blobs', 'sha256', 'x'), 'utf8')).toBe('blob');
    await expect(writeTar(join(src, 'missing'), join(back, 'c.tar'))).rejects.toThrow();
    await expect(readFile(join(back, 'c.tar'))).rejects.toThrow();
  });

  it('refuses an entry outside the bundle, a link, and a name given twice', async () => {
    const dir = await temp();
    const cases: [string, Parameters<typeof tarOf>[1], RegExp][] = [
      ['escape.tar', [{ name: '../../evil' }], /points outside the bundle/],
      ['link.tar', [{ name: 'index.json', type: 'symlink' }], /is a symlink; a bundle holds regular files only/],
      ['twice.tar', [{ name: 'a' }, { name: 'a' }], /appears twice/],
    ];
    for (const [name, entries, message] of cases) {
      await tarOf(join(dir, name), entries);
      const into = await temp();
      await expect(extractTar(join(dir, name), into)).rejects.toMatchObject({ code: 'ArchiveInvalid', message });
    }
    await expect(extractTar(join(dir, 'none.tar'), await temp())).rejects.toMatchObject({ code: 'NotFound' });
  });
});
