// --timeout DURATION and DSV_TIMEOUT: the deadline of every network request (SystemContext.requestTimeoutMs), parsed once for every command.
import { DsvError, type SystemContext } from '@dsv/core';

/** The deadline when neither --timeout nor DSV_TIMEOUT is given (the registry client's own default). */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** The longest deadline a timer can hold (2^31 - 1 ms, ≈ 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as skopeo's --command-timeout takes it (Go's time.ParseDuration, the units dsv needs):
 * `500ms`, `30s`, `2m`, `1h30m`, `1.5m`; a bare number is seconds. Above zero and at most MAX_TIMEOUT_MS.
 * Anything else is a Usage error naming where the value came from.
 */
export function parseDuration(value: string, from = '--timeout'): number {
  const text = String(value).trim();
  const bad = (why: string) => new DsvError('Usage', `invalid ${from} "${value}": ${why}`, { option: from });
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) throw bad('a duration such as 30s, 2m, 1h30m or 500ms');
    ms = 0;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  }
  ms = Math.round(ms);
  if (!(ms > 0)) throw bad('it must be more than 0');
  if (ms > MAX_TIMEOUT_MS) throw bad('at most 596h');
  return ms;
}

/** The yargs declaration of --timeout, the same in every command. */
export function timeoutOption() {
  return {
    type: 'string' as const,
    describe:
      'Deadline of each network request, answer included: 30s, 2m, 1h30m (default 120s; a blob of known size also gets its transfer time at 64 KiB/s) [env DSV_TIMEOUT]',
    coerce: (v: unknown): number => {
      const s = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
      try {
        return parseDuration(s);
      } catch (e) {
        // yargs reports a coerce failure as a usage error (exit 2) with this message.
        throw new Error((e as Error).message);
      }
    },
  };
}

/** The requestTimeoutMs of a parsed --timeout (a number of ms after coerce), else undefined. */
export function timeoutArg(v: unknown): number | undefined {
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof last === 'number' && last > 0 ? last : undefined;
}

/** The SystemContext settings of --timeout, for context options' `system` (which win over DSV_TIMEOUT). */
export function timeoutSystem(ms: number | undefined): Partial<SystemContext> {
  return ms === undefined ? {} : { requestTimeoutMs: ms };
}
