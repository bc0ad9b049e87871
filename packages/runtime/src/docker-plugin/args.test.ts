import { describe, expect, test } from 'vitest';
import { formatHelp, formatUsageError, parseArgs } from './args.js';
import { SIGN_SPEC, VERIFY_SPEC } from './specs.js';

describe('parseArgs (pflag-like)', () => {
  test('long, long=value, short, short-joined and short=value forms', () => {
    const p = parseArgs(SIGN_SPEC, ['--key', 'a', 'img', '--key-type=pki', '-s', 'endorse', '--dry-run', 'dst']);
    expect(p.values).toMatchObject({ key: 'a', 'key-type': 'pki', 'signature-type': 'endorse', 'dry-run': true });
    expect(p.positionals).toEqual(['img', 'dst']);
    expect(parseArgs(SIGN_SPEC, ['-kABCD', 'x']).values.key).toBe('ABCD');
    expect(parseArgs(SIGN_SPEC, ['-k=ABCD', 'x']).values.key).toBe('ABCD');
    expect(parseArgs(SIGN_SPEC, ['--dry-run=false', 'x']).values['dry-run']).toBe(false);
  });
  test('repeatable lists keep every value; the last string wins', () => {
    const p = parseArgs(VERIFY_SPEC, ['--trust', 'a.asc', 'img', '--trust=b.pem', '--platform', 'linux/amd64', '--platform', 'linux/arm64']);
    expect(p.values.trust).toEqual(['a.asc', 'b.pem']);
    expect(p.values.platform).toBe('linux/arm64');
  });
  test('docker sign --signer-opt is repeatable, each value whole', () => {
    expect(parseArgs(SIGN_SPEC, ['--signer-opt', 'a=1,2', 'img', '--signer-opt=shared-key:b=3']).values['signer-opt']).toEqual(['a=1,2', 'shared-key:b=3']);
    expect(() => parseArgs(VERIFY_SPEC, ['--signer-opt', 'a=1', 'img'])).toThrow('unknown flag: --signer-opt');
  });
  test('-- ends the options; -h and --help ask for help', () => {
    expect(parseArgs(VERIFY_SPEC, ['--', '--json']).positionals).toEqual(['--json']);
    expect(parseArgs(VERIFY_SPEC, ['-h']).help).toBe(true);
    expect(parseArgs(VERIFY_SPEC, ['img', '--help']).help).toBe(true);
  });
  test('unknown flags and missing values are usage errors', () => {
    expect(() => parseArgs(VERIFY_SPEC, ['--nope'])).toThrow(/unknown flag: --nope/);
    expect(() => parseArgs(VERIFY_SPEC, ['-x'])).toThrow(/unknown shorthand flag: 'x'/);
    expect(() => parseArgs(SIGN_SPEC, ['img', '--key'])).toThrow(/flag needs an argument: --key/);
    expect(() => parseArgs(SIGN_SPEC, ['img', '-k'])).toThrow(/flag needs an argument/);
    expect(() => parseArgs(SIGN_SPEC, ['--dry-run=maybe'])).toThrow(/invalid argument "maybe"/);
  });
});

describe('help', () => {
  test('reads like the Docker CLI\'s own help', () => {
    const h = formatHelp(SIGN_SPEC);
    expect(h.startsWith('\nUsage:  docker sign [OPTIONS] IMAGE [DEST]\n\n')).toBe(true);
    expect(h).toContain('\nOptions:\n');
    expect(h).toMatch(/^ {6}--dry-run {3,}Do everything/m);
    expect(h).toMatch(/^ {2}-k, --key string {3,}Signing key/m);
    expect(h).toMatch(/--signature-type type .*\(default "sign"\)/s);
    const v = formatHelp(VERIFY_SPEC);
    expect(v).toContain('Usage:  docker verify [OPTIONS] IMAGE [IMAGE...]');
    expect(v).toMatch(/--trust file/);
    expect(v).toMatch(/--remote/);
  });
  test('usage errors name the problem and point at --help', () => {
    expect(formatUsageError(SIGN_SPEC, 'unknown flag: --x')).toBe(
      "docker sign: unknown flag: --x\n\nUsage:  docker sign [OPTIONS] IMAGE [DEST]\n\nRun 'docker sign --help' for more information\n",
    );
  });
});
