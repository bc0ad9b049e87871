// Decompression bombs: every command that inflates layers stops at the layer cap (--max-layer-size,
// --max-layer-ratio, DSV_MAX_LAYER_SIZE), exit 3 naming the layer, nothing written; the BUILT dsv and dsv-copy
// on an OCI layout whose 1.6 KiB gzip layer inflates to 2 MiB.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';

let work: string;
const cli = (app: string, bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  runNodeScript(launcher(bin, app), args, { env: { PATH: process.env.PATH, HOME: work, ...env }, cwd: work });

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-layer-limits-');
  writeOciLayout(join(work, 'bomb'), { image: await buildSampleImage({ format: 'oci', layers: [{ 'zeros.bin': '\0'.repeat(2 * 1024 * 1024) }] }), tag: 'v1' });
}, 120_000);

afterAll(() => removeTempDirs());

describe('layer inflation caps', () => {
  it('the default caps let an ordinary layer through', async () => {
    const r = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', `oci:${join(work, 'bomb')}:v1`]);
    expect(r.code, r.all).toBe(0);
  });

  it('dsv verify --max-layer-size stops the layer at the cap: exit 3, one line naming the layer', async () => {
    const r = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', '--max-layer-size', '1MiB', `oci:${join(work, 'bomb')}:v1`]);
    expect(r.code, r.all).toBe(3);
    expect(r.stderr).toMatch(/layer sha256:[0-9a-f]{64}: decompressed content is larger than the limit of 1048576 bytes/);
  });

  it('DSV_MAX_LAYER_SIZE does the same; a bad value is a usage error (exit 2)', async () => {
    const r = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', `oci:${join(work, 'bomb')}:v1`], { DSV_MAX_LAYER_SIZE: '1MiB' });
    expect(r.code, r.all).toBe(3);
    const bad = await cli('cli', 'dsv', ['verify', '--max-layer-ratio', 'lots', `oci:${join(work, 'bomb')}:v1`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --max-layer-ratio "lots"/);
  });

  it('dsv-copy --verify stops at the cap and leaves no destination', async () => {
    const dest = join(work, 'copied');
    const r = await cli('copy', 'dsv-copy', ['--verify', '--max-layer-size', '1MiB', `oci:${join(work, 'bomb')}:v1`, `oci:${dest}:v1`]);
    expect(r.code, r.all).toBe(3);
    expect(existsSync(join(dest, 'index.json'))).toBe(false);
  });
});
