// Layers inflated in the worker thread (a verify streaming a layer of 128 MiB or more,
// packages/core/src/inflate-pool.ts): the BUILT dsv verify on an OCI layout with one 136 MiB gzip layer starts a worker,
// passes the whole layer, and reports a corrupt one and one over the layer cap as the main thread does (the same exit
// codes and lines); dsv-copy --verify keeps inflating on the main thread.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';

let work: string;
let probe: string;
const cli = (app: string, bin: string, args: string[]): Promise<Ran> =>
  runNodeScript(launcher(bin, app), args, { env: { PATH: process.env.PATH, HOME: work, NODE_OPTIONS: `--require ${probe}` }, cwd: work });

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An OCI layout (tag v1) with the one gzip layer `blob` and `content` as its diff_id's content. */
function layout(dir: string, blob: Buffer, content: Buffer): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const h = sha(b);
    writeFileSync(join(dir, 'blobs', 'sha256', h), b);
    return { digest: `sha256:${h}`, size: b.length };
  };
  const layer = put(blob);
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha(content)}`] } })));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
}

beforeAll(() => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-inflate-worker-');
  probe = join(work, 'probe.cjs');
  writeFileSync(probe, "process.on('worker', () => process.stderr.write('worker thread started\\n'));\n");
  const content = randomBytes(136 * 1024 * 1024);
  const gz = gzipSync(content, { level: 1 });
  layout(join(work, 'good'), gz, content);
  // Deflate data changed in the middle (the blob's digest is the changed bytes'): the inflater or the diff_id fails.
  const bad = Buffer.from(gz);
  bad.fill(0x55, bad.length >> 1, (bad.length >> 1) + 4096);
  layout(join(work, 'corrupt'), bad, content);
}, 180_000);

afterAll(() => removeTempDirs());

describe('layers inflated in a worker thread', () => {
  it('dsv verify passes a whole layer, in a worker', async () => {
    const r = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', `oci:${join(work, 'good')}:v1`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stderr).toMatch(/worker thread started/);
  });

  it('dsv verify reports a corrupt layer (exit 1) and a layer over the cap (exit 3), naming the layer', async () => {
    const bad = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', `oci:${join(work, 'corrupt')}:v1`]);
    expect(bad.code, bad.all).toBe(1);
    expect(bad.stderr).toMatch(/worker thread started/);
    expect(bad.stderr).toMatch(/layer 0 sha256:[0-9a-f]{64}: (cannot decompress: .*gzip data is corrupt|diff_id mismatch)/);
    const big = await cli('cli', 'dsv', ['--no-check-signatures', 'verify', '--max-layer-size', '64MiB', `oci:${join(work, 'good')}:v1`]);
    expect(big.code, big.all).toBe(3);
    expect(big.stderr).toMatch(/layer sha256:[0-9a-f]{64}: decompressed content is larger than the limit of 67108864 bytes/);
  });

  it('dsv-copy --verify inflates on the main thread (bench/NOTES.md §25), and stops at the cap leaving no destination', async () => {
    const ok = await cli('copy', 'dsv-copy', ['--verify', `oci:${join(work, 'good')}:v1`, `oci:${join(work, 'copied')}:v1`]);
    expect(ok.code, ok.all).toBe(0);
    expect(ok.stderr).not.toMatch(/worker thread started/);
    const dest = join(work, 'capped');
    const r = await cli('copy', 'dsv-copy', ['--verify', '--max-layer-size', '64MiB', `oci:${join(work, 'good')}:v1`, `oci:${dest}:v1`]);
    expect(r.code, r.all).toBe(3);
    expect(existsSync(join(dest, 'index.json'))).toBe(false);
  });
});
