// A fake signer plugin for tests of plugin registries and loaders (not a real signature scheme).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignerPlugin } from '@dsv/core/formats';

/**
 * A tiny signer plugin for tests of registries and loaders: HMAC-SHA256 keyed by the key string, its
 * signatures `PREFIX` + key + `:` + hex MAC; `settings.explode` makes verify throw.
 */
export function hmacSignerPlugin(type: string, prefix = `${type.toUpperCase()}:`): SignerPlugin {
  return {
    type,
    recognizes: (s) => s.startsWith(prefix),
    async createSigner({ key }) {
      return {
        type,
        describeKey: async () => ({ type, keyId: key }),
        sign: async (data) => prefix + key + ':' + createHmac('sha256', key).update(data).digest('hex'),
      };
    },
    async createVerifier({ trust = [], settings }) {
      return {
        type,
        recognizes: (s) => s.startsWith(prefix),
        async verify(data, sig) {
          if (settings?.explode) throw new Error('boom');
          const [, key, mac] = sig.split(':');
          if (!trust.includes(key!)) return { status: 'unknown-key', type, keyId: key };
          const want = createHmac('sha256', key!).update(data).digest();
          const got = Buffer.from(mac ?? '', 'hex');
          const ok = got.length === want.length && timingSafeEqual(got, want);
          return ok ? { status: 'valid', type, keyId: key } : { status: 'invalid', type, keyId: key, reason: 'mac' };
        },
      };
    },
  };
}
