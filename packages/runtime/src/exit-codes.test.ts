import { describe, expect, it } from 'vitest';
import { DsvError, ErrorCodes, type ErrorCode } from '@dsv/core/formats';
import type { VerifyResult } from '@dsv/core/operations';
import { ExitCodeByErrorCode, ExitCodes, exitCodeFor, exitCodeForVerify, worstExitCode } from './exit-codes.js';

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
    ['LimitExceeded', 3],
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

  it('a failed verify exits 1, unless reading the image failed: then as that error would anywhere else', () => {
    const d = 'sha256:' + '0'.repeat(64);
    const result = (errors: { config?: DsvError; layer?: DsvError }, ok = false): VerifyResult =>
      ({
        reference: 'x',
        digest: d,
        kind: 'manifest',
        ok,
        failures: ok ? [] : ['x'],
        images: [
          {
            manifestDigest: d,
            configDigest: d,
            signatures: [],
            ok,
            failures: [],
            integrity: {
              manifestDigest: d,
              mediaType: 'm',
              configDigest: d,
              configOk: !errors.config,
              ...(errors.config ? { configError: errors.config } : {}),
              layers: [{ index: 0, descriptor: { mediaType: 'l', digest: d, size: 1 }, compression: 'none', digestOk: false, sizeOk: false, diffIdOk: false, ...(errors.layer ? { error: errors.layer } : {}) }],
              ok,
            },
          },
        ],
      }) as unknown as VerifyResult;
    expect(exitCodeForVerify(result({}, true))).toBe(0);
    expect(exitCodeForVerify(result({}))).toBe(1);
    expect(exitCodeForVerify(result({ layer: new DsvError('DigestMismatch', 'x') }))).toBe(1);
    expect(exitCodeForVerify(result({ layer: new DsvError('LimitExceeded', 'bomb') }))).toBe(3);
    expect(exitCodeForVerify(result({ config: new DsvError('RemoteError', 'refusing redirect from HTTPS to plain HTTP') }))).toBe(3);
    expect(exitCodeForVerify(result({ config: new DsvError('Network', 'reset'), layer: new DsvError('DigestMismatch', 'x') }))).toBe(3);
  });
});
