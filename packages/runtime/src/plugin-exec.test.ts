import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core/formats';
import { executableSignerPlugin, findSignerExecutable } from './plugin-exec.js';
import { SignerRegistry } from '@dsv/core/formats';
import { loadSignerPlugins } from './plugins.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'bin');
mkdirSync(bin);

/** A tiny executable plugin (HMAC) whose misbehaviour is chosen by the key name. */
const script = (type: string) => `#!${process.execPath}
const { createHmac } = require('node:crypto');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const out = (o) => process.stdout.write(JSON.stringify(o));
  const fail = (code, message) => { out({ error: { code, message } }); process.exitCode = 3; };
  if (req.version !== 1) return fail('Usage', 'bad version');
  const armor = '-----BEGIN ${type.toUpperCase()} SIGNATURE-----';
  const mac = (k, d) => createHmac('sha256', k).update(Buffer.from(d, 'base64')).digest('hex');
  switch (req.key) {
    case 'bad-key': return fail('KeyInvalid', 'key bad-key is unusable');
    case 'weird': return fail('TotallyMadeUp', 'strange');
    case 'nonjson': return void process.stdout.write('hello there');
    case 'big': return void process.stdout.write('x'.repeat(2 * 1024 * 1024));
    case 'hang': return void setInterval(() => {}, 1000);
    case 'crash': return void process.kill(process.pid, 'SIGKILL');
    case 'exit1': process.stderr.write('oops'); process.exitCode = 1; return;
  }
  switch (req.op) {
    case 'describe': return out({ type: '${type}', armor });
    case 'describe-key': return out({ type: '${type}', keyId: req.key, identity: 'Example <e@x>', algorithm: 'hmac-sha256' });
    case 'sign':
      if (req.key === 'echo-pass') return fail('PassphraseInvalid', 'wrong passphrase ' + req.passphrase + ' (argv ' + process.argv.length + ')');
      if (req.key === 'needs-pass' && req.passphrase !== 'sesame') return fail('PassphraseInvalid', 'wrong passphrase');
      return out({ signature: armor + '\\n' + req.key + ':' + mac(req.key, req.data) + '\\n-----END-----' });
    case 'verify': {
      const [k, m] = req.signature.split('\\n')[1].split(':');
      if (!req.trust.includes(k)) return out({ status: 'unknown-key', keyId: k, reason: 'not trusted' });
      return out({ status: mac(k, req.data) === m ? 'valid' : 'invalid', keyId: k, signer: 'Example <e@x>', createdAt: '2026-01-02T03:04:05Z', details: { n: 1 } });
    }
  }
  fail('Usage', 'unknown op');
});
`;
function install(name: string, text: string) {
  const p = join(bin, `dsv-signer-${name}`);
  writeFileSync(p, text);
  chmodSync(p, 0o755);
  return p;
}
install('hm', script('hm'));
install('liar', script('other'));
install('noexec', script('noexec'));
chmodSync(join(bin, 'dsv-signer-noexec'), 0o644);
install('mute', `#!${process.execPath}\nprocess.stdin.resume(); process.stdin.on('end', () => process.stdout.write('not json'));\n`);
const env = { PATH: `${bin}:/usr/bin:/bin` };
const data = new TextEncoder().encode('sha256:1234');

async function rejection(p: Promise<unknown>): Promise<DsvError> {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(DsvError);
  return e as DsvError;
}

describe('executableSignerPlugin', () => {
  it('finds the executable on PATH, signs and verifies over the JSON protocol', async () => {
    expect(findSignerExecutable('hm', env.PATH)).toBe(join(bin, 'dsv-signer-hm'));
    expect(findSignerExecutable('noexec', env.PATH)).toBeUndefined();
    const p = executableSignerPlugin('hm', { env });
    expect(p.type).toBe('hm');
    expect(p.recognizes('  -----BEGIN HM SIGNATURE-----\nx')).toBe(true);
    expect(p.recognizes('-----BEGIN PGP SIGNATURE-----')).toBe(false);
    const signer = await p.createSigner({ key: 'k1' });
    expect(await signer.describeKey()).toEqual({ type: 'hm', keyId: 'k1', identity: 'Example <e@x>', algorithm: 'hmac-sha256' });
    const sig = await signer.sign(data);
    const v = await p.createVerifier({ trust: ['k1'] });
    const res = await v.verify(data, sig);
    expect(res).toEqual({
      status: 'valid', type: 'hm', keyId: 'k1', signer: 'Example <e@x>',
      createdAt: new Date('2026-01-02T03:04:05Z'), details: { n: 1 },
    });
    expect((await v.verify(new TextEncoder().encode('other'), sig)).status).toBe('invalid');
    expect((await (await p.createVerifier({ trust: [] })).verify(data, sig)).status).toBe('unknown-key');
  });

  it('passes the passphrase over stdin only and scrubs it from messages', async () => {
    const p = executableSignerPlugin('hm', { env });
    expect(await (await p.createSigner({ key: 'needs-pass', passphrase: 'sesame' })).sign(data)).toMatch(/^-----BEGIN HM/);
    const e1 = await rejection((await p.createSigner({ key: 'needs-pass', passphrase: 'nope' })).sign(data));
    expect(e1.code).toBe('PassphraseInvalid');
    const e2 = await rejection((await p.createSigner({ key: 'echo-pass', passphrase: 'hunter2-secret' })).sign(data));
    expect(e2.code).toBe('PassphraseInvalid');
    expect(e2.message).not.toContain('hunter2-secret');
    expect(JSON.stringify(e2.details)).not.toContain('hunter2-secret');
    expect(e2.message).toContain('(argv 2)'); // node + script: nothing else on the command line
  });

  it('maps error replies: known codes kept, unknown codes -> PluginError', async () => {
    const p = executableSignerPlugin('hm', { env });
    const e1 = await rejection(p.createSigner({ key: 'bad-key' }));
    expect(e1.code).toBe('KeyInvalid');
    expect(e1.message).toMatch(/dsv-signer-hm: key bad-key is unusable/);
    const e2 = await rejection(p.createSigner({ key: 'weird' }));
    expect(e2.code).toBe('PluginError');
  });

  it('non-JSON replies, oversized output, crashes, bad exits and timeouts are PluginErrors naming the executable', async () => {
    const p = executableSignerPlugin('hm', { env, timeoutMs: 1500 });
    for (const [key, re] of [
      ['nonjson', /not a JSON object/],
      ['big', /more than 1048576 bytes/],
      ['crash', /killed by SIGKILL/],
      ['exit1', /exited with status 1/],
      ['hang', /did not answer "describe-key" within 1500 ms/],
    ] as const) {
      const e = await rejection(p.createSigner({ key: key }));
      expect(e.code, key).toBe('PluginError');
      expect(e.message, key).toContain(join(bin, 'dsv-signer-hm'));
      expect(e.message, key).toMatch(re);
    }
  });

  it('refuses missing, non-executable, lying and mute plugins at creation', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return `${(e as DsvError).code}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(code(() => executableSignerPlugin('absent', { env }))).toMatch(/^PluginError: .*dsv-signer-absent was not found/);
    expect(code(() => executableSignerPlugin('noexec', { env }))).toMatch(/^PluginError: .*not found/);
    expect(code(() => executableSignerPlugin('liar', { env }))).toMatch(/^PluginError: .*type "other", expected "liar"/);
    expect(code(() => executableSignerPlugin('mute', { env }))).toMatch(/^PluginError: .*dsv-signer-mute .*not a JSON object/);
    expect(code(() => executableSignerPlugin('../x', { env }))).toMatch(/^PluginError: invalid/);
  });

  it('loadSignerPlugins registers exec:<name> entries and the registry routes to them', async () => {
    const r = new SignerRegistry();
    await loadSignerPlugins(r, { env: { ...env, DSV_SIGNER_PLUGINS: 'exec:hm', HOME: dir } });
    expect(r.types()).toEqual(['hm']);
    const sig = await (await r.get('hm').createSigner({ key: 'kx' })).sign(data);
    expect(await r.verifier({ trust: ['kx'] })(data, sig)).toMatchObject({ status: 'valid', type: 'hm', keyId: 'kx' });
  });
});
