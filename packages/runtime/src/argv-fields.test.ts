// Unit tests of the optional-field copying helpers used by the command-line parsers.
import { describe, expect, it } from 'vitest';
import { definedFields, givenOptions, lastValue } from './argv-fields.js';

describe('lastValue', () => {
  it('is the last of a repeated option, the value of a single one, undefined when absent', () => {
    expect(lastValue(['a', 'b'])).toBe('b');
    expect(lastValue('x')).toBe('x');
    expect(lastValue(3)).toBe('3');
    expect(lastValue(undefined)).toBeUndefined();
    expect(lastValue('')).toBe('');
  });
});

describe('givenOptions', () => {
  it('copies only the options given, under their own key or the one keyOf names', () => {
    const argv = { key: ['k1', 'k2'], keyType: 'gpg', 'registries.d': '/r', unrelated: 'x' };
    const got = givenOptions(argv, ['key', 'keyType', 'passphraseFile', 'registriesD'], { registriesD: 'registries.d' });
    expect(got).toEqual({ key: 'k2', keyType: 'gpg', registriesD: '/r' });
    expect(Object.keys(got)).not.toContain('passphraseFile');
  });

  it('gives an empty object when nothing was given', () => {
    expect(givenOptions({}, ['key', 'server'])).toEqual({});
  });
});

describe('definedFields', () => {
  it('keeps the named fields that are set, and never writes an undefined one', () => {
    const a: { key?: string; keypass?: string; format: string; n?: number } = { key: 'k', format: 'simple', n: 0 };
    const got = definedFields(a, ['key', 'keypass', 'n']);
    expect(got).toEqual({ key: 'k', n: 0 });
    expect('keypass' in got).toBe(false);
  });

  it('keeps falsy values that are not undefined', () => {
    expect(definedFields({ a: '', b: false, c: null as string | null }, ['a', 'b', 'c'])).toEqual({ a: '', b: false, c: null });
  });
});
