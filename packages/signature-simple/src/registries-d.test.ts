import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRegistriesD, lookasideBase, parseRegistriesDFile, useSigstoreAttachments } from './registries-d.js';

const root = mkdtempSync(join(tmpdir(), 'dsv-regd-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string, files: Record<string, string>): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
}

describe('registries.d', () => {
  const d = dir('main', {
    'default.yaml': 'default-docker:\n  sigstore-staging: file:///var/lib/containers/sigstore\n  lookaside: https://sigs.example.net/default\n',
    'example.yaml': [
      'docker:',
      '  example.com:',
      '    lookaside: https://sigs.example.com/all',
      '    use-sigstore-attachments: true',
      '  example.com/team:',
      '    lookaside: https://sigs.example.com/team',
      '    lookaside-staging: file:///srv/staging/team',
      '  example.com/team/app:',
      '    use-sigstore-attachments: false',
      '  "*.corp.example":',
      '    sigstore: https://wild.corp.example/sigs',
      '  example.com/team/app:v1:',
      '    lookaside: https://sigs.example.com/pinned',
    ].join('\n'),
    'ignored.yml': 'default-docker: [not, read]\n',
  });

  it('reads every *.yaml file of the first existing directory', async () => {
    const c = await loadRegistriesD([join(root, 'missing'), d, join(root, 'other')]);
    expect(c.dir).toBe(d);
    expect(c.defaultDocker).toEqual({ lookaside: 'https://sigs.example.net/default', lookasideStaging: 'file:///var/lib/containers/sigstore' });
    expect([...c.docker.keys()].sort()).toEqual(['*.corp.example', 'example.com', 'example.com/team', 'example.com/team/app', 'example.com/team/app:v1']);
  });

  it('picks the most specific scope that names a URL, then default-docker; staging first for writing', async () => {
    const c = await loadRegistriesD([d]);
    expect(lookasideBase(c, 'example.com/team/app:v2', false)).toBe('https://sigs.example.com/team');
    expect(lookasideBase(c, 'example.com/team/app:v2', true)).toBe('file:///srv/staging/team');
    expect(lookasideBase(c, 'example.com/team/app:v1', false)).toBe('https://sigs.example.com/pinned');
    expect(lookasideBase(c, 'example.com/teamx/app:v1', false)).toBe('https://sigs.example.com/all');
    expect(lookasideBase(c, 'example.com/teamx/app:v1', true)).toBe('https://sigs.example.com/all');
    expect(lookasideBase(c, 'reg.corp.example:5000/x/y:1', false)).toBe('https://wild.corp.example/sigs');
    expect(lookasideBase(c, 'busybox', false)).toBe('https://sigs.example.net/default');
    expect(lookasideBase(c, 'busybox', true)).toBe('file:///var/lib/containers/sigstore');
    expect(useSigstoreAttachments(c, 'example.com/team/app:v2')).toBe(false);
    expect(useSigstoreAttachments(c, 'example.com/other:1')).toBe(true);
    expect(useSigstoreAttachments(c, 'busybox')).toBe(false);
  });

  it('no directory: nothing configured', async () => {
    const c = await loadRegistriesD([join(root, 'none')]);
    expect(c.dir).toBeUndefined();
    expect(lookasideBase(c, 'busybox', false)).toBeUndefined();
  });

  it('a scope or default-docker set in two files is an error naming both', async () => {
    const twice = dir('twice', { 'a.yaml': 'docker:\n  example.com:\n    lookaside: file:///a\n', 'b.yaml': 'docker:\n  example.com:\n    lookaside: file:///b\n' });
    await expect(loadRegistriesD([twice])).rejects.toThrow(/example\.com.*also set in .*a\.yaml/);
    const dd = dir('dd', { 'a.yaml': 'default-docker:\n  lookaside: file:///a\n', 'b.yaml': 'default-docker:\n  lookaside: file:///b\n' });
    await expect(loadRegistriesD([dd])).rejects.toThrow(/default-docker is also set/);
  });

  it.each([
    ['duplicate keys', 'docker:\n  a.com:\n    lookaside: file:///a\n  a.com:\n    lookaside: file:///b\n'],
    ['bad YAML', 'docker: [\n'],
    ['a URL that is not one', 'default-docker:\n  lookaside: not a url\n'],
    ['an unsupported scheme', 'default-docker:\n  lookaside: ftp://x/y\n'],
    ['a non-boolean use-sigstore-attachments', 'default-docker:\n  use-sigstore-attachments: "yes"\n'],
    ['docker as a list', 'docker:\n  - a\n'],
  ])('rejects %s', (_why, text) => {
    expect(() => parseRegistriesDFile(text, 'x.yaml')).toThrow(expect.objectContaining({ code: 'Usage', details: expect.objectContaining({ reason: 'RegistriesDInvalid' }) }));
  });

  it('ignores unknown keys and empty documents', () => {
    expect(parseRegistriesDFile('# only comments\n', 'x.yaml').docker.size).toBe(0);
    expect(parseRegistriesDFile('default-docker:\n  future-key: 1\n  lookaside: file:///x\n', 'x.yaml').defaultDocker).toEqual({ lookaside: 'file:///x' });
  });
});
