// The detached-sign row: `dsv sign --format simple` of the 8-layer registry image (every blob read once,
// digests and diff_ids checked, then one simple signature written to a lookaside store) alternated with
// `dsv verify` of the same image under a signedBy policy (the same reads plus one signature check), and
// `skopeo copy --sign-by` to a new tag beside them for reference. Target: sign ≤ 1.2 × verify.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function detachedSignRow({ alternate, node, dsvBin, src, ref, fpr, pub, gpgEnv, flags, bytes }) {
  const dir = mkdtempSync(join(tmpdir(), 'dsv-bench-detached-'));
  try {
    const regdFor = (name) => {
      const regd = join(dir, `${name}-registries.d`);
      mkdirSync(regd);
      const store = pathToFileURL(join(dir, `${name}-lookaside`)).href;
      writeFileSync(join(regd, 'bench.yaml'), `default-docker:\n  lookaside: ${store}\n  lookaside-staging: ${store}\n`);
      return regd;
    };
    // dsv's store and skopeo's apart: the verify side judges the signatures dsv made.
    const regd = regdFor('dsv');
    const skopeoRegd = regdFor('skopeo');
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: pub }] }));
    const image = `docker://${src.host}/${ref}`;
    const repo = ref.split(':')[0];
    // One signature before the first verify.
    execFileSync(node, [dsvBin, 'sign', '--format', 'simple', '--key', fpr, '--registries.d', regd, image], { env: { ...process.env, ...gpgEnv }, stdio: 'ignore' });
    const row = await alternate('sign --format simple (8 layers), against dsv verify --policy of it',
      { cmd: node, env: gpgEnv, args: () => [dsvBin, 'sign', '--format', 'simple', '--key', fpr, '--registries.d', regd, image] },
      { cmd: node, env: gpgEnv, args: () => [dsvBin, 'verify', '--policy', policy, '--registries.d', regd, image] },
      undefined,
      { cmd: 'skopeo', env: gpgEnv, args: (i) => ['--registries.d', skopeoRegd, 'copy', ...flags, '--sign-by', fpr, `docker://${src.host}/${ref}`, `docker://${src.host}/${repo}:skopeo-detached-${i}`] });
    return {
      ...row,
      bytes,
      peerName: 'dsv verify',
      refName: 'skopeo copy --sign-by to a new tag (simple signing, lookaside), for reference',
      note: 'sign --format simple: the peer column is dsv verify --policy (signedBy) of the same image in the same alternation; the image is not changed (target: ratio ≤ 1.2)',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
