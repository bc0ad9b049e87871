import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPluginEnv } from './plugin-env.js';
import { chooseLocalStore } from './run.js';

describe('buildPluginEnv', () => {
  test('the resolved endpoint replaces DOCKER_HOST/TLS variables; credentials come from the docker config dir', () => {
    const { env } = buildPluginEnv(
      { host: 'unix:///a.sock', source: '-H/--host', tlsVerify: false, configDir: '/cfg' },
      { DOCKER_HOST: 'tcp://old:1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/old', KEEP: 'x' },
    );
    expect(env).toMatchObject({ DOCKER_HOST: 'unix:///a.sock', DSV_CREDENTIALS_STORE: '/cfg/config.json', KEEP: 'x' });
    expect(env.DOCKER_TLS_VERIFY).toBeUndefined();
    expect(env.DOCKER_CERT_PATH).toBeUndefined();
    expect(buildPluginEnv({ host: 'unix:///a', source: 'x', tlsVerify: false, configDir: '/cfg' }, { DSV_CREDENTIALS_STORE: '/mine.json' }).env.DSV_CREDENTIALS_STORE).toBe('/mine.json');
  });
  test('TLS material in standard names is used in place; other names get a private directory of links', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-tls-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem', 'my-ca.crt']) writeFileSync(join(dir, f), f);
    const std = buildPluginEnv(
      { host: 'tcp://h:2376', source: 'x', tlsVerify: true, certPath: dir, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), configDir: dir },
      {},
    );
    expect(std.env).toMatchObject({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
    const other = buildPluginEnv(
      { host: 'tcp://h:2376', source: 'x', tlsVerify: true, certPath: dir, caFile: join(dir, 'my-ca.crt'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), configDir: dir },
      {},
    );
    const linkDir = other.env.DOCKER_CERT_PATH!;
    expect(linkDir).not.toBe(dir);
    expect(readFileSync(join(linkDir, 'ca.pem'), 'utf8')).toBe('my-ca.crt');
    expect(readFileSync(join(linkDir, 'key.pem'), 'utf8')).toBe('key.pem');
    other.cleanup();
    expect(existsSync(linkDir)).toBe(false);
  });
});

describe('chooseLocalStore', () => {
  const ep = (host: string) => ({ host, source: 'x', tlsVerify: false, configDir: '/cfg' });
  test('DSV_DOCKER_ROOT with a readable graph-driver store: read it on disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dsv-root-'));
    mkdirSync(join(root, 'image', 'overlay2'), { recursive: true });
    expect(await chooseLocalStore(ep('tcp://elsewhere:2375'), { DSV_DOCKER_ROOT: root })).toMatchObject({ transport: 'docker-storage', root });
  });
  test('an unreadable store or a remote daemon: through the Engine API', async () => {
    expect(await chooseLocalStore(ep('unix:///x'), { DSV_DOCKER_ROOT: join(tmpdir(), 'no-such-docker-root') })).toMatchObject({ transport: 'docker-daemon' });
    expect(await chooseLocalStore(ep('tcp://10.0.0.1:2375'), {})).toMatchObject({ transport: 'docker-daemon', why: expect.stringMatching(/not on this machine/) });
    // A daemon that does not answer /info: its store is unknown, never assumed to be /var/lib/docker.
    const sock = join(mkdtempSync(join(tmpdir(), 'dsv-sock-')), 'none.sock');
    expect(await chooseLocalStore(ep(`unix://${sock}`), {})).toMatchObject({ transport: 'docker-daemon', why: expect.stringMatching(/GET \/info/) });
  });
});
