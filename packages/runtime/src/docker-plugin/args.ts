/**
 * A small command-line parser that behaves like the Docker CLI's (spf13/pflag): `--flag value`,
 * `--flag=value`, `-k value`, `-kvalue`, `-k=value`, combined boolean shorthands (`-dv`), `--` ends
 * the options, options and arguments may be interleaved. Help text is laid out as `docker <cmd> --help`.
 */
import { DsvError } from '@dsv/core/formats';
import { examplesSection } from '../help-examples.js';

export interface OptionSpec {
  /** Long name without dashes: `key`, `dry-run`. */
  long: string;
  /** One-letter shorthand without the dash. */
  short?: string;
  /** bool: a switch; string: the last value wins; list: repeatable, every value kept. */
  type: 'bool' | 'string' | 'list';
  /** What the value is called in help (`string`, `list`, `file`…); pflag's default names otherwise. */
  valueName?: string;
  description: string;
  /** Shown as `(default "…")`. */
  defaultText?: string;
}

export interface CommandSpec {
  /** `docker sign` */
  name: string;
  /** `[OPTIONS] IMAGE [DEST]` */
  usage: string;
  /** One line. */
  description: string;
  options: OptionSpec[];
  /** Paragraphs after the options table. */
  epilog?: string;
}

export interface ParsedArgs {
  help: boolean;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

const HELP: OptionSpec = { long: 'help', short: 'h', type: 'bool', description: 'Print usage' };

function usageError(spec: CommandSpec, message: string): DsvError {
  return new DsvError('Usage', message, { command: spec.name });
}

function parseBool(spec: CommandSpec, flag: string, text: string): boolean {
  const t = text.toLowerCase();
  if (['1', 't', 'true'].includes(t)) return true;
  if (['0', 'f', 'false'].includes(t)) return false;
  throw usageError(spec, `invalid argument "${text}" for "${flag}" flag: expected true or false`);
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const byLong = new Map<string, OptionSpec>();
  const byShort = new Map<string, OptionSpec>();
  for (const o of [...spec.options, HELP]) {
    byLong.set(o.long, o);
    if (o.short) byShort.set(o.short, o);
  }
  const values: ParsedArgs['values'] = {};
  const positionals: string[] = [];
  let help = false;
  const set = (o: OptionSpec, value: string | boolean) => {
    if (o === HELP) help = value === true;
    else if (o.type === 'list') values[o.long] = [...((values[o.long] as string[] | undefined) ?? []), String(value)];
    else values[o.long] = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const o = byLong.get(name);
      if (!o) throw usageError(spec, `unknown flag: --${name}`);
      if (o.type === 'bool') {
        set(o, eq >= 0 ? parseBool(spec, `--${name}`, a.slice(eq + 1)) : true);
      } else if (eq >= 0) {
        set(o, a.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw usageError(spec, `flag needs an argument: --${name}`);
        set(o, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // Shorthands: -d, -dv (booleans), -k value, -kvalue, -k=value.
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const o = byShort.get(c) ?? (c === 'h' ? HELP : undefined);
        if (!o) throw usageError(spec, `unknown shorthand flag: '${c}' in ${a}`);
        if (o.type === 'bool') {
          if (a[j + 1] === '=') {
            set(o, parseBool(spec, `-${c}`, a.slice(j + 2)));
            break;
          }
          set(o, true);
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        else if (value === '') {
          if (i + 1 >= argv.length) throw usageError(spec, `flag needs an argument: '${c}' in -${c}`);
          value = argv[++i]!;
        }
        set(o, value);
        break;
      }
      continue;
    }
    positionals.push(a);
  }
  return { help, values, positionals };
}

function flagColumn(o: OptionSpec): string {
  const value = o.type === 'bool' ? '' : ` ${o.valueName ?? (o.type === 'list' ? 'list' : 'string')}`;
  return `${o.short ? `-${o.short}, ` : '    '}--${o.long}${value}`;
}

/** The help text, laid out as the Docker CLI lays out its own commands' help. */
export function formatHelp(spec: CommandSpec, columns = 100): string {
  const options = [...spec.options].sort((a, b) => a.long.localeCompare(b.long));
  const left = options.map(flagColumn);
  const width = Math.max(...left.map((l) => l.length)) + 3;
  const wrapAt = Math.max(40, columns - width - 2);
  const lines: string[] = ['', `Usage:  ${spec.name} ${spec.usage}`, '', spec.description, '', 'Options:'];
  options.forEach((o, k) => {
    const desc = `${o.description}${o.defaultText !== undefined ? ` (default ${JSON.stringify(o.defaultText)})` : ''}`;
    const wrapped = wrap(desc, wrapAt);
    lines.push(`  ${left[k]!.padEnd(width)}${wrapped[0] ?? ''}`);
    for (const more of wrapped.slice(1)) lines.push(`  ${' '.repeat(width)}${more}`);
  });
  if (spec.epilog) lines.push('', spec.epilog.trimEnd());
  const examples = examplesSection(spec.name);
  if (examples) lines.push('', examples.trimEnd());
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

/** `docker sign: error: …` plus the pointer at --help, as the Docker CLI reports usage errors. */
export function formatUsageError(spec: CommandSpec, message: string): string {
  return `${spec.name}: ${message}\n\nUsage:  ${spec.name} ${spec.usage}\n\nRun '${spec.name} --help' for more information\n`;
}
