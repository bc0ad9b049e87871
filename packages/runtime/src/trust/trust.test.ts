import { describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core';
import { parseDsvArgs } from '../dsv.js';
import { contentTrustFromEnv } from '../environment.js';
import { signerNames } from './check.js';
import { destinationTag } from './migrate.js';
import { parseTrustTarget } from './notary.js';

const KNOWN = ['docker', 'oci', 'docker-archive', 'docker-daemon'];

function usage(f: () => unknown): DsvError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DsvError);
    return e as DsvError;
  }
  throw new Error('no error');
}

describe('parseTrustTarget', () => {
  it('names the collection (GUN) as docker does, and the tag only when given', () => {
    expect(parseTrustTarget('127.0.0.1:5000/app/x', { known: KNOWN })).toEqual({ input: '127.0.0.1:5000/app/x', registry: '127.0.0.1:5000', repository: 'app/x', gun: '127.0.0.1:5000/app/x' });
    expect(parseTrustTarget('docker://127.0.0.1:5000/app/x:v1', { known: KNOWN }).tag).toBe('v1');
    expect(parseTrustTarget('busybox:1', { known: KNOWN }).gun).toBe('docker.io/library/busybox');
    expect(parseTrustTarget('app/x', { known: KNOWN, defaultRegistry: 'reg.example:5000' }).gun).toBe('reg.example:5000/app/x');
  });
  it('refuses another transport and a digest', () => {
    expect(usage(() => parseTrustTarget('oci:/tmp/layout:v1', { known: KNOWN })).message).toContain('Docker Content Trust signs registry images');
    expect(usage(() => parseTrustTarget(`reg.example/app@sha256:${'a'.repeat(64)}`, { known: KNOWN })).message).toContain('name a tag, not a digest');
  });
});

describe('signer names and destination tags', () => {
  it('names signers as docker trust inspect does', () => {
    expect(signerNames(['targets'])).toEqual(['(Repo Admin)']);
    expect(signerNames(['targets'], false)).toEqual(['Repo Admin']);
    expect(signerNames(['targets/releases', 'targets/alice'])).toEqual(['alice']);
    expect(signerNames(['targets/releases'])).toEqual(['releases']);
  });
  it('expands {tag} and refuses what is not a tag', () => {
    expect(destinationTag('{tag}-signed', 'v1')).toBe('v1-signed');
    expect(destinationTag('signed-{tag}-{tag}', 'v1')).toBe('signed-v1-v1');
    expect(usage(() => destinationTag('{tag}/x', 'v1')).code).toBe('Usage');
  });
});

describe('the environment', () => {
  it('DOCKER_CONTENT_TRUST_SERVER and DOCKER_CONFIG (default ~/.docker)', () => {
    expect(contentTrustFromEnv({ HOME: '/home/u' })).toEqual({ dockerConfigDir: '/home/u/.docker', credentialsStore: '/home/u/.docker/config.json' });
    expect(contentTrustFromEnv({ HOME: '/home/u', DOCKER_CONFIG: '/cfg', DOCKER_CONTENT_TRUST_SERVER: 'https://n:4443' })).toEqual({ dockerConfigDir: '/cfg', credentialsStore: '/cfg/config.json', server: 'https://n:4443' });
    expect(contentTrustFromEnv({ DOCKER_CONFIG: '/cfg', DSV_CREDENTIALS_STORE: '/c.json' }).credentialsStore).toBe('/c.json');
  });
});

describe('the command line', () => {
  it('dsv verify --dct [--server URL]', async () => {
    const p = await parseDsvArgs(['verify', '--dct', '--server', 'https://n:4443', 'r.example/a:1']);
    expect(p).toMatchObject({ kind: 'run', args: { command: 'verify', dct: true, server: 'https://n:4443', images: ['r.example/a:1'] } });
    const plain = await parseDsvArgs(['verify', 'r.example/a:1']);
    expect(plain.kind === 'run' && 'dct' in plain.args).toBe(false);
  });
  it('dsv trust inspect IMAGE|REPO [--server URL] [--json]', async () => {
    expect(await parseDsvArgs(['trust', 'inspect', '--json', 'r.example/a'])).toMatchObject({ kind: 'run', args: { command: 'trust', subcommand: 'inspect', target: 'r.example/a', json: true } });
  });
  it('dsv trust migrate REPO [--tags T,…] --to simple|cosign|embedded --key KEY [--dry-run]', async () => {
    const p = await parseDsvArgs(['trust', 'migrate', 'r.example/a', '--tags', 'v1,v2', '--tags', 'v3', '--to', 'embedded', '--key', 'k.pem', '--dry-run']);
    expect(p).toMatchObject({ kind: 'run', args: { command: 'trust', subcommand: 'migrate', target: 'r.example/a', tags: ['v1', 'v2', 'v3'], to: 'embedded', key: 'k.pem', dryRun: true, destTag: '{tag}-signed' } });
    expect(await parseDsvArgs(['trust', 'migrate', 'r.example/a', '--to', 'simple', '--key', 'k.asc', '--registries.d', '/etc/rd'])).toMatchObject({ kind: 'run', args: { to: 'simple', registriesD: '/etc/rd' } });
    expect(await parseDsvArgs(['trust', 'migrate', 'r.example/a', '--to', 'notary', '--key', 'k'])).toMatchObject({ kind: 'error' });
    expect(await parseDsvArgs(['trust', 'migrate', 'r.example/a', '--key', 'k'])).toMatchObject({ kind: 'error', message: expect.stringContaining('to') });
    expect(await parseDsvArgs(['trust'])).toMatchObject({ kind: 'error', message: expect.stringContaining('inspect or migrate') });
  });
  it('renders dsv trust migrate --help within the width', async () => {
    const p = await parseDsvArgs(['trust', 'migrate', '--help']);
    expect(p.kind).toBe('output');
    const text = p.kind === 'output' ? p.text : '';
    expect(text.split('\n').filter((l) => l.length > 110)).toEqual([]);
    const flat = text.replace(/\s+/g, ' ');
    for (const phrase of ['--dest-tag', '{tag}-signed', '"simple", "cosign", "embedded"', 'DOCKER_CONTENT_TRUST_SERVER', '--registries.d', 'COSIGN_PASSWORD']) expect(flat).toContain(phrase);
  });
});
