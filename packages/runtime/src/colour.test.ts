import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { colourEnabled } from './colour.js';
import { Output, type CliIo } from './io.js';

function io(tty: boolean, env: Record<string, string>): { io: CliIo; text: () => string } {
  let text = '';
  const stream = Object.assign(new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }), { isTTY: tty });
  return { io: { stdout: stream, stderr: stream, stdin: process.stdin, env }, text: () => text };
}

describe('colour', () => {
  it('only on a terminal, never under NO_COLOR (set and not empty) or TERM=dumb', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });

  it('the shell colours the verdict and the error prefix on a terminal, and nothing elsewhere', () => {
    const lines = (o: Output) => {
      o.out('Verified: docker://h/r:1\nsome detail\n');
      o.err('dsv: error: layer 1 is wrong\n');
    };
    const tty = io(true, {});
    lines(new Output(tty.io, 'dsv'));
    expect(tty.text()).toBe('\x1b[32mVerified: docker://h/r:1\x1b[0m\nsome detail\ndsv: \x1b[1;31merror:\x1b[0m layer 1 is wrong\n');
    for (const plain of [io(false, {}), io(true, { NO_COLOR: '1' })]) {
      lines(new Output(plain.io, 'dsv'));
      expect(plain.text()).toBe('Verified: docker://h/r:1\nsome detail\ndsv: error: layer 1 is wrong\n');
    }
  });
});
