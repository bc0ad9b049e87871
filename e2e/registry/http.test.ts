import { expect, it } from 'vitest';
import { RegistryClient } from '@dsv/source-registry';
import { registrySuite } from './suite.js';

registrySuite('http', (env) => {
  it('reaches the loopback registry over plain HTTP only after the HTTPS handshake fails', async () => {
    const debug: string[] = [];
    const c = new RegistryClient({ registry: env().reg.host, ctx: { ...env().ctx, debug: (m) => debug.push(m) } });
    try {
      expect(await c.listTags('dsv/app')).toEqual(['v1']);
      expect(debug.some((l) => l.includes('using plain HTTP'))).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('never uses plain HTTP for a host that is not loopback by name', async () => {
    // `127.0.0.1.nip.invalid`-style names are not loopback; here: a host name resolved to 127.0.0.1.
    const port = env().reg.host.split(':')[1];
    const debug: string[] = [];
    const c = new RegistryClient({
      registry: `registry.dsv.test:${port}`,
      ctx: { ...env().ctx, retryTimes: 0, debug: (m) => debug.push(m) },
      lookup: ((_h: string, o: unknown, cb: unknown) => {
        const callback = (typeof o === 'function' ? o : cb) as (...a: unknown[]) => void;
        if (typeof o === 'object' && o && (o as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      }) as never,
    });
    try {
      await expect(c.listTags('dsv/app')).rejects.toMatchObject({ code: 'Network', message: expect.stringContaining('https://registry.dsv.test') });
      expect(debug.join('\n')).not.toContain('plain HTTP');
    } finally {
      await c.close();
    }
  });
});
