/**
 * Colour in the shell's output: only on a terminal, never under NO_COLOR (https://no-color.org: set and
 * not empty) or TERM=dumb. Verdict lines on stdout and the `prog: error:` / `warning:` prefixes on stderr.
 */
export interface ColourStream {
  isTTY?: boolean;
}

/** Whether text written to `stream` may carry colour escapes. */
export function colourEnabled(stream: ColourStream, env: Readonly<Record<string, string | undefined>>): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

const paint = (code: string, text: string) => `\x1b[${code}m${text}\x1b[0m`;

/** Verdict lines coloured: `Verified:` / `Created new image:` / `Copied` green, `NOT verified:` red. */
export function colourStdout(text: string): string {
  return text.replace(/^(Verified:|Integrity check passed\.|Signature check passed\.|Created new image:|Copied |SAME:)(.*)$/gm, (_m, a: string, b: string) => paint('32', a + b))
    .replace(/^(NOT verified:|DIFFERENT)(.*)$/gm, (_m, a: string, b: string) => paint('1;31', a + b));
}

/** `prog: error:` red and `prog: warning:` yellow; the message itself is left plain. */
export function colourStderr(text: string): string {
  return text.replace(/^([^\s:]+(?: [^\s:]+)?: )(error:|warning:)/gm, (_m, prog: string, kind: string) => `${prog}${paint(kind === 'error:' ? '1;31' : '33', kind)}`);
}
