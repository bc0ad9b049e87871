import { describe, expect, it } from 'vitest';
import { DsvError, ErrorCodes, type ErrorCode } from '@dsv/core/formats';
import { ExitCodeByErrorCode, ExitCodes, exitCodeFor, worstExitCode } from './exit-codes.js';

describe('exit codes', () => {
  it('maps every stable error code', () => {
    for (const code of Object.values(ErrorCodes)) {
      expect([1, 2, 3]).toContain(ExitCodeByErrorCode[code as ErrorCode]);
    }
  });

  it.each([
    ['DigestMismatch', 1],
    ['SizeMismatch', 1],
    ['SignatureInvalid', 1],
    ['UnknownKey', 1],
    ['NoSignatures', 1],
    ['Untrusted', 1],
    ['ReferenceInvalid', 2],
    ['KeyInvalid', 2],
    ['PassphraseInvalid', 2],
    ['Usage', 2],
    ['NotFound', 2],
    ['Network', 3],
    ['AuthFailed', 3],
    ['RemoteError', 3],
    ['IoError', 3],
  ] as const)('%s -> %i', (code, exit) => {
    expect(exitCodeFor(new DsvError(code, 'x'))).toBe(exit);
  });

  it('treats anything else as an operational failure', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(ExitCodes.Operational);
    expect(exitCodeFor('string')).toBe(3);
  });

  it('takes the worst of several outcomes', () => {
    expect(worstExitCode([])).toBe(0);
    expect(worstExitCode([0, 1, 0])).toBe(1);
    expect(worstExitCode([1, 3, 2])).toBe(3);
  });
});
