import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { dockerPluginCommand, dockerPluginMain as main, type MainIo } from './index.js';

function io(env: NodeJS.ProcessEnv = {}): MainIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c) => (o += c));
  stderr.on('data', (c) => (e += c));
  return { stdout, stderr, stdin: new PassThrough() as unknown as NodeJS.ReadStream, env, out: () => o, err: () => e };
}

const viaDocker = { DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND: '/usr/bin/docker' };

describe('main', () => {
  test('answers the Docker CLI metadata probe', async () => {
    for (const name of ['sign', 'verify'] as const) {
      const t = io();
      expect(await main(name, ['docker-cli-plugin-metadata'], t)).toBe(0);
      const meta = JSON.parse(t.out());
      expect(meta).toMatchObject({ SchemaVersion: '0.1.0', Vendor: 'dsv' });
      expect(meta.ShortDescription).toMatch(name === 'sign' ? /Sign/ : /Verify/);
    }
  });
  test('--help after the docker global flags prints Docker-style help', async () => {
    const t = io(viaDocker);
    expect(await main('sign', ['-H', 'unix:///nowhere.sock', 'sign', '--help'], t)).toBe(0);
    expect(t.out()).toContain('Usage:  docker sign [OPTIONS] IMAGE [DEST]');
    const v = io();
    expect(await main('verify', ['--help'], v)).toBe(0);
    expect(v.out()).toContain('Usage:  docker verify [OPTIONS] IMAGE [IMAGE...]');
  });
  test('usage errors exit 2 before anything is contacted', async () => {
    const cases: Array<['sign' | 'verify', string[], RegExp]> = [
      ['sign', ['sign'], /requires at least 1 and at most 2 arguments/],
      ['sign', ['sign', 'a', 'b', 'c'], /at most 2 arguments/],
      ['sign', ['sign', '--signature-type', 'bless', 'a'], /invalid --signature-type "bless"/],
      ['verify', ['verify'], /requires at least 1 argument/],
      ['verify', ['verify', '--platform', 'amd64', 'x'], /invalid --platform "amd64"/],
      ['verify', ['verify', '--bogus', 'x'], /unknown flag: --bogus/],
      ['verify', ['--bogus', 'verify', 'x'], /unexpected argument "--bogus"/],
    ];
    for (const [name, args, re] of cases) {
      const t = io(viaDocker);
      expect(await main(name, args, t), args.join(' ')).toBe(2);
      expect(t.err()).toMatch(re);
      expect(t.out()).toBe('');
    }
  });
  test('a missing --context is a usage error naming it', async () => {
    const t = io({ ...viaDocker, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'dsv-plug-')) });
    expect(await main('verify', ['--context', 'nope', 'verify', 'img'], t)).toBe(2);
    expect(t.err()).toMatch(/docker context "nope" not found/);
  });
  test('an unreachable daemon is an operational failure (3) with the endpoint named', async () => {
    const cfg = mkdtempSync(join(tmpdir(), 'dsv-plug-'));
    const t = io({ ...viaDocker, DOCKER_CONFIG: cfg, HOME: cfg, DSV_GPG_DATASTORE: cfg });
    const sock = join(cfg, 'none.sock');
    expect(await main('verify', ['-H', `unix://${sock}`, 'verify', 'img:1'], t)).toBe(3);
    expect(t.err()).toContain(sock);
  });
  // Regression: the endpoint used to reach the transports as DOCKER_* variables, and the Engine client fell
  // back to the real environment, so a DOCKER_TLS_VERIFY left in the shell made a plain context speak TLS.
  // The fake daemon (in process) only records the protocol each request arrives in; it answers 404.
  test('a plain-TCP docker context speaks plain HTTP even with DOCKER_TLS_VERIFY=1 in the environment', async () => {
    const requests: string[] = [];
    const server = createHttpServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'No such image: img:1' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const savedVerify = process.env.DOCKER_TLS_VERIFY;
    process.env.DOCKER_TLS_VERIFY = '1';
    try {
      const port = (server.address() as { port: number }).port;
      const cfg = mkdtempSync(join(tmpdir(), 'dsv-plug-'));
      const id = createHash('sha256').update('plain').digest('hex');
      mkdirSync(join(cfg, 'contexts', 'meta', id), { recursive: true });
      writeFileSync(join(cfg, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: 'plain', Endpoints: { docker: { Host: `tcp://127.0.0.1:${port}` } } }));
      const t = io({ ...viaDocker, DOCKER_CONFIG: cfg, HOME: cfg, DSV_GPG_DATASTORE: cfg, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(cfg, 'nowhere') });
      expect(await main('verify', ['--context', 'plain', 'verify', 'img:1'], t)).toBe(2);
      expect(t.err()).toContain(`not found in the Docker daemon at tcp://127.0.0.1:${port}`);
      expect(requests.some((r) => r.includes('/images/img:1/json') || r.includes('/images/img%3A1/json'))).toBe(true);
    } finally {
      if (savedVerify === undefined) delete process.env.DOCKER_TLS_VERIFY;
      else process.env.DOCKER_TLS_VERIFY = savedVerify;
      await new Promise((r) => server.close(r));
    }
  });
  test('shell completion lists flags', async () => {
    const t = io();
    expect(await main('verify', ['__complete', 'verify', '--tr'], t)).toBe(0);
    expect(t.out()).toMatch(/^--trust\t/m);
    expect(t.out()).toMatch(/:4\n$/);
  });
});

/** Launchers as an app passes them (the cli's own bin/ files). */
const launchers = { sign: '/opt/dsv/apps/cli/bin/docker-cli-plugin-sign.js', verify: '/opt/dsv/apps/cli/bin/docker-cli-plugin-verify.js' };

describe('dockerPluginCommand', () => {
  test('install twice is harmless; uninstall removes only ours', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'dsv-plug-')), 'cli-plugins');
    for (let i = 0; i < 2; i++) {
      const t = io();
      expect(await dockerPluginCommand(['install', '--dir', dir], t, launchers)).toBe(0);
      expect(t.out()).toContain(join(dir, 'docker-sign'));
    }
    for (const n of ['docker-sign', 'docker-verify']) {
      expect(statSync(join(dir, n)).mode & 0o111).not.toBe(0);
      expect(readFileSync(join(dir, n), 'utf8')).toMatch(/cli\/bin\/docker-cli-plugin-(sign|verify)\.js/);
    }
    const u = io();
    expect(await dockerPluginCommand(['uninstall', `--dir=${dir}`], u)).toBe(0);
    expect(u.out()).toContain('Removed');
    expect(existsSync(join(dir, 'docker-sign'))).toBe(false);
    const again = io();
    expect(await dockerPluginCommand(['uninstall', '--dir', dir], again)).toBe(0);
    expect(again.out()).toContain('No dsv plugins installed');
  });
  test('a foreign plugin file is never overwritten (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv-plug-'));
    writeFileSync(join(dir, 'docker-sign'), '#!/bin/sh\necho other\n');
    const t = io();
    expect(await dockerPluginCommand(['install', '--dir', dir], t, launchers)).toBe(2);
    expect(t.err()).toMatch(/was not installed by dsv/);
    expect(readFileSync(join(dir, 'docker-sign'), 'utf8')).toContain('echo other');
  });
  test('defaults to DOCKER_CONFIG/cli-plugins; usage errors exit 2', async () => {
    const cfg = mkdtempSync(join(tmpdir(), 'dsv-plug-'));
    const t = io({ DOCKER_CONFIG: cfg });
    expect(await dockerPluginCommand(['install'], t, launchers)).toBe(0);
    expect(existsSync(join(cfg, 'cli-plugins', 'docker-verify'))).toBe(true);
    expect(await dockerPluginCommand([], io())).toBe(2);
    expect(await dockerPluginCommand(['frobnicate'], io())).toBe(2);
    expect(await dockerPluginCommand(['install', '--dir'], io())).toBe(2);
    const h = io();
    expect(await dockerPluginCommand(['--help'], h)).toBe(0);
    expect(h.out()).toContain('dsv docker-plugin');
  });
});

describe('watchPluginSocket', () => {
  // Proves the EOF -> abort logic against a Node server only: Node 20 cannot reach the Go CLI's
  // exactly-named abstract socket (see README, "Stopping").
  test('the plugin socket closing aborts the run', async () => {
    const { createServer } = await import('node:net');
    const { watchPluginSocket } = await import('./main.js');
    const name = `dsv_test_${process.pid}_${Date.now()}`;
    const server = createServer((conn) => setTimeout(() => conn.end(), 10));
    await new Promise<void>((r) => server.listen(`\0${name}`, () => r()));
    const controller = new AbortController();
    const aborted = new Promise<void>((r) => controller.signal.addEventListener('abort', () => r()));
    const unwatch = watchPluginSocket({ DOCKER_CLI_PLUGIN_SOCKET: `@${name}` }, controller);
    await aborted;
    expect(controller.signal.aborted).toBe(true);
    unwatch();
    server.close();
  });
  test('without the variable nothing happens', async () => {
    const { watchPluginSocket } = await import('./main.js');
    const controller = new AbortController();
    watchPluginSocket({}, controller)();
    expect(controller.signal.aborted).toBe(false);
  });
});
