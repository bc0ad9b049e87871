import { createRequire } from 'node:module';
import type { Argv } from 'yargs';

// yargs' ESM entry renders --help through cliui's ESM build, whose wrap cuts every line at the column
// width, mid-word ("h\nashing", "plu\ngin key"); its CommonJS entry wraps at word boundaries (wrap-ansi),
// and loads faster. So the apps load yargs through require. help.test.ts checks the rendered help.
const require = createRequire(import.meta.url);
const yargsFactory = require('yargs/yargs') as (processArgs?: readonly string[]) => Argv;

/** A new yargs parser; the apps hand it their arguments with parseAsync (it never reads process.argv). -h is --help. */
export function newYargs(): Argv {
  return yargsFactory([]).alias('h', 'help');
}

/** A parse that stops before running: --help / --version text to print, or a usage error. */
export type ParseEnd = { kind: 'output'; text: string } | { kind: 'error'; message: string };

/** What parsing a command's arguments gives: its arguments to run with, or a ParseEnd (CommandShell.parseEnded reports it). */
export type Parsed<T> = { kind: 'run'; args: T } | ParseEnd;
