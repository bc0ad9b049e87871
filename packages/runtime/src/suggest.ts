/**
 * "Did you mean": the known command closest to a mistyped one, and the commands a yargs parser knows
 * (read from the parser itself, so commands added anywhere are suggested too).
 */
import type { Argv } from 'yargs';

/** Levenshtein distance, with a transposition counted as one edit ("sgin" -> "sign"). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a typo (or `word` is a prefix of only it). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => w.length >= 2 && c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  const allowed = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** The commands a yargs parser declares (not `$0`, not hidden internals). */
export function commandsOf(parser: Argv): string[] {
  const internal = (parser as unknown as { getInternalMethods?: () => { getCommandInstance(): { getCommands(): string[] } } }).getInternalMethods?.();
  return (internal?.getCommandInstance().getCommands() ?? []).filter((c) => c !== '$0' && !c.startsWith('__'));
}

/** `unknown command "sgin": did you mean "sign"?` (or the list of commands when nothing is close). */
export function unknownCommandMessage(word: string, commands: readonly string[], what = 'command'): string {
  const near = closest(word, commands);
  return near ? `unknown ${what} "${word}": did you mean "${near}"?` : `unknown ${what} "${word}" (${commands.join(', ')})`;
}
