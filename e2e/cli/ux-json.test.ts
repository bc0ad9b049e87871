// Every --json report of the shipped bins validated against its JSON Schema in schemas/ (ajv, draft
// 2020-12), on real OCI layouts and a real GnuPG home; and the safer signing targets: `dsv sign SRC`
// without DEST says which tag moved from which digest to which (text and JSON), `dsv sign REPO@digest`
// without DEST is refused up front.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, runNodeScript, tempDir, type Ran } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { expectValidReport, reportSchemas } from '../helpers/schemas.js';
import { launcher } from '../helpers/cli.js';

const PASS = 'ux-json-passphrase';

let work: string;
let gpg: GpgHome;
let env: NodeJS.ProcessEnv;
let a: string;

function bin(name: 'dsv' | 'dsv-copy', args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env: { ...env, ...extra }, cwd: work });
}

const valid = expectValidReport;

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-ux-json-');
  gpg = makeGpgHome({ withKey: { name: 'UX JSON', email: 'ux-json@dsv.invalid', passphrase: PASS } });
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: gpg.home, DSV_KEYPASS: PASS };
  const image = await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello\n' }, { 'app/run.sh': '#!/bin/sh\necho ux\n' }] });
  a = writeOciLayout(join(work, 'a'), { image, tag: '1' });
}, 300_000);

afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

describe('--json reports match the schemas in schemas/', () => {
  it('has a schema for each report', () => {
    expect([...reportSchemas().keys()].sort()).toEqual([
      'all-tags', 'bundle-create', 'bundle-push', 'bundle-verify', 'copy', 'dct-verify', 'detached-sign', 'generate-key-pair', 'inspect',
      'list-tags', 'plugins', 'policy-verify', 'sign', 'signatures', 'sync', 'trust-inspect', 'trust-migrate', 'verify', 'verify-same',
    ]);
  });

  it('sign, verify (ok, not trusted, failed before any result), inspect, copy, verify-same', async () => {
    const s = await bin('dsv', ['sign', '--json', '-k', gpg.fingerprint, `oci:${a}:1`, `oci:${a}:signed`]);
    expect(s.code, s.all).toBe(0);
    expect(valid('sign', s.stdout)).toMatchObject({ command: 'sign', ok: true, error: null });

    const v = await bin('dsv', ['verify', '--json', `oci:${a}:signed`]);
    expect(v.code, v.all).toBe(0);
    expect(valid('verify', v.stdout)).toMatchObject({ ok: true, exitCode: 0 });
    const unsigned = await bin('dsv', ['verify', '--json', `oci:${a}:1`]);
    expect(unsigned.code).toBe(1);
    expect(valid('verify', unsigned.stdout)).toMatchObject({ ok: false, exitCode: 1 });
    const missing = await bin('dsv', ['verify', '--json', `oci:${join(work, 'absent')}:1`]);
    expect(missing.code).toBeGreaterThan(1);
    expect(valid('verify', missing.stdout)).toMatchObject({ ok: false });

    const i = await bin('dsv', ['inspect', '--json', `oci:${a}:signed`]);
    expect(i.code, i.all).toBe(0);
    valid('inspect', i.stdout);

    const c = await bin('dsv-copy', ['--json', `oci:${a}:signed`, `oci:${join(work, 'b')}:copied`]);
    expect(c.code, c.all).toBe(0);
    expect(valid('copy', c.stdout)).toMatchObject({ ok: true, sameDigest: true });
    const dc = await bin('dsv', ['copy', '--json', `oci:${a}:signed`, `oci:${join(work, 'c')}:copied`]);
    expect(dc.code, dc.all).toBe(0);
    valid('copy', dc.stdout);

    const same = await bin('dsv-copy', ['verify-same', '--json', `oci:${a}:signed`, `oci:${join(work, 'b')}:copied`]);
    expect(same.code, same.all).toBe(0);
    expect(valid('verify-same', same.stdout)).toMatchObject({ ok: true });
  });
});

describe('safer signing targets', () => {
  it('dsv sign SRC (no DEST) says which tag moved from which digest to which, in text and JSON', async () => {
    const before = JSON.parse(readFileSync(join(a, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const old = before.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'signed')!.digest;
    const t = await bin('dsv', ['sign', '-s', 'endorse', '-k', gpg.fingerprint, `oci:${a}:signed`]);
    expect(t.code, t.all).toBe(0);
    const m = /^Tag moved: (\S+) (sha256:[0-9a-f]{64}) -> (sha256:[0-9a-f]{64})$/m.exec(t.stdout);
    expect(m, t.stdout).not.toBeNull();
    expect(m![1]).toBe(`oci:${a}:signed`);
    expect(m![2]).toBe(old);
    expect(m![3]).not.toBe(old);
    const q = await bin('dsv', ['-q', 'sign', '--dry-run', '-s', 'endorse', '-k', gpg.fingerprint, `oci:${a}:signed`]);
    expect(q.stdout).toMatch(/^Tag would move: /m);

    const j = await bin('dsv', ['sign', '--json', '-s', 'endorse', '-k', gpg.fingerprint, `oci:${a}:signed`]);
    expect(j.code, j.all).toBe(0);
    const report = valid('sign', j.stdout);
    expect(report.tagMoved).toEqual({ tag: `oci:${a}:signed`, from: m![3], to: report.destinationDigest, dryRun: false });
    // With a DEST there is no tag move to report.
    const withDest = await bin('dsv', ['sign', '--json', '-k', gpg.fingerprint, `oci:${a}:1`, `oci:${a}:other`]);
    expect(valid('sign', withDest.stdout).tagMoved).toBeUndefined();
  });

  it('dsv sign REPO@sha256:… without DEST is refused up front: exit 2, one line, nothing read (the registry port is closed)', async () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const r = await bin('dsv', ['sign', '-k', gpg.fingerprint, `docker://127.0.0.1:9/app@${digest}`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`dsv: error: "docker://127.0.0.1:9/app@${digest}" names a digest, which cannot be re-pointed to the signed image: give a DEST to store it as (dsv sign SRC DEST)\n`);
  });
});
