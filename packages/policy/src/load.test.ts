import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPolicyFile } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-policy-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadPolicyFile', () => {
  it('reads and parses a file and returns its directory for relative key paths', async () => {
    writeFileSync(join(dir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
    const { policy, baseDir } = await loadPolicyFile(join(dir, 'policy.json'));
    expect(policy.default).toEqual([{ type: 'insecureAcceptAnything' }]);
    expect(baseDir).toBe(dir);
  });

  it('a missing, non-UTF-8 or invalid file is a PolicyInvalid usage error naming the file', async () => {
    await expect(loadPolicyFile(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'Usage', details: { reason: 'PolicyInvalid' }, message: expect.stringContaining('none.json cannot be read (ENOENT)') });
    writeFileSync(join(dir, 'latin1.json'), Buffer.from([0x7b, 0xff, 0x7d]));
    await expect(loadPolicyFile(join(dir, 'latin1.json'))).rejects.toThrow(/latin1\.json is not UTF-8/);
    writeFileSync(join(dir, 'bad.json'), '{"default":[{"type":"accept"}]}');
    await expect(loadPolicyFile(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: default\[0\]\.type "accept" is not a known requirement/);
  });
});
