import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { RegistryClient } from '@dsv/source-registry';
import { requireTool } from '../helpers/proc.js';
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

  it('trusts a CA given as SSL_CERT_FILE instead of certs.d, as skopeo (Go) does', async () => {
    const { reg } = env();
    const sslEnv = { ...process.env, SSL_CERT_FILE: reg.caCert! };
    const c = new RegistryClient({ registry: reg.host, ctx: { ...env().ctx, certsDirs: [], tlsRoots: { certFile: reg.caCert! } } });
    try {
      expect(await c.listTags('skopeo/app')).toContain('v1');
    } finally {
      await c.close();
    }
    const { stdout } = await promisify(execFile)(requireTool('skopeo'), ['inspect', '--creds', `${reg.username}:${reg.password}`, `docker://${reg.host}/skopeo/app:v1`], { env: sslEnv });
    expect(JSON.parse(stdout)).toHaveProperty('Digest');
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
