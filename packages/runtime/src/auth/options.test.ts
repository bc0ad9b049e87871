import { describe, expect, it } from 'vitest';
import { isDsvError } from '@dsv/core/formats';
import { repositoryReference } from '../list-tags.js';
import { loginRegistry, parseLoginArgs } from './login.js';
import { authSystem, copyAuthFlagsOf, credsSecretsInArgs, parseCreds } from './options.js';

const noTty = { interactive: false, promptSecret: async () => 'typed-password', addSecret: () => {} };

describe('registry auth flags', () => {
  it('reads --creds USER[:PASSWORD] as skopeo does (the password may hold ":")', () => {
    expect(parseCreds('alice:pa:ss')).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(parseCreds('alice')).toEqual({ username: 'alice' });
    expect(parseCreds('alice:')).toEqual({ username: 'alice', password: '' });
    expect(() => parseCreds(':pw', '--src-creds')).toThrow('--src-creds needs USER[:PASSWORD], with a user name');
  });

  it('finds the passwords to scrub in every creds flag, whole value and password part', () => {
    expect(credsSecretsInArgs(['--creds', 'u:secret1', '--src-creds=v:secret2', '--dest-creds', 'w:x:y', 'img'])).toEqual(['u:secret1', 'secret1', 'v:secret2', 'secret2', 'w:x:y', 'x:y']);
    expect(credsSecretsInArgs(['--creds', 'just-a-user', 'img'])).toEqual([]);
  });

  it('--creds wins over the files; USER alone asks on a terminal and is a usage error without one', async () => {
    const added: string[] = [];
    const tty = { interactive: true, promptSecret: async () => 'typed-password', addSecret: (s: string) => added.push(s) };
    expect(await authSystem({ HOME: '/h' }, { authfile: '/a.json', creds: 'bob:pw12' }, tty)).toEqual({
      credentialsFiles: ['/a.json'],
      registryCredentials: { username: 'bob', password: 'pw12', source: '--creds (user bob)' },
    });
    expect((await authSystem({ HOME: '/h' }, { creds: 'bob' }, tty)).registryCredentials?.password).toBe('typed-password');
    expect(added).toEqual(['pw12', 'typed-password']);
    const e = await authSystem({}, { creds: 'bob' }, noTty, { creds: '--dest-creds' }).catch((x: Error) => x);
    expect(isDsvError(e, 'Usage')).toBe(true);
    expect((e as Error).message).toBe('--dest-creds bob has no password and there is no terminal to ask for it: give --dest-creds USER:PASSWORD');
  });

  it('dsv-copy: --src-/--dest-authfile win over --authfile for their side', () => {
    expect(copyAuthFlagsOf({ authfile: '/both', destAuthfile: '/d', srcCreds: 'u:p' })).toEqual({ source: { authfile: '/both', creds: 'u:p' }, destination: { authfile: '/d' } });
  });
});

describe('dsv login arguments', () => {
  it('takes REGISTRY as docker login does: a URL, host:port, Docker Hub by any name (default)', () => {
    expect(loginRegistry('https://Registry.Example:5000/v2/')).toBe('registry.example:5000');
    expect(loginRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(loginRegistry(undefined)).toBe('docker.io');
    expect(() => loginRegistry('bad host')).toThrow('invalid registry');
  });

  it('refuses -p with --password-stdin, and a password without -u', async () => {
    expect(await parseLoginArgs('login', ['-u', 'a', '-p', 'x', '--password-stdin', 'h:1'])).toEqual({ kind: 'error', message: '--password and --password-stdin are mutually exclusive' });
    expect(await parseLoginArgs('login', ['--password-stdin', 'h:1'])).toEqual({ kind: 'error', message: 'a password needs --username (-u USER)' });
    expect(await parseLoginArgs('login', ['-u', 'a', '--password-stdin', 'h:1'])).toMatchObject({ kind: 'run', args: { registry: 'h:1', username: 'a', passwordStdin: true } });
  });
});

describe('dsv list-tags REPO', () => {
  it('is a registry repository, with or without docker://, without tag or digest', () => {
    expect(repositoryReference('h:5000/a/b')).toBe('docker://h:5000/a/b');
    expect(repositoryReference('docker://h:5000/a/b')).toBe('docker://h:5000/a/b');
    expect(() => repositoryReference('h:5000/a/b:1')).toThrow('names a tag or digest');
    expect(() => repositoryReference('h/a@sha256:00')).toThrow('names a tag or digest');
    expect(() => repositoryReference('oci:/x')).toThrow('list-tags lists registry repositories');
  });
});
