import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { RegistryClient, resolveCredentials } from '@dsv/source-registry';
import { tempDir } from '../helpers/proc.js';
import { registrySuite, writeCredentialHelper } from './suite.js';

registrySuite('token', (env) => {
  it('asked the token issuer for several scopes for the cross-repository mount', () => {
    const mountReq = env().reg.tokenRequests.find((r) => r.scopes.includes('repository:dsv/mount-src:pull') && r.scopes.includes('repository:dsv/mount-dst:pull,push'));
    expect(mountReq?.granted).toBe(true);
  });

  it('caches tokens per scope', async () => {
    const c = new RegistryClient({ registry: env().reg.host, ctx: env().ctx });
    try {
      await c.listTags('dsv/app');
      await c.getManifest('dsv/app', 'v1');
      await c.hasBlob('dsv/app', (await c.getManifest('dsv/app', 'v1')).digest);
      expect(c.stats.tokenFetches).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('anonymous callers get a token without access: AuthFailed', async () => {
    const c = new RegistryClient({ registry: env().reg.host, ctx: env().ctx, credentials: null });
    try {
      await expect(c.getManifest('dsv/app', 'v1')).rejects.toMatchObject({ code: 'AuthFailed' });
    } finally {
      await c.close();
    }
  });

  it('gets credentials from a real docker-credential-<name> helper (credsStore)', async () => {
    const reg = env().reg;
    const bin = writeCredentialHelper('dsvtest', reg.host, reg.username!, reg.password!);
    const dir = tempDir('dsv-credstore-');
    const store = join(dir, 'config.json');
    writeFileSync(store, JSON.stringify({ auths: { [reg.host]: {} }, credsStore: 'dsvtest' }));
    const pathEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    expect(await resolveCredentials(reg.host, { credentialsStore: store, childEnv: pathEnv })).toEqual({ username: reg.username, password: reg.password });
    expect(await resolveCredentials('other.example:5000', { credentialsStore: store, childEnv: pathEnv })).toBeUndefined();
    const c = new RegistryClient({ registry: reg.host, ctx: { ...env().ctx, credentialsStore: store, childEnv: pathEnv } });
    try {
      expect(await c.listTags('dsv/app')).toEqual(['v1']);
    } finally {
      await c.close();
    }
  });
});
