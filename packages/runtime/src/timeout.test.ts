import { describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core';
import { parseDuration } from './timeout.js';
import { systemContextFromEnv } from './environment.js';
import { parseDsvArgs } from './dsv.js';
import { parseDockerSignArgs, parseDockerVerifyArgs } from './legacy.js';
import { parseCopyArgs } from './copy.js';

describe('--timeout DURATION', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5m', 90_000],
    ['45', 45_000],
    [' 10s ', 10_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '0', '0s', '-5s', '5x', 's', '10 s', '1d', 'Infinity', '999999h'])('"%s" is a Usage error naming the option', (text) => {
    let err: unknown;
    try {
      parseDuration(text, 'DSV_TIMEOUT');
    } catch (e) {
      err = e;
    }
    expect(isDsvError(err, 'Usage')).toBe(true);
    expect((err as Error).message).toMatch(/^invalid DSV_TIMEOUT ".*": /);
  });

  it('DSV_TIMEOUT sets SystemContext.requestTimeoutMs; unset leaves the transports their default', () => {
    expect(systemContextFromEnv({ DSV_TIMEOUT: '2m', HOME: '/h' }).requestTimeoutMs).toBe(120_000);
    expect(systemContextFromEnv({ HOME: '/h' }).requestTimeoutMs).toBeUndefined();
    expect(() => systemContextFromEnv({ DSV_TIMEOUT: 'soon', HOME: '/h' })).toThrow('invalid DSV_TIMEOUT "soon": a duration such as 30s, 2m, 1h30m or 500ms');
  });

  it('every command takes it, before or after the subcommand', async () => {
    const run = (p: { kind: string; args?: unknown }) => (p.kind === 'run' ? (p.args as { timeoutMs?: number }).timeoutMs : p);
    expect(run(await parseDsvArgs(['--timeout', '30s', 'verify', 'docker://h/a:1']))).toBe(30_000);
    expect(run(await parseDsvArgs(['verify', '--timeout', '2m', 'docker://h/a:1']))).toBe(120_000);
    expect(run(await parseDsvArgs(['inspect', 'docker://h/a:1', '--timeout=5s']))).toBe(5000);
    expect(run(await parseDsvArgs(['sign', '-k', 'k', '--timeout', '1m', 'docker://h/a:1']))).toBe(60_000);
    expect(run(await parseDsvArgs(['verify', 'docker://h/a:1']))).toBeUndefined();
    expect(run(await parseDockerSignArgs(['--timeout', '10s', 'registry', 'h/a:1', 'h/a:2']))).toBe(10_000);
    expect(run(await parseDockerVerifyArgs(['registry', '--timeout', '10s', 'h/a:1']))).toBe(10_000);
    expect(run(await parseCopyArgs(['--timeout', '90s', 'docker://h/a:1', 'oci:/tmp/x']))).toBe(90_000);
    expect(run(await parseCopyArgs(['verify-same', '--timeout', '90s', 'docker://h/a:1', 'oci:/tmp/x']))).toBe(90_000);
  });

  it('a bad value is a usage error of the command line', async () => {
    for (const parsed of [
      await parseDsvArgs(['verify', '--timeout', 'forever', 'x']),
      await parseDockerVerifyArgs(['registry', '--timeout', 'forever', 'x']),
      await parseCopyArgs(['--timeout', 'forever', 'a', 'b']),
    ]) {
      expect(parsed).toEqual({ kind: 'error', message: 'invalid --timeout "forever": a duration such as 30s, 2m, 1h30m or 500ms' });
    }
  });
});
