import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dsvMain } from './dsv.js';
import { flagsOfHelp } from './completion.js';
import type { CliIo } from './io.js';
import { Writable, Readable } from 'node:stream';

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(c.toString()), cb()) });
  const io: CliIo = { stdout: w((s) => (out += s)), stderr: w((s) => (err += s)), stdin: Readable.from([]) as unknown as NodeJS.ReadStream, env: {} };
  return { io, out: () => out, err: () => err };
}

async function script(shell: string): Promise<string> {
  const c = capture();
  expect(await dsvMain(['completion', shell], c.io)).toBe(0);
  return c.out();
}

/** What the bash script completes for the words typed so far (the last one being completed). */
function bashComplete(text: string, words: string[]): string[] {
  const r = spawnSync('bash', ['-c', `${text}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _dsv_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('dsv completion', () => {
  it('bash: commands, each command\'s options (from its parser), dsv copy\'s and the shells, run in a real bash', async () => {
    const text = await script('bash');
    expect(bashComplete(text, ['dsv', ''])).toEqual(expect.arrayContaining(['sign', 'verify', 'inspect', 'copy', 'docker-plugin', 'completion']));
    expect(bashComplete(text, ['dsv', 've'])).toEqual(['verify']);
    expect(bashComplete(text, ['dsv', 'sign', '--k'])).toEqual(expect.arrayContaining(['--key', '--keyid', '--key-type', '--keypass']));
    expect(bashComplete(text, ['dsv', 'verify', '--tr'])).toEqual(['--trust', '--trusted-root']);
    expect(bashComplete(text, ['dsv', '--platform', 'linux/amd64', 'sign', '--dry'])).toEqual(['--dry-run']);
    expect(bashComplete(text, ['dsv', 'copy', '--sign'])).toEqual(expect.arrayContaining(['--sign-by']));
    expect(bashComplete(text, ['dsv', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(bashComplete(text, ['dsv', 'docker-plugin', 'in'])).toEqual(['install']);
    expect(bashComplete(text, ['dsv', '--de'])).toEqual(['--debug']);
  });

  // zsh and fish run in the real shells in e2e/cli/completion.test.ts (zsh needs a terminal); here, their shape.
  it('zsh and fish scripts name the same commands and options', async () => {
    const zsh = await script('zsh');
    expect(zsh.startsWith('#compdef dsv\n')).toBe(true);
    expect(zsh).toMatch(/sign\) flags=\(.*--key-type/);
    expect(zsh).toContain('compdef _dsv dsv');
    const fish = await script('fish');
    const names = /^complete -c dsv -n "__dsv_using ''" -f -a "([^"]+)"$/m.exec(fish)?.[1]?.split(' ');
    expect(names).toEqual(expect.arrayContaining(['sign', 'verify', 'inspect', 'copy', 'docker-plugin', 'plugins', 'completion']));
    expect(fish).toContain('complete -c dsv -n "__dsv_using sign" -l key-type');
    expect(fish).toContain('complete -c dsv -n "__dsv_using sign" -s k');
  });

  it('another shell is a usage error (exit 2, one line)', async () => {
    const c = capture();
    expect(await dsvMain(['completion', 'tcsh'], c.io)).toBe(2);
    expect(c.err()).toMatch(/^dsv: error: unknown shell "tcsh" for completion \(bash, zsh, fish\)\n/);
  });

  it('flagsOfHelp reads the option column only', () => {
    const help = 'Options:\n  -k, --key, --keyid  Signing key: see --trust                [string]\n      --json           Machine-readable\n\nExamples:\n  --not-a-flag\n';
    expect(flagsOfHelp(help)).toEqual(['-k', '--key', '--keyid', '--json']);
  });
});
