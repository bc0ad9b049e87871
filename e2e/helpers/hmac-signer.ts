// A test-only signer (HMAC-SHA256 with a fixed key) for e2e flows that are about transports, not signers.
import { createHmac } from 'node:crypto';
import type { Signer, VerificationResult } from '@dsv/core';

const KEY = 'dsv-e2e-test-key';
const mac = (data: Uint8Array) => `HMAC:${createHmac('sha256', KEY).update(data).digest('hex')}`;

export const hmacSigner: Signer = {
  type: 'hmac',
  describeKey: async () => ({ type: 'hmac', keyId: 'e2e' }),
  sign: async (data) => mac(data),
};

export async function hmacVerify(data: Uint8Array, signature: string): Promise<VerificationResult> {
  return { status: signature === mac(data) ? 'valid' : 'invalid', type: 'hmac', keyId: 'e2e' };
}
