// `dsv completion bash|zsh|fish` loaded the way each shell's users load it, through the BUILT dsv on PATH,
// in the real shells (tools/setup-system installs zsh and fish): what each completes for words typed so
// far — commands, a command's options, the words after a command, transport prefixes. zsh and bash
// complete only inside their line editors, so they run on a pseudo-terminal (zsh/zpty).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { removeTempDirs, requireTool, tempDir } from '../helpers/proc.js';
import { launcher } from '../helpers/cli.js';

let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  buildUnlessPrebuilt();
  work = tempDir('dsv-completion-e2e-');
  const binDir = join(work, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'dsv'), `#!/bin/sh\nexec '${process.execPath}' '${launcher('dsv')}' "$@"\n`);
  chmodSync(join(binDir, 'dsv'), 0o755);
  // A working directory with files: where a command takes words, no file names are offered besides them.
  const cwd = join(work, 'cwd');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'verify-me.txt'), '');
  env = { PATH: `${binDir}:${process.env.PATH}`, HOME: join(work, 'home'), TERM: 'dumb', LANG: 'C.UTF-8' };
  mkdirSync(join(work, 'home'));
}, 300_000);

afterAll(() => removeTempDirs());

const sorted = (a: string[]) => [...a].sort();

/** Each line's completions, asked of one fish with the script loaded as `dsv completion fish | source`. */
function fishComplete(lines: string[]): string[][] {
  const fish = requireTool('fish');
  const script = ['dsv completion fish | source', ...lines.map((l) => `echo '--line--'; complete -C '${l}'`)].join('\n');
  const r = spawnSync(fish, ['--no-config', '-c', script], { env, cwd: join(work, 'cwd'), encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  // complete -C prints "candidate<TAB>description": the candidate only.
  return r.stdout.split('--line--\n').slice(1).map((block) => block.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!));
}

/**
 * Each line's completions in an interactive shell on a pseudo-terminal (zsh's zpty module): each line is
 * typed, then TAB, then a key bound to a command that marks the end of that line's matches, then ^U to
 * clear it. zsh: `zsh -f` plus compinit and `source <(dsv completion zsh)`, compadd wrapped to record the
 * matches the real compadd keeps. bash: `source <(dsv completion bash)` in an interactive bash whose
 * readline splits the words (at ':' too), the completion function wrapped to record its COMPREPLY (the
 * file names readline adds itself when it is empty are not seen).
 */
function ptyComplete(shell: 'zsh' | 'bash', lines: string[]): string[][] {
  const dir = join(work, `${shell}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const capture = join(dir, 'capture');
  writeFileSync(capture, '');
  const rc = shell === 'zsh'
    ? [
        "PROMPT='> '",
        // No listing of ambiguous matches (and so no "do you wish to see all" question).
        'unsetopt AUTO_LIST LIST_AMBIGUOUS BEEP',
        'autoload -Uz compinit && compinit -u -D',
        'source <(dsv completion zsh)',
        'compadd() { local -a __m; builtin compadd -O __m "$@"; (( ${#__m} )) && print -rl -- $__m >> $CAPTURE; builtin compadd "$@"; }',
        "_capture_mark() { print -r -- '--line--' >> $CAPTURE; }",
        'zle -N _capture_mark',
        "bindkey '^X^D' _capture_mark",
      ]
    : [
        "PS1='> '",
        'source <(dsv completion bash)',
        '_capture() { _dsv_complete "$@"; printf \'%s\\n\' "${COMPREPLY[@]}" >> "$CAPTURE"; }',
        // The options the script's own `complete` line gives, around the recording wrapper.
        'complete -o default -o bashdefault -F _capture dsv',
        'bind -x \'"\\C-x\\C-d": echo --line-- >> "$CAPTURE"\'',
      ];
  writeFileSync(join(dir, shell === 'zsh' ? '.zshrc' : 'bashrc'), [...rc, 'echo --ready-- >> "$CAPTURE"', ''].join('\n'));
  const start = shell === 'zsh' ? 'zpty z zsh -i' : `zpty z bash --noprofile --rcfile ${join(dir, 'bashrc')} -i`;
  const harness = [
    'zmodload zsh/zpty',
    start,
    'for i in {1..300}; do grep -q -- --ready-- $CAPTURE && break; sleep 0.1; done',
    `for q in "$@"; do zpty -w -n z "$q"$'\\t\\C-x\\C-d\\C-u'; done`,
    'for i in {1..300}; do (( $(grep -c -- --line-- $CAPTURE) == $# )) && break; sleep 0.1; done',
    "zpty -w -n z $'exit\\n'",
    'zpty -d z',
  ].join('\n');
  writeFileSync(join(dir, 'harness.zsh'), harness);
  const r = spawnSync(requireTool('zsh'), ['-f', join(dir, 'harness.zsh'), ...lines], { env: { ...env, ZDOTDIR: dir, CAPTURE: capture }, cwd: join(work, 'cwd'), encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const text = readFileSync(capture, 'utf8');
  expect(text.startsWith('--ready--\n'), text).toBe(true);
  const blocks = text.slice('--ready--\n'.length).split('--line--\n');
  expect(blocks.length, text).toBe(lines.length + 1);
  // _files may add the same file more than once (one call per file-pattern tag); zsh shows it once.
  return blocks.slice(0, -1).map((b) => [...new Set(b.split('\n').filter(Boolean))]);
}

/** What bash's completion function returns for each line, with the script loaded once as `source <(dsv completion bash)`. */
function bashComplete(lines: string[]): string[][] {
  const script = ['source <(dsv completion bash)', ...lines.map((l) => {
    const words = l.split(' ');
    return `echo '--line--'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _dsv_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
  })].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { env, cwd: join(work, 'cwd'), encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('--line--\n').slice(1).map((block) => block.split('\n').filter(Boolean));
}

const COMMANDS = ['sign', 'verify', 'inspect', 'login', 'logout', 'list-tags', 'sync', 'generate-key-pair', 'trust', 'bundle', 'signatures', 'copy', 'docker-plugin', 'plugins', 'completion'];
const PREFIXES = ['docker://', 'docker-archive:', 'oci:', 'oci-archive:', 'docker-daemon:', 'docker-storage:', 'containerd:'];

// The same questions of every shell; the answers must agree (bash: what its function returns; file names
// come from readline's default completion (-o default) when it returns nothing).
const CASES: { line: string; expect: string[]; zsh?: string[]; bash?: string[] }[] = [
  { line: 'dsv ve', expect: ['verify'] },
  { line: 'dsv ', expect: COMMANDS },
  { line: 'dsv verify --po', expect: ['--policy'] },
  { line: 'dsv sign --k', expect: ['--key', '--keyid', '--key-type', '--keypass'] },
  { line: 'dsv --platform linux/amd64 ', expect: COMMANDS },
  { line: 'dsv --platform linux/amd64 sign --dry', expect: ['--dry-run'] },
  { line: 'dsv completion ', expect: ['bash', 'zsh', 'fish'] },
  { line: 'dsv docker-plugin in', expect: ['install'] },
  { line: 'dsv copy --sign-b', expect: ['--sign-by'] },
  { line: 'dsv sync --dest-c', expect: ['--dest-cert-dir', '--dest-creds'] },
  { line: 'dsv --de', expect: ['--debug'] },
  // Transport prefixes where a command takes image references, beside file names.
  { line: 'dsv verify docker-a', expect: ['docker-archive:'] },
  { line: 'dsv inspect oc', expect: ['oci:', 'oci-archive:'] },
  { line: 'dsv copy ', expect: ['verify-same', ...PREFIXES, 'verify-me.txt'], bash: ['verify-same', ...PREFIXES] },
  { line: 'dsv sign verify-', expect: ['verify-me.txt'], bash: [] },
  // After a transport prefix: file names, not the words and prefixes again (zsh completes the part after
  // the colon; bash's function returns nothing, and readline completes the file name after the colon).
  { line: 'dsv verify oci:verify-', expect: ['oci:verify-me.txt'], zsh: ['verify-me.txt'], bash: [] },
];

describe('dsv completion in the real shells', () => {
  it('fish: `dsv completion fish | source`, then complete -C', () => {
    const got = fishComplete(CASES.map((c) => c.line));
    CASES.forEach((c, i) => expect(sorted(got[i]!), c.line).toEqual(sorted(c.expect)));
  });

  it('zsh: compinit, `source <(dsv completion zsh)`, then TAB on a terminal', () => {
    const got = ptyComplete('zsh', CASES.map((c) => c.line));
    CASES.forEach((c, i) => expect(sorted(got[i]!), c.line).toEqual(sorted(c.zsh ?? c.expect)));
  });

  it('bash on a terminal: readline splits the words (oci:PATH at its colon), then TAB', () => {
    const got = ptyComplete('bash', CASES.map((c) => c.line));
    CASES.forEach((c, i) => expect(sorted(got[i]!), c.line).toEqual(sorted(c.bash ?? c.expect)));
  });

  it('bash: `source <(dsv completion bash)`, then the completion function', () => {
    const got = bashComplete(CASES.map((c) => c.line));
    CASES.forEach((c, i) => expect(sorted(got[i]!), c.line).toEqual(sorted(c.bash ?? c.expect)));
  });
});
