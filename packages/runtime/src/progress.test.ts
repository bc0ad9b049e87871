import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '@dsv/core/transport';
import { createProgress, parseProgressMode, ProgressTracker, resolveProgressMode } from './progress.js';

const MiB = 1024 * 1024;
const d = (c: string) => `sha256:${c.repeat(64)}`;
const ev = (id: string, done: number, total: number | undefined, phase: ProgressEvent['phase']): ProgressEvent => ({ id, done, ...(total !== undefined ? { total } : {}), phase });

describe('progress that tells the truth', () => {
  it('counts each blob once with its size, whatever passes it goes through (verify, then write)', () => {
    const t = new ProgressTracker(() => 0);
    // announced up front: the total is known before anything moves
    for (const [id, size] of [[d('a'), 100 * MiB], [d('b'), 100 * MiB]] as const) t.update(ev(id, 0, size, 'verify'));
    expect(t.total).toBe(200 * MiB);
    t.update(ev(d('a'), 100 * MiB, 100 * MiB, 'verify'));
    t.update(ev(d('b'), 100 * MiB, 100 * MiB, 'verify'));
    expect(t.render(4)).toBe('verifying [####] 200.0 MiB / 200.0 MiB (2/2 blobs)');
    // the write pass: same blobs, same total (never 400 MiB), progress of this pass
    t.update(ev(d('a'), 50 * MiB, 100 * MiB, 'write'));
    expect(t.total).toBe(200 * MiB);
    expect(t.render(4)).toBe('writing [###-] 150.0 MiB / 200.0 MiB (1/2 blobs)');
    // a registry read and the upload it feeds, reported for the same blob: the one further on
    t.update(ev(d('a'), 60 * MiB, 100 * MiB, 'read'));
    t.update(ev(d('a'), 55 * MiB, 100 * MiB, 'write'));
    expect(t.done).toBe(160 * MiB);
  });

  it('shows rate and ETA', () => {
    let now = 0;
    const t = new ProgressTracker(() => now);
    t.update(ev(d('a'), 0, 40 * MiB, 'write'));
    now = 1000;
    t.update(ev(d('a'), 10 * MiB, 40 * MiB, 'write'));
    expect(t.render(4)).toBe('writing [#---] 10.0 MiB / 40.0 MiB (0/1 blob), 10.0 MiB/s, ETA 0:03');
  });

  it('plain: one line per blob when it is done (each blob once), notices on their own line', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const p = createProgress(Object.assign(out, { isTTY: false }), true, { prog: 'dsv', env: { CI: 'true' } });
    p.onProgress!(ev(d('a'), 0, 2048, 'verify'));
    p.onProgress!(ev(d('b'), 0, 1024, 'verify'));
    p.onProgress!(ev(d('a'), 1024, 2048, 'verify'));
    p.onProgress!(ev(d('a'), 2048, 2048, 'verify'));
    p.onProgress!(ev(d('b'), 1024, 1024, 'verify'));
    p.onProgress!(ev(d('b'), 1024, 1024, 'write'));
    p.onProgress!(ev('manifest app@x: registry asked to wait 2 s (Retry-After)', 0, undefined, 'read'));
    expect(text).toBe(
      `dsv: sha256:aaaaaaaaaaaa verified, 2.0 KiB (1/2 blobs, 2.0 KiB / 3.0 KiB)\n` +
        `dsv: sha256:bbbbbbbbbbbb verified, 1.0 KiB (2/2 blobs, 3.0 KiB / 3.0 KiB)\n` +
        'dsv: manifest app@x: registry asked to wait 2 s (Retry-After)\n',
    );
  });

  it('auto is a bar on a terminal, plain lines in a CI log, none on another pipe; --progress takes auto|bar|plain|none', () => {
    expect(resolveProgressMode('auto', { isTTY: true })).toBe('bar');
    expect(resolveProgressMode('auto', { isTTY: false })).toBe('none');
    expect(resolveProgressMode('auto', { isTTY: false }, { CI: 'true' })).toBe('plain');
    expect(resolveProgressMode('auto', { isTTY: false }, { CI: 'false' })).toBe('none');
    expect(resolveProgressMode('none', { isTTY: true })).toBe('none');
    expect(parseProgressMode('PLAIN')).toBe('plain');
    expect(() => parseProgressMode('fancy')).toThrow('invalid --progress "fancy" (auto, bar, plain, none)');
  });
});
