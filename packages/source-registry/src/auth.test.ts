// Unit tests of the WWW-Authenticate parser, the token cache, the credentials store and helpers, and the loopback / insecure / certs.d checks.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenCache, parseAuthChallenge } from './auth.js';
import { credentialHelperGet, defaultChildEnv, defaultCredentialsStore, normaliseAuthKey, resolveCredentials } from './credentials.js';
import { isListedInsecure, isLoopbackHost, loadCertsD } from './tls.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dsv-registry-unit-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('parseAuthChallenge', () => {
  it('parses a Bearer challenge with quoted params', () => {
    expect(parseAuthChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'Bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('parses several challenges, token values, escapes and odd spacing', () => {
    const c = parseAuthChallenge('Basic realm="a \\"b\\"" , Bearer realm=https://x/t, error=insufficient_scope,  Negotiate');
    expect(c.map((x) => x.scheme)).toEqual(['Basic', 'Bearer', 'Negotiate']);
    expect(c[0]!.params).toEqual({ realm: 'a "b"' });
    expect(c[1]!.params).toEqual({ realm: 'https://x/t', error: 'insufficient_scope' });
  });

  it('keeps commas inside quoted scope lists and lower-cases param names', () => {
    const [c] = parseAuthChallenge('bearer Realm="r",Scope="repository:a:pull,push repository:b:pull"');
    expect(c!.params).toEqual({ realm: 'r', scope: 'repository:a:pull,push repository:b:pull' });
  });

  it('reads a token68 and survives garbage', () => {
    expect(parseAuthChallenge('Negotiate abc/def+ghi==')).toEqual([{ scheme: 'Negotiate', params: {}, token68: 'abc/def+ghi==' }]);
    expect(parseAuthChallenge('')).toEqual([]);
    expect(parseAuthChallenge('Bearer realm="unterminated')[0]!.params).toEqual({});
  });
});

describe('TokenCache', () => {
  it('keys by sorted scope set and expires', () => {
    const c = new TokenCache();
    const k1 = TokenCache.key('https://r', 's', ['b', 'a', 'a']);
    expect(k1).toBe(TokenCache.key('https://r', 's', ['a', 'b']));
    c.set(k1, 'tok', 60, 1_000);
    expect(c.get(k1, 2_000)).toBe('tok');
    expect(c.get(k1, 1_000 + 61_000)).toBeUndefined();
  });

  it('drops expired tokens of other scopes as it grows (a client shared by a run over many repositories)', () => {
    const c = new TokenCache();
    for (let i = 0; i < TokenCache.SWEEP_AT; i++) c.set(TokenCache.key('https://r', 's', [`repository:r${i}:pull`]), `t${i}`, 60, 1_000);
    expect(c.size).toBe(TokenCache.SWEEP_AT);
    c.set(TokenCache.key('https://r', 's', ['repository:late:pull']), 'late', 60, 1_000 + 61_000);
    expect(c.size).toBe(1);
    c.set(TokenCache.key('https://r', 's', ['repository:next:pull']), 'next', 60, 1_000 + 62_000);
    expect(c.size).toBe(2);
  });
});

describe('TLS helpers', () => {
  it('knows loopback only by name', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'registry.local', '128.0.0.1', 'localhost.example.com', '::2']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('matches insecure registries by host:port, or by host when no port is listed', () => {
    expect(isListedInsecure('reg.lan:5000', ['reg.lan:5000'])).toBe(true);
    expect(isListedInsecure('reg.lan:5000', ['reg.lan'])).toBe(true);
    expect(isListedInsecure('reg.lan:5000', ['reg.lan:5001'])).toBe(false);
    expect(isListedInsecure('reg.lan', ['http://reg.lan/'])).toBe(true);
  });

  it('reads certs.d: *.crt CAs and *.cert/*.key pairs; the first directory with the host wins', () => {
    const a = tmp();
    const b = tmp();
    mkdirSync(join(a, 'reg:5000'));
    mkdirSync(join(b, 'reg:5000'));
    writeFileSync(join(a, 'reg:5000', 'ca.crt'), 'CA-A');
    writeFileSync(join(a, 'reg:5000', 'client.cert'), 'CERT');
    writeFileSync(join(a, 'reg:5000', 'client.key'), 'KEY');
    writeFileSync(join(b, 'reg:5000', 'ca.crt'), 'CA-B');
    const m = loadCertsD('reg:5000', [join(a, 'missing'), a, b]);
    expect(m.ca.map(String)).toEqual(['CA-A']);
    expect(String(m.cert)).toBe('CERT');
    expect(String(m.key)).toBe('KEY');
    expect(loadCertsD('other:1', [a, b]).ca).toEqual([]);
    writeFileSync(join(b, 'reg:5000', 'lonely.key'), 'KEY');
    expect(() => loadCertsD('reg:5000', [b])).toThrow(/no matching certificate/);
  });
});

describe('resolveCredentials', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('reads auths by host:port and by legacy https://host/v1/ keys (the docker-sign-verify fixture format)', async () => {
    const d = tmp();
    const store = join(d, 'config.json');
    writeFileSync(
      store,
      JSON.stringify({
        auths: { 'endpoint:port': { auth: 'dXNlcm5hbWU6cGFzc3dvcmQ=' }, 'https://endpoint2:port2/v1/': { auth: 'dXNlcm5hbWUyOnBhc3N3b3JkMg==' } },
        HttpHeaders: { 'User-Agent': 'Docker-Client/18.09.0 (linux)' },
      }).replace(/port2/g, '5002').replace(/endpoint:port/g, 'endpoint:5001'),
    );
    expect(await resolveCredentials('endpoint:5001', { credentialsStore: store })).toEqual({ username: 'username', password: 'password' });
    expect(await resolveCredentials('endpoint2:5002', { credentialsStore: store })).toEqual({ username: 'username2', password: 'password2' });
    expect(await resolveCredentials('nowhere:1', { credentialsStore: store })).toBeUndefined();
    expect(await resolveCredentials('x:1', { credentialsStore: join(d, 'absent.json') })).toBeUndefined();
  });

  it('reads passwords with colons, identity tokens, and Docker Hub under its legacy key', async () => {
    const d = tmp();
    const store = join(d, 'config.json');
    writeFileSync(
      store,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:pa:ss') },
          'reg.example.com': { auth: '', identitytoken: 'refresh-me' },
        },
      }),
    );
    expect(await resolveCredentials('docker.io', { credentialsStore: store })).toEqual({ username: 'hubuser', password: 'pa:ss' });
    expect(await resolveCredentials('reg.example.com', { credentialsStore: store })).toEqual({ identityToken: 'refresh-me' });
  });

  it('defaults the store to <home>/.docker/config.json, the home given explicitly', async () => {
    const home = tmp();
    mkdirSync(join(home, '.docker'));
    writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'r:1': { auth: b64('u:p') } } }));
    expect(defaultCredentialsStore(home)).toBe(join(home, '.docker', 'config.json'));
    expect(await resolveCredentials('r:1', { credentialsStore: defaultCredentialsStore(home) })).toEqual({ username: 'u', password: 'p' });
    expect(defaultChildEnv(home)).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home });
  });

  it('refuses a malformed store with an error that names the file but not its content', async () => {
    const d = tmp();
    const store = join(d, 'bad.json');
    writeFileSync(store, '{"auths": {"r:1": {"auth": "secret-ish"');
    await expect(resolveCredentials('r:1', { credentialsStore: store })).rejects.toMatchObject({ code: 'IoError', message: expect.stringContaining(store) });
    await expect(resolveCredentials('r:1', { credentialsStore: store })).rejects.not.toMatchObject({ message: expect.stringContaining('secret-ish') });
  });

  it('runs docker-credential-<name> for credHelpers and credsStore; "credentials not found" is no credentials', async () => {
    const bin = tmp();
    const helper = (name: string, script: string) => {
      writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\n${script}\n`);
      chmodSync(join(bin, `docker-credential-${name}`), 0o755);
    };
    helper('good', 'read -r u; [ "$1" = get ] || exit 3; printf \'{"ServerURL":"%s","Username":"hu","Secret":"hs"}\' "$u"');
    helper('token', 'read -r u; printf \'{"Username":"<token>","Secret":"idt"}\'');
    helper('none', 'echo "credentials not found in native keychain"; exit 1');
    helper('broken', 'echo "oops the-secret"; exit 2');
    // Only the given environment reaches a helper (not this process's: HOME, say): it prints what it got as its secret.
    helper('envcheck', 'read -r u; printf \'{"Username":"e","Secret":"%s%s"}\' "$DSV_TEST_MARK" "${HOME:+-home-leaked}"');
    const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, DSV_TEST_MARK: 'given' };
    const d = tmp();
    const store = join(d, 'config.json');
    writeFileSync(
      store,
      JSON.stringify({
        auths: { 'fallback:1': { auth: b64('fu:fp') } },
        credsStore: 'none',
        credHelpers: { 'good:1': 'good', 'tok:1': 'token', 'broken:1': 'broken', 'https://index.docker.io/v1/': 'good' },
      }),
    );
    expect(await resolveCredentials('good:1', { credentialsStore: store, childEnv: env })).toEqual({ username: 'hu', password: 'hs' });
    expect(await resolveCredentials('tok:1', { credentialsStore: store, childEnv: env })).toEqual({ identityToken: 'idt' });
    expect(await resolveCredentials('docker.io', { credentialsStore: store, childEnv: env })).toEqual({ username: 'hu', password: 'hs' });
    // credsStore "none" has nothing; the auths entry is still used.
    expect(await resolveCredentials('fallback:1', { credentialsStore: store, childEnv: env })).toEqual({ username: 'fu', password: 'fp' });
    expect(await resolveCredentials('other:1', { credentialsStore: store, childEnv: env })).toBeUndefined();
    const e = await resolveCredentials('broken:1', { credentialsStore: store, childEnv: env }).catch((x: Error) => x);
    expect(e).toMatchObject({ code: 'AuthFailed' });
    expect((e as Error).message).not.toContain('the-secret');
    await expect(credentialHelperGet('does-not-exist-xyz', 'r', env)).rejects.toMatchObject({ code: 'AuthFailed' });
    await expect(credentialHelperGet('../evil', 'r', env)).rejects.toMatchObject({ code: 'AuthFailed' });
    expect(await credentialHelperGet('envcheck', 'r', env)).toEqual({ username: 'e', password: 'given' });
  });

  it('normalises legacy keys', () => {
    expect(normaliseAuthKey('https://Reg.Example:5000/v1/')).toBe('reg.example:5000');
    expect(normaliseAuthKey('reg:5000')).toBe('reg:5000');
  });
});
