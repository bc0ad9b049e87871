import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyTrustFile, createContext, createTransportRegistry, signerSettingsFromEnv, systemContextFromEnv } from './context.js';
import { credentialsFilesFromEnv, dockerEndpointFromEnv } from './environment.js';

describe('SystemContext from the environment', () => {
  it('maps every DSV_* / DOCKER_* / TLS variable to a typed field, plus flags', () => {
    const env = {
      HOME: '/home/u',
      DSV_CREDENTIALS_STORE: '/c/config.json',
      DSV_INSECURE_REGISTRIES: 'a:5000, b',
      DSV_CERTS_D: '/etc/one:/etc/two',
      DSV_DEFAULT_REGISTRY: 'registry.example',
      DSV_DOCKERHUB_AUTH: 'auth.example',
      DOCKER_HOST: 'tcp://10.0.0.1:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: '/certs',
      DSV_DOCKER_ROOT: '/data/docker',
      DSV_DEVICEMAPPER_POOL: 'docker-thinpool',
      SSL_CERT_FILE: '/ca/bundle.pem',
      SSL_CERT_DIR: '/ca/one:/ca/two',
      NODE_EXTRA_CA_CERTS: '/ca/extra.pem',
    };
    const ctx = systemContextFromEnv(env, { insecureRegistries: ['c', 'a:5000'] });
    expect(ctx).toEqual({
      credentialsStore: '/c/config.json',
      credentialsFiles: ['/home/u/.config/containers/auth.json', '/c/config.json'],
      insecureRegistries: ['a:5000', 'b', 'c'],
      certsDirs: ['/etc/one', '/etc/two'],
      defaultRegistry: 'registry.example',
      dockerHubAuth: 'auth.example',
      dockerEndpoint: { host: 'tcp://10.0.0.1:2376', tlsVerify: true, caFile: '/certs/ca.pem', certFile: '/certs/cert.pem', keyFile: '/certs/key.pem' },
      tlsRoots: { certFile: '/ca/bundle.pem', certDirs: ['/ca/one', '/ca/two'], extraCaFile: '/ca/extra.pem' },
      childEnv: env,
      dockerRoot: '/data/docker',
      devicemapperPool: 'docker-thinpool',
    });
    expect(ctx.childEnv).not.toBe(env);
  });

  it('fills the defaults the transports used to compute themselves, and nothing else', () => {
    expect(systemContextFromEnv({ HOME: '/home/u', DOCKER_TLS_VERIFY: '' })).toEqual({
      credentialsStore: '/home/u/.docker/config.json',
      credentialsFiles: ['/home/u/.config/containers/auth.json', '/home/u/.docker/config.json'],
      certsDirs: ['/etc/docker/certs.d', '/home/u/.docker/certs.d'],
      dockerEndpoint: { host: 'unix:///var/run/docker.sock' },
      tlsRoots: {},
      childEnv: { HOME: '/home/u', DOCKER_TLS_VERIFY: '' },
    });
    // DOCKER_TLS_VERIFY=0 / false is off, as for the docker CLI; TLS files default to ~/.docker.
    expect(dockerEndpointFromEnv({ DOCKER_HOST: 'tcp://h:2375', DOCKER_TLS_VERIFY: '0' })).toEqual({ host: 'tcp://h:2375' });
    expect(dockerEndpointFromEnv({ HOME: '/home/u', DOCKER_TLS_VERIFY: 'yes' })).toMatchObject({ tlsVerify: true, caFile: '/home/u/.docker/ca.pem' });
  });

  it('asks the registry auth files in skopeo\'s order; a named file (--authfile, REGISTRY_AUTH_FILE) is the only one', () => {
    const home = { HOME: '/home/u' };
    expect(credentialsFilesFromEnv({ ...home, XDG_RUNTIME_DIR: '/run/user/1', DOCKER_CONFIG: '/dc' })).toEqual([
      '/run/user/1/containers/auth.json',
      '/home/u/.config/containers/auth.json',
      '/dc/config.json',
    ]);
    expect(credentialsFilesFromEnv({ ...home, XDG_CONFIG_HOME: '/xdg' })).toEqual(['/xdg/containers/auth.json', '/home/u/.docker/config.json']);
    expect(credentialsFilesFromEnv({ ...home, REGISTRY_AUTH_FILE: '/r.json', DOCKER_CONFIG: '/dc' })).toEqual(['/r.json']);
    expect(credentialsFilesFromEnv({ ...home, REGISTRY_AUTH_FILE: '/r.json' }, '/flag.json')).toEqual(['/flag.json']);
    // DOCKER_CONFIG is where docker keeps its credentials (and where dsv login writes); DSV_CREDENTIALS_STORE wins.
    expect(systemContextFromEnv({ ...home, DOCKER_CONFIG: '/dc' }).credentialsStore).toBe('/dc/config.json');
    expect(systemContextFromEnv({ ...home, DOCKER_CONFIG: '/dc', DSV_CREDENTIALS_STORE: '/s.json' }).credentialsStore).toBe('/s.json');
  });

  it('passes the GnuPG home (DSV_GPG_DATASTORE, then GNUPGHOME, then ~/.gnupg) and the PKI store to the signers', () => {
    expect(signerSettingsFromEnv({ DSV_GPG_DATASTORE: '/g', GNUPGHOME: '/other' }).gpg).toEqual({ gpgHome: '/g' });
    expect(signerSettingsFromEnv({ GNUPGHOME: '/gh' }).gpg).toEqual({ gpgHome: '/gh' });
    expect(signerSettingsFromEnv({ HOME: '/home/u' }).gpg).toEqual({ gpgHome: '/home/u/.gnupg' });
    expect(signerSettingsFromEnv({ HOME: '/home/u' }).pki).toEqual({ datastore: '/home/u/.dsv.pem' });
    expect(signerSettingsFromEnv({ DSV_PKI_DATASTORE: '/p.pem' }).pki).toEqual({ datastore: '/p.pem' });
  });
});

describe('trust files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv-trust-'));
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  it('recognises OpenPGP and PEM/DER by content', async () => {
    const types = ['gpg', 'pki'];
    expect(await classifyTrustFile(file('k.asc', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n'), types)).toMatchObject({ type: 'gpg' });
    expect(await classifyTrustFile(file('k.gpg', Buffer.from([0x99, 0x01, 0x0d])), types)).toMatchObject({ type: 'gpg' });
    expect(await classifyTrustFile(file('ca.pem', '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n'), types)).toMatchObject({ type: 'pki' });
    expect(await classifyTrustFile(file('pub.pem', '-----BEGIN PUBLIC KEY-----\nMII\n-----END PUBLIC KEY-----\n'), types)).toMatchObject({ type: 'pki' });
    expect(await classifyTrustFile(file('c.der', Buffer.from([0x30, 0x82, 0x01])), types)).toMatchObject({ type: 'pki' });
  });

  it('honours an explicit TYPE: prefix for registered types only', async () => {
    const p = file('any', 'whatever');
    expect(await classifyTrustFile(`hmac:${p}`, ['gpg', 'pki', 'hmac'])).toEqual({ type: 'hmac', path: p });
    await expect(classifyTrustFile(p, ['gpg', 'pki'])).rejects.toMatchObject({ code: 'KeyInvalid' });
    // A type no loaded plugin provides: a usage error saying where plugins are found.
    await expect(classifyTrustFile(`shared-key:${p}`, ['gpg', 'pki'])).rejects.toMatchObject({
      code: 'Usage',
      message: `trust file shared-key:${p}: no signer plugin provides type "shared-key" (known: gpg, pki); plugins are found as dsv-signer-shared-key in ~/.dsv/plugins or on PATH`,
    });
  });

  it('names a missing trust file', async () => {
    await expect(classifyTrustFile(join(dir, 'nope.asc'), ['gpg'])).rejects.toMatchObject({ code: 'NotFound', message: expect.stringContaining('nope.asc') });
  });
});

describe('composition (lazy package loading)', () => {
  it('imports no transport or signer package statically (they load in createContext)', () => {
    const text = readFileSync(new URL('./context.ts', import.meta.url), 'utf8');
    const eager = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(eager.filter((m) => m !== undefined && /^@dsv\/(source|signer)-/.test(m))).toEqual([]);
  });

  it('registers every transport and both built-in signers', async () => {
    const transports = await createTransportRegistry();
    expect(transports.names().sort()).toEqual(['containerd', 'docker', 'docker-archive', 'docker-daemon', 'docker-storage', 'oci', 'oci-archive']);
    expect(transports.defaultTransport).toBe('docker');
    const ctx = await createContext({ env: {}, loadPlugins: false });
    expect(ctx.signers.types().sort()).toEqual(['gpg', 'pki']);
    expect(ctx.parseImage('localhost:5000/a/b:c').toString()).toBe('docker://localhost:5000/a/b:c');
    expect(ctx.parseImage('oci-archive:/tmp/x.tar').transport.name).toBe('oci-archive');
    expect(() => ctx.parseImage('docker://Bad Ref')).toThrow(expect.objectContaining({ code: 'ReferenceInvalid' }));
    expect(ctx.signers.forSignature('-----BEGIN PGP SIGNATURE-----\n')?.type).toBe('gpg');
  });

  it('tlsUnverified and certDirs: the registries of their docker references (the default registry for a bare name) get insecure, or their own certificate directory', async () => {
    const ctx = await createContext({
      env: { DSV_INSECURE_REGISTRIES: 'a:5000', DSV_DEFAULT_REGISTRY: 'mirror.example:5000' },
      loadPlugins: false,
      signers: false,
      transports: ['docker', 'oci'],
      tlsUnverified: ['docker://reg.example:8443/team/app:1', 'oci:/tmp/layout:1', 'busybox', 'a:5000/x'],
    });
    expect(ctx.system.insecureRegistries).toEqual(['a:5000', 'reg.example:8443', 'mirror.example:5000']);
    const dirs = await createContext({
      env: { DSV_DEFAULT_REGISTRY: 'mirror.example:5000' },
      loadPlugins: false,
      signers: false,
      transports: ['docker', 'oci'],
      certDirs: [['docker://reg.example:8443/team/app:1', '/certs/reg'], ['busybox', 'rel/mirror'], ['oci:/tmp/layout:1', '/ignored']],
    });
    expect(dirs.system.registryCertDirs).toEqual({ 'reg.example:8443': '/certs/reg', 'mirror.example:5000': join(process.cwd(), 'rel/mirror') });
    await expect(createContext({ env: {}, loadPlugins: false, signers: false, transports: ['docker'], tlsUnverified: ['docker://Bad Ref'] })).rejects.toMatchObject({ code: 'ReferenceInvalid' });
  });

  it('with transport names, loads only their packages and parses only their references', async () => {
    expect((await createTransportRegistry(['docker'])).names()).toEqual(['docker']);
    expect((await createTransportRegistry(['oci'])).names()).toEqual(['docker-archive', 'oci', 'oci-archive']);
    expect((await createTransportRegistry(['docker-storage', 'docker'])).names()).toEqual(['docker', 'docker-daemon', 'docker-storage']);
    const ctx = await createContext({ env: {}, loadPlugins: false, transports: ['oci', 'docker-daemon'] });
    expect(ctx.parseImage('oci:/tmp/l:v1').transport.name).toBe('oci');
    expect(ctx.parseImage('docker-daemon:app:v1').transport.name).toBe('docker-daemon');
    expect(() => ctx.parseImage('busybox')).toThrow(expect.objectContaining({ code: 'Usage' }));
    expect(() => ctx.parseImage('oci-archive:/tmp/x.tar')).toThrow(expect.objectContaining({ code: 'Usage' }));
  });

  it('with signers: false, loads no signer and no signer plugin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-ctx-'));
    try {
      const plugin = join(dir, 'dsv-signer-never');
      writeFileSync(plugin, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
      const ctx = await createContext({ env: { DSV_SIGNER_PLUGINS: plugin }, signers: false, transports: ['docker'] });
      expect(ctx.signers.types()).toEqual([]);
      expect(() => ctx.signers.get('gpg')).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
