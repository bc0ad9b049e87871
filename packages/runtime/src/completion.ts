/**
 * `dsv completion bash|zsh|fish`: a static completion script for commands, their options and the global
 * options. The model is read from the parsers themselves (their commands, and the flags their rendered
 * help lists), so commands and options added anywhere are completed without a list here.
 */
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import { commandsOf } from './suggest.js';

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

export interface CompletionModel {
  prog: string;
  /** Options before the command. */
  globals: string[];
  /** Global options that take a value (their value is not taken for the command). */
  globalsWithValue: string[];
  /** Per command: its options and the words that may follow it (sub-commands, shell names). */
  commands: Record<string, { flags: string[]; words: string[]; prefixes?: string[] }>;
}

/** The rendered --help of `args` on a fresh parser. */
export async function helpText(make: () => Argv, args: string[] = []): Promise<string> {
  let text = '';
  await make().parseAsync([...args, '--help'], {}, (_e: unknown, _a: unknown, out: string) => {
    text = out;
  });
  return text;
}

/** The flags of the `Options:` sections of a yargs help text (`-k, --key, --keyid  …` -> -k --key --keyid). */
export function flagsOfHelp(text: string): string[] {
  const flags = new Set<string>();
  let inOptions = false;
  for (const line of text.split('\n')) {
    if (/^\S.*:$/.test(line)) inOptions = /options:$/i.test(line);
    if (!inOptions || !/^\s+-/.test(line)) continue;
    for (const part of line.trim().split(/\s{2,}/)[0]!.split(/,\s*/)) {
      const m = /^(--?[A-Za-z][\w-]*)/.exec(part.trim());
      if (m) flags.add(m[1]!);
    }
  }
  return [...flags];
}

export interface ModelSource {
  prog: string;
  parser: () => Argv;
  globalsWithValue?: string[];
  /** Commands with a parser of their own (dsv copy -> dsv-copy's), or fixed words and flags. */
  nested?: Record<string, (() => Argv) | { flags: string[]; words: string[] }>;
  /** Fixed words after a command (`completion` -> bash zsh fish). */
  words?: Record<string, string[]>;
  /** Commands taking image references, and the transport prefixes offered for them (`docker://`, `oci:`). */
  references?: { commands: string[]; prefixes: string[] };
}

export async function completionModel(src: ModelSource): Promise<CompletionModel> {
  const top = await helpText(src.parser);
  const globals = flagsOfHelp(top);
  const model: CompletionModel = { prog: src.prog, globals, globalsWithValue: src.globalsWithValue ?? [], commands: {} };
  for (const cmd of commandsOf(src.parser())) {
    const nested = src.nested?.[cmd];
    if (nested && typeof nested !== 'function') {
      model.commands[cmd] = { flags: nested.flags, words: nested.words };
      continue;
    }
    const text = nested ? await helpText(nested) : await helpText(src.parser, [cmd]);
    // A command's help lists the global options too: they are accepted after it as well.
    const own = flagsOfHelp(text);
    const words = nested ? commandsOf(nested()) : [];
    model.commands[cmd] = { flags: own, words: [...words, ...(src.words?.[cmd] ?? [])] };
    if (src.references?.commands.includes(cmd)) model.commands[cmd]!.prefixes = src.references.prefixes;
  }
  return model;
}

const q = (words: string[]) => words.join(' ').replace(/[^\w ./:@=-]/g, '');
const ident = (prog: string) => prog.replace(/[^A-Za-z0-9]/g, '_');

export function bashScript(m: CompletionModel): string {
  const fn = `_${ident(m.prog)}_complete`;
  const cases = Object.entries(m.commands)
    .map(([cmd, c]) => `    ${cmd}) flags="${q(c.flags)}"; words="${q(c.words)}"; refs="${q(c.prefixes ?? [])}" ;;`)
    .join('\n');
  const skip = m.globalsWithValue.length ? `      ${m.globalsWithValue.join('|')}) ((i++)) ;;\n` : '';
  return `# ${m.prog} completion for bash. Load it with: source <(${m.prog} completion bash)
# or save it as ~/.local/share/bash-completion/completions/${m.prog}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i flags="" words="" refs=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
${skip}      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$cmd" in
    "") flags="${q(m.globals)}"; words="${q(Object.keys(m.commands))}" ;;
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ "\${COMP_WORDS[COMP_CWORD-1]}" == : || "$cur" == *:* ]]; then
    # After a transport prefix (readline splits oci:PATH at the colon): file names (-o default).
    COMPREPLY=()
  else
    # Words, then transport prefixes (no space after one alone); nothing matching: file names (-o default).
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    local prefixes=($(compgen -W "$refs" -- "$cur"))
    if ((\${#prefixes[@]})); then
      ((\${#COMPREPLY[@]})) || compopt -o nospace 2>/dev/null
      COMPREPLY+=("\${prefixes[@]}")
    fi
  fi
}
complete -o default -o bashdefault -F ${fn} ${m.prog}
`;
}

export function zshScript(m: CompletionModel): string {
  const fn = `_${ident(m.prog)}`;
  const cases = Object.entries(m.commands)
    .map(([cmd, c]) => `    ${cmd}) flags=(${q(c.flags)}); cmds=(${q(c.words)}); refs=(${q(c.prefixes ?? [])}) ;;`)
    .join('\n');
  const skip = m.globalsWithValue.length ? `      ${m.globalsWithValue.join('|')}) ((i++)) ;;\n` : '';
  return `#compdef ${m.prog}
# ${m.prog} completion for zsh. Load it with: source <(${m.prog} completion zsh)
# or save it as _${m.prog} in a directory of $fpath
${fn}() {
  local cmd="" i
  local -a flags cmds refs
  for ((i = 2; i < CURRENT; i++)); do
    case "\${words[i]}" in
${skip}      -*) ;;
      *) cmd="\${words[i]}"; break ;;
    esac
  done
  case "$cmd" in
    "") flags=(${q(m.globals)}); cmds=(${q(Object.keys(m.commands))}) ;;
${cases}
  esac
  if [[ "$PREFIX" == -* ]]; then
    compadd -- $flags
  else
    (( \${#cmds} )) && compadd -- $cmds
    # Transport prefixes (no space after them) beside file names; words alone where there are no references.
    (( \${#refs} )) && [[ "$PREFIX" != *:* ]] && compadd -S '' -- $refs
    # After a transport prefix (oci:PATH, docker-archive:PATH): the file names of the rest.
    (( \${#refs} )) && [[ "$PREFIX" == *:* ]] && compset -P '*:'
    (( \${#cmds} && ! \${#refs} )) || _files
  fi
}
if [[ "\${funcstack[1]}" == "${fn}" ]]; then ${fn} "$@"; else compdef ${fn} ${m.prog}; fi
`;
}

export function fishScript(m: CompletionModel): string {
  const id = ident(m.prog);
  const lines = [
    `# ${m.prog} completion for fish. Load it with: ${m.prog} completion fish | source`,
    `# or save it as ~/.config/fish/completions/${m.prog}.fish`,
    // The command word: the first word that is no option, the value of an option before it skipped
    // (fish's __fish_use_subcommand would take the value of --platform linux/amd64 for the command).
    `function __${id}_command`,
    '  set -l skip 0',
    '  for w in (commandline -opc)[2..-1]',
    '    if test $skip = 1',
    '      set skip 0',
    '      continue',
    '    end',
    '    switch $w',
    ...(m.globalsWithValue.length ? [`      case ${m.globalsWithValue.join(' ')}`, '        set skip 1'] : []),
    "      case '-*'",
    "      case '*'",
    '        echo $w',
    '        return',
    '    end',
    '  end',
    'end',
    `function __${id}_using`,
    `  set -l c (__${id}_command)`,
    '  test "$c" = "$argv[1]"',
    'end',
  ];
  const flag = (f: string) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
  const names = Object.keys(m.commands);
  const top = `__${id}_using ''`;
  // -f: where there are words to choose (and no references), no file names besides them.
  lines.push(`complete -c ${m.prog} -n "${top}" -f -a "${q(names)}"`);
  for (const f of m.globals) lines.push(`complete -c ${m.prog} -n "${top}" ${flag(f)}`);
  for (const [cmd, c] of Object.entries(m.commands)) {
    const cond = `__${id}_using ${cmd}`;
    if (c.words.length) lines.push(`complete -c ${m.prog} -n "${cond}"${c.prefixes?.length ? '' : ' -f'} -a "${q(c.words)}"`);
    // Transport prefixes beside file names (fish adds no space after a candidate ending in : or /).
    if (c.prefixes?.length) lines.push(`complete -c ${m.prog} -n "${cond}" -a "${q(c.prefixes)}"`);
    for (const f of c.flags) lines.push(`complete -c ${m.prog} -n "${cond}" ${flag(f)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The script for `shell` (Usage error for another shell). */
export async function completionScript(shell: string, src: ModelSource): Promise<string> {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    throw new DsvError('Usage', `unknown shell "${shell}" for completion (${COMPLETION_SHELLS.join(', ')})`);
  }
  const model = await completionModel(src);
  return shell === 'bash' ? bashScript(model) : shell === 'zsh' ? zshScript(model) : fishScript(model);
}
