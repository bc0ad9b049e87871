// The shipped bins on a real pseudo-terminal (util-linux `script`), the screen read back through a small
// terminal model (\r, \n, erase-line, colour escapes): the progress bar counts each blob once with its
// size from the manifest and is cleared before the summary; in a CI log each blob gets one plain line;
// colour only on the terminal and never under NO_COLOR (the bins' output and tools/demo.mjs).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, noise, writeOciLayout, type SampleImage } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, runNodeScript, tempDir } from '../helpers/proc.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { launcher } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PASS = 'ux-terminal-passphrase';
const MiB = 1024 * 1024;

let work: string;
let gpg: GpgHome;
let env: NodeJS.ProcessEnv;
let image: SampleImage;
let layout: string;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a command on a pseudo-terminal; what the terminal received (stdout and stderr, as a user sees them). */
function onTerminal(cmd: string[], extra: NodeJS.ProcessEnv = {}): { code: number | null; raw: string } {
  const r = spawnSync(requireTool('script'), ['-qfec', cmd.map(q).join(' '), '/dev/null'], { env: { ...env, ...extra }, cwd: work, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, raw: r.stdout };
}

/** The screen after `raw`: lines as a terminal shows them (carriage returns overwrite, ESC[K erases, colours dropped). */
export function screen(raw: string): string[] {
  const lines: string[] = [''];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\x1b') {
      const m = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(raw.slice(i));
      if (m) {
        if (m[2] === 'K') lines[lines.length - 1] = lines[lines.length - 1]!.slice(0, col);
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '\r') col = 0;
    else if (c === '\n') {
      lines.push('');
      col = 0;
    } else {
      const l = lines[lines.length - 1]!;
      lines[lines.length - 1] = l.slice(0, col).padEnd(col) + c + l.slice(col + 1);
      col++;
    }
  }
  return lines.filter((l, i) => l !== '' || i < lines.length - 1);
}

/** Every bar the terminal was shown (the text between carriage returns). */
function bars(raw: string): string[] {
  return raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/[\r\n]/).filter((s) => /\bblobs?\)/.test(s));
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-ux-terminal-');
  gpg = makeGpgHome({ withKey: { name: 'UX Terminal', email: 'ux-terminal@dsv.invalid', passphrase: PASS } });
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: gpg.home, DSV_KEYPASS: PASS, TERM: 'xterm' };
  // Incompressible layers, big enough for the bar to be drawn while they stream.
  image = await buildSampleImage({ format: 'oci', layers: [0, 1, 2].map((n) => ({ [`data-${n}.bin`]: noise(12 * MiB, `ux-${n}`) })) });
  layout = writeOciLayout(join(work, 'a'), { image, tag: '1' });
}, 300_000);

afterAll(() => {
  removeGpgHomes();
  removeTempDirs();
});

describe('on a terminal', () => {
  it('sign: the bar counts each blob once with its manifest size, shows rate, and is gone before the summary', () => {
    // Signing streams every layer once (the configuration is rewritten, not copied).
    const total = image.layers.reduce((n, l) => n + l.descriptor.size, 0);
    const r = onTerminal([process.execPath, launcher('dsv'), 'sign', '-k', gpg.fingerprint, `oci:${layout}:1`, `oci:${join(work, 'b')}:signed`]);
    expect(r.code, r.raw).toBe(0);
    const shown = bars(r.raw);
    expect(shown.length, r.raw).toBeGreaterThan(0);
    const totalText = `${(total / MiB).toFixed(1)} MiB`;
    for (const b of shown) {
      // Never 2× or 3× the image: one size per blob, every layer known from the first bar on (then the new configuration).
      expect(b, b).toMatch(new RegExp(`/ ${totalText.replace('.', '\\.')} \\(\\d/(${image.layers.length}|${image.layers.length + 1}) blobs\\)`));
    }
    expect(shown.at(-1)).toMatch(new RegExp(`\\[#+\\] ${totalText.replace('.', '\\.')} / `));
    const lines = screen(r.raw);
    // The bar left nothing behind, and the summary starts its own line.
    expect(lines.filter((l) => /blobs?\)/.test(l)), lines.join('\n')).toEqual([]);
    expect(lines.some((l) => l.startsWith('Created new image: ')), lines.join('\n')).toBe(true);
    expect(lines.some((l) => l.startsWith('Integrity check passed.')), lines.join('\n')).toBe(true);
  });

  it('colour on the terminal only, and never under NO_COLOR', async () => {
    const args = [process.execPath, launcher('dsv'), 'verify', '--progress', 'none', `oci:${layout}:1`];
    const tty = onTerminal(args);
    expect(tty.code).toBe(1);
    expect(tty.raw).toContain('\x1b[1;31mNOT verified:');
    expect(tty.raw).toContain('dsv: \x1b[1;31merror:\x1b[0m');
    const noColour = onTerminal(args, { NO_COLOR: '1' });
    expect(noColour.code).toBe(1);
    expect(noColour.raw).toContain('NOT verified:');
    expect(noColour.raw).not.toContain('\x1b[');
    const pipe = await runNodeScript(launcher('dsv'), ['verify', `oci:${layout}:1`], { env, cwd: work });
    expect(pipe.all).toContain('NOT verified:');
    expect(pipe.all).not.toContain('\x1b');
  });

  it('--progress plain on a terminal prints lines, not a bar; --progress none prints neither', () => {
    const plain = onTerminal([process.execPath, launcher('dsv-copy'), '--progress', 'plain', `oci:${layout}:1`, `oci:${join(work, 'c')}:1`]);
    expect(plain.code, plain.raw).toBe(0);
    expect(plain.raw).not.toContain('\x1b[K');
    expect(screen(plain.raw).filter((l) => /^dsv-copy: sha256:[0-9a-f]{12} /.test(l)).length).toBe(image.blobs().length);
    const none = onTerminal([process.execPath, launcher('dsv-copy'), '--progress', 'none', `oci:${layout}:1`, `oci:${join(work, 'd')}:1`]);
    expect(none.code, none.raw).toBe(0);
    expect(none.raw).not.toMatch(/blobs?[),]/);
  });
});

describe('on a pipe', () => {
  it('auto: per-blob lines in a CI log (CI set), each blob once; nothing on another pipe, nor with -q or --json', async () => {
    const plainPipe = await runNodeScript(launcher('dsv'), ['--no-check-signatures', 'verify', `oci:${layout}:1`], { env, cwd: work });
    expect(plainPipe.code, plainPipe.all).toBe(0);
    expect(plainPipe.stderr).toBe('');
    const r = await runNodeScript(launcher('dsv'), ['--no-check-signatures', 'verify', `oci:${layout}:1`], { env: { ...env, CI: 'true' }, cwd: work });
    expect(r.code, r.all).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => /^dsv: sha256:[0-9a-f]{12} verified, /.test(l));
    const layers = image.layers.map((l) => l.descriptor.digest.slice(0, 19));
    expect(lines.map((l) => l.slice(5, 24)).sort()).toEqual([...layers].sort());
    expect(lines.at(-1)).toMatch(new RegExp(`\\(${layers.length}/${layers.length} blobs, `));
    for (const extra of [['-q'], ['--json']]) {
      const quiet = await runNodeScript(launcher('dsv'), ['--no-check-signatures', ...extra, 'verify', `oci:${layout}:1`], { env: { ...env, CI: 'true' }, cwd: work });
      expect(quiet.code, quiet.all).toBe(0);
      expect(quiet.stderr).toBe('');
    }
  });

  it('tools/demo.mjs prints no colour escapes into a pipe, nor on a terminal under NO_COLOR', () => {
    const piped = spawnSync(process.execPath, [join(root, 'tools', 'demo.mjs')], { env: { PATH: process.env.PATH, HOME: work }, cwd: root, encoding: 'utf8', timeout: 180_000 });
    expect(piped.status, `${piped.stdout}${piped.stderr}`).toBe(0);
    expect(piped.stdout).toContain('demo passed');
    expect(piped.stdout).not.toContain('\x1b');
    const noColour = spawnSync(requireTool('script'), ['-qfec', `${q(process.execPath)} ${q(join(root, 'tools', 'demo.mjs'))}`, '/dev/null'], { env: { PATH: process.env.PATH, HOME: work, NO_COLOR: '1' }, cwd: root, encoding: 'utf8', timeout: 180_000 });
    expect(noColour.status, noColour.stdout).toBe(0);
    expect(noColour.stdout).toContain('demo passed');
    expect(noColour.stdout).not.toContain('\x1b');
  }, 240_000);
});
