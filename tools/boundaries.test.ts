import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

test('no package crosses its nx boundary', () => {
  const script = fileURLToPath(new URL('./check-boundaries.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
  expect(out).toMatch(/no violations/);
});
