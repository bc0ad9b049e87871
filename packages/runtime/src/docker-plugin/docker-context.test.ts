import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { resolveDockerEndpoint, splitPluginArgs } from './docker-context.js';

describe('splitPluginArgs', () => {
  const viaDocker = { DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND: 'docker' };
  test('separates docker global flags from the plugin arguments', () => {
    expect(splitPluginArgs(['-H', 'unix:///x.sock', '--tlsverify', 'sign', '--key', 'k', 'img'], 'sign', viaDocker)).toEqual({
      globals: { host: 'unix:///x.sock', tlsverify: true },
      args: ['--key', 'k', 'img'],
    });
    expect(splitPluginArgs(['--context=prod', '-l', 'debug', 'verify', 'a'], 'verify', viaDocker).globals).toEqual({ context: 'prod', logLevel: 'debug' });
  });
  test('run directly, all arguments are the plugin\'s', () => {
    expect(splitPluginArgs(['--key', 'k', 'img'], 'sign', {})).toEqual({ globals: {}, args: ['--key', 'k', 'img'] });
  });
  test('a global flag without its value is a usage error', () => {
    expect(() => splitPluginArgs(['-H'], 'sign', viaDocker)).toThrow(/needs a value/);
  });
});

describe('resolveDockerEndpoint', () => {
  const cfg = () => mkdtempSync(join(tmpdir(), 'dsv-ctx-'));
  test('-H beats everything', () => {
    expect(resolveDockerEndpoint({ host: 'tcp://h:1' }, { DOCKER_HOST: 'unix:///other' }).host).toBe('tcp://h:1');
  });
  test('DOCKER_HOST beats the current context', () => {
    const dir = cfg();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'x' }));
    expect(resolveDockerEndpoint({}, { DOCKER_CONFIG: dir, DOCKER_HOST: 'unix:///a.sock' })).toMatchObject({ host: 'unix:///a.sock', source: 'DOCKER_HOST' });
  });
  test('reads a context endpoint and its TLS material from the context store', () => {
    const dir = cfg();
    const id = createHash('sha256').update('prod').digest('hex');
    mkdirSync(join(dir, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: 'prod', Endpoints: { docker: { Host: 'tcp://10.0.0.1:2376', SkipTLSVerify: false } } }));
    mkdirSync(join(dir, 'contexts', 'tls', id, 'docker'), { recursive: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, 'contexts', 'tls', id, 'docker', f), 'x');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'prod' }));
    const ep = resolveDockerEndpoint({}, { DOCKER_CONFIG: dir });
    expect(ep).toMatchObject({ host: 'tcp://10.0.0.1:2376', contextName: 'prod', tlsVerify: true });
    expect(ep.caFile).toBe(join(dir, 'contexts', 'tls', id, 'docker', 'ca.pem'));
    expect(resolveDockerEndpoint({ context: 'prod' }, { DOCKER_CONFIG: dir, DOCKER_HOST: 'unix:///ignored' }).host).toBe('tcp://10.0.0.1:2376');
  });
  test('an unknown context is a clear error', () => {
    expect(() => resolveDockerEndpoint({ context: 'nope' }, { DOCKER_CONFIG: cfg() })).toThrow(/docker context "nope" not found/);
  });
  test('defaults to the system socket', () => {
    expect(resolveDockerEndpoint({}, { DOCKER_CONFIG: cfg() }).host).toBe('unix:///var/run/docker.sock');
  });
});
