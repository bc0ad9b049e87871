// Unit-test setup: each test file gets its own TMPDIR, removed when the file's tests end, so helpers that
// make temp directories (archives, stores, configs) leave nothing behind in the machine's temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const previous = process.env.TMPDIR;
const dir = mkdtempSync(join(tmpdir(), 'dsv-unit-'));
process.env.TMPDIR = dir;

afterAll(() => {
  if (previous === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previous;
  rmSync(dir, { recursive: true, force: true });
});
