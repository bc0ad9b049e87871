import { describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core/formats';
import { formatSignText, formatVerifyText, verifyFailureLines, verifyReportJson, signReportJson } from './report.js';
import { Output, secretsInArgs } from './io.js';
import { renderProgress } from './progress.js';
import { captureIo } from './__tests__/capture.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

function layer(index: number, ok = true) {
  return {
    index,
    descriptor: { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D(String(index + 1)), size: 100 + index },
    compression: 'gzip',
    expectedDiffId: D('a'),
    actualDigest: D(String(index + 1)),
    actualSize: 100 + index,
    actualDiffId: ok ? D('a') : D('b'),
    digestOk: true,
    sizeOk: true,
    diffIdOk: ok,
  };
}

function result(opts: { ok: boolean; layersOk?: boolean; signatures?: unknown[]; failures?: string[] }) {
  const failures = opts.failures ?? [];
  return {
    reference: 'docker://127.0.0.1:5000/demo:1',
    digest: D('c'),
    kind: 'manifest',
    ok: opts.ok,
    failures,
    images: [
      {
        manifestDigest: D('c'),
        configDigest: D('d'),
        integrity: { manifestDigest: D('c'), mediaType: 'x', configDigest: D('d'), configOk: true, layers: [layer(0), layer(1, opts.layersOk ?? true)], ok: opts.layersOk ?? true },
        signatures: opts.signatures ?? [],
        ok: opts.ok,
        failures,
      },
    ],
  } as never;
}

const goodSig = {
  index: 0, role: 'signature', digest: D('e'), type: 'gpg', keyId: '9DD1BB948581B0AD', fingerprint: 'F'.repeat(40),
  signer: 'Richard Davis <crashvb>', createdAt: '2019-02-06T22:39:57.000Z', valid: true, trusted: true, status: 'valid',
};

describe('verification report', () => {
  it('prints the seed-style log for a good image', () => {
    const text = formatVerifyText(result({ ok: true, signatures: [goodSig] }), { debug: true });
    expect(text).toContain('Verifying Integrity: docker://127.0.0.1:5000/demo:1 ...');
    expect(text).toContain(`config digest: ${D('d')}`);
    expect(text).toContain('manifest layers:');
    expect(text).toContain('Integrity check passed.');
    expect(text).toContain('signature 0 (gpg) made 2019-02-06 22:39:57 UTC using key ID 9DD1BB948581B0AD: valid, trusted');
    expect(text).toContain('Richard Davis <crashvb>');
    expect(text).toContain('Signature check passed.');
  });

  it('gives one line per failure, naming where', () => {
    const r = result({
      ok: false,
      layersOk: false,
      signatures: [{ ...goodSig, valid: false, trusted: false, status: 'unknown-key', reason: 'key not trusted' }],
      failures: [`layer 1 ${D('2')}: diff_id mismatch`, 'signature 0 by key 9DD1BB948581B0AD: unknown key'],
    });
    const text = formatVerifyText(r);
    expect(text).toContain('Integrity check FAILED.');
    expect(text).toContain(`layer 1 ${D('2')}: FAILED (diff_id ${D('b')} is not ${D('a')})`);
    expect(text).toContain('unknown key');
    expect(verifyFailureLines(r)).toEqual([
      `docker://127.0.0.1:5000/demo:1: layer 1 ${D('2')}: diff_id mismatch`,
      'docker://127.0.0.1:5000/demo:1: signature 0 by key 9DD1BB948581B0AD: unknown key',
    ]);
  });

  it('has a JSON form with digests, per-layer and per-signature results and the verdict', () => {
    const j = verifyReportJson(
      [
        { input: 'demo:1', result: result({ ok: true, signatures: [goodSig] }) },
        { input: 'bad ref', error: new DsvError('ReferenceInvalid', 'invalid reference "bad ref"') },
      ],
      2,
    );
    expect(j.ok).toBe(false);
    expect(j.exitCode).toBe(2);
    const first = j.results[0] as any;
    expect(first).toMatchObject({ input: 'demo:1', digest: D('c'), ok: true });
    expect(first.images[0].integrity.layers[1]).toMatchObject({ index: 1, digest: D('2'), diffIdOk: true, ok: true });
    expect(first.images[0].signatures[0]).toEqual({
      index: 0, role: 'signature', digest: D('e'), type: 'gpg', keyId: '9DD1BB948581B0AD', fingerprint: 'F'.repeat(40),
      signer: 'Richard Davis <crashvb>', createdAt: '2019-02-06T22:39:57.000Z', status: 'valid', valid: true, trusted: true, reason: null,
    });
    expect(j.results[1]).toMatchObject({ input: 'bad ref', ok: false, error: { code: 'ReferenceInvalid', exitCode: 2 } });
    JSON.stringify(j);
  });
});

describe('sign report', () => {
  const copy = {
    sourceDigest: D('1'), destinationDigest: D('2'), kind: 'manifest', dryRun: false,
    images: [{ sourceManifestDigest: D('1'), manifestDigest: D('2'), sourceConfigDigest: D('3'), configDigest: D('4'), signature: { digest: D('5'), signature: '-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n' }, blobsCopied: 1, blobsSkipped: 2, bytesCopied: 3 }],
  };
  const summary = { source: 'docker://h/a:1', destination: 'docker://h/a:2', key: { type: 'gpg', keyId: 'ABCD' }, kind: 'sign', result: copy } as never;

  it('names the digests and the new image; the signature only with --debug', () => {
    const text = formatSignText(summary);
    expect(text).toContain(`config digest (source): ${D('3')}`);
    expect(text).toContain(`config digest (signed): ${D('4')}`);
    expect(text).toContain(`Created new image: docker://h/a:2 (${D('2')})`);
    expect(text).not.toContain('BEGIN PGP');
    expect(formatSignText(summary, { debug: true })).toContain('BEGIN PGP');
  });

  it('says nothing was written on a dry run', () => {
    const text = formatSignText({ ...(summary as object), result: { ...copy, dryRun: true } } as never);
    expect(text).toContain('Dry run completed');
    expect(text).toContain('BEGIN PGP');
  });

  it('has a JSON form', () => {
    expect(signReportJson(summary, { source: 'a', destination: 'b' })).toMatchObject({ ok: true, destinationDigest: D('2'), images: [{ configDigest: D('4') }] });
    expect(signReportJson(undefined, { source: 'a', destination: 'b' }, new DsvError('PassphraseInvalid', 'wrong passphrase for key X'))).toMatchObject({
      ok: false, error: { code: 'PassphraseInvalid', exitCode: 2 },
    });
  });
});

describe('output', () => {
  it('scrubs secrets from everything written and keeps errors to one line', () => {
    const io = captureIo();
    const out = new Output(io, 'docker-sign');
    out.addSecret('s3cret-pass');
    out.out('a s3cret-pass b\n');
    out.error(new Error('bad\nthing s3cret-pass'));
    expect(io.outText()).toBe('a *** b\n');
    expect(io.errText()).toBe('docker-sign: error: bad thing ***\n');
  });

  it('finds -p / --keypass values in raw arguments', () => {
    expect(secretsInArgs(['-p', 'one', '--keypass=two', '-pthree', '--keypass', 'four', '-v'])).toEqual(['one', 'two', 'three', 'four']);
  });

  it('renders a progress line', () => {
    const a = `sha256:${'a'.repeat(64)}`;
    const b = `sha256:${'b'.repeat(64)}`;
    const m = new Map([
      ['read:a', { id: a, done: 512, total: 1024, phase: 'read' as const }],
      ['read:b', { id: b, done: 1024, total: 1024, phase: 'read' as const }],
    ]);
    expect(renderProgress(m, 4)).toBe('reading [###-] 1.5 KiB / 2.0 KiB (1/2 blobs)');
  });
});

describe('progress bar', () => {
  it('draws on a terminal and clears itself; none when disabled or --progress none', async () => {
    const { createProgress } = await import('./progress.js');
    const { PassThrough } = await import('node:stream');
    const pipe = Object.assign(new PassThrough(), { isTTY: false });
    expect(createProgress(pipe, true, { mode: 'none' }).onProgress).toBeUndefined();
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    let text = '';
    tty.on('data', (b: Buffer) => (text += b.toString()));
    const p = createProgress(tty);
    p.onProgress!({ id: `sha256:${'a'.repeat(64)}`, done: 10, total: 10, phase: 'verify' });
    p.clear();
    expect(text).toContain('verifying [');
    expect(text.endsWith('\r\x1b[K')).toBe(true);
    expect(createProgress(tty, false).onProgress).toBeUndefined();
  });
});
