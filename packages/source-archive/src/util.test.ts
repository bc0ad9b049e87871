import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core/formats';
import { ensureDirectory } from './util.js';

describe('ensureDirectory', () => {
  it('creates missing parents and accepts an existing directory', async () => {
    const base = mkdtempSync(join(tmpdir(), 'dsv-ensure-'));
    const deep = join(base, 'a', 'b', 'c');
    await ensureDirectory(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    await ensureDirectory(deep);
  });

  it('fails (rather than never settling, as recursive mkdir does) where a directory cannot be made', async () => {
    const err = await ensureDirectory('/proc/dsv-no-such-dir/x').catch((e) => e);
    expect(isDsvError(err)).toBe(true);
    expect(err.message).toContain('/proc/dsv-no-such-dir');
  });

  it('refuses a path through a regular file', async () => {
    const base = mkdtempSync(join(tmpdir(), 'dsv-ensure-'));
    writeFileSync(join(base, 'file'), 'x');
    const err = await ensureDirectory(join(base, 'file', 'sub')).catch((e) => e);
    expect(isDsvError(err)).toBe(true);
    expect(err.message).toContain(join(base, 'file', 'sub'));
  });
});
