import { afterAll, beforeAll, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, importImage, type Dockerd } from '../helpers/dockerd.js';
import { removeTempDirs } from '../helpers/proc.js';

let d: Dockerd;
beforeAll(async () => { d = await startDockerd(); });
afterAll(async () => { await d?.stop(); removeTempDirs(); });

test('the harness runs a private dockerd the real docker CLI can use', () => {
  const id = importImage(d, 'dsv-harness:1', { 'hello.txt': 'hello\n' });
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain('dsv-harness:1');
  expect(existsSync(join(d.dataRoot, 'image', 'overlay2', 'repositories.json'))).toBe(true);
});
