import { expect, it } from 'vitest';
import { RegistryClient } from '@dsv/source-registry';
import { registrySuite } from './suite.js';

registrySuite('tls-htpasswd', (env) => {
  it('verifies TLS: without the CA from certs.d the connection fails (no HTTP fallback)', async () => {
    const c = new RegistryClient({ registry: env().reg.host, ctx: { ...env().ctx, certsDirs: [] } });
    try {
      const e = await c.listTags('dsv/app').catch((x: unknown) => x as { code: string; message: string });
      expect(e).toMatchObject({ code: 'Network' });
      expect((e as { message: string }).message).toMatch(/https:\/\/.*certs\.d/);
    } finally {
      await c.close();
    }
  });

  it('refuses wrong Basic credentials with AuthFailed and never prints the password', async () => {
    const c = new RegistryClient({ registry: env().reg.host, ctx: env().ctx, credentials: { username: env().reg.username!, password: 'not-the-password' } });
    try {
      const e = await c.listTags('dsv/app').catch((x: unknown) => x as { code: string; message: string });
      expect(e).toMatchObject({ code: 'AuthFailed' });
      expect(JSON.stringify(e)).not.toContain('not-the-password');
      expect(env().debug.join('\n')).not.toContain(env().reg.password!);
    } finally {
      await c.close();
    }
  });

  it('fails anonymous access with AuthFailed', async () => {
    const c = new RegistryClient({ registry: env().reg.host, ctx: env().ctx, credentials: null });
    try {
      await expect(c.listTags('dsv/app')).rejects.toMatchObject({ code: 'AuthFailed' });
    } finally {
      await c.close();
    }
  });
});
