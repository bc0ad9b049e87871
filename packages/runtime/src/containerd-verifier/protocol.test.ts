// containerd's image verifier protocol: Go flag syntax, the descriptor on stdin, the judged reference, the
// one-line reason, and the job's exit codes with an injected judge (the real one: e2e/containerd/verifier.test.ts).
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerdVerifierSettingsFromEnv } from '../environment.js';
import { captureIo } from '../__tests__/capture.js';
import { containerdVerifierMain, type ImageJudge } from './main.js';
import { judgedReference, parseDescriptor, parseVerifierArgs, readStdin, reasonLine, verifierRequest } from './protocol.js';

const D = `sha256:${'ab'.repeat(32)}`;
const E = `sha256:${'cd'.repeat(32)}`;
const desc = (over: Record<string, unknown> = {}) => Buffer.from(`${JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: D, size: 2048, ...over })}\n`);
const MT = 'application/vnd.oci.descriptor.v1+json';
const dir = mkdtempSync(join(tmpdir(), 'dsv-verifier-unit-'));
const policy = join(dir, 'policy.json');
writeFileSync(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifier arguments (Go flag syntax)', () => {
  it('reads -x v, -x=v, --x v and --x=v', () => {
    expect(parseVerifierArgs(['-name', 'r/a:1', '-digest', D, '-stdin-media-type', MT])).toEqual({ name: 'r/a:1', digest: D, stdinMediaType: MT });
    expect(parseVerifierArgs([`--name=r/a:1`, '--digest', D, `-stdin-media-type=${MT}`])).toEqual({ name: 'r/a:1', digest: D, stdinMediaType: MT });
    expect(parseVerifierArgs(['-name=a=b'])).toEqual({ name: 'a=b' });
    expect(parseVerifierArgs(['-h'])).toEqual({ help: true });
    expect(parseVerifierArgs(['--version'])).toEqual({ version: true });
  });
  it.each([
    [['-platform', 'x'], 'unknown flag -platform'],
    [['-name'], 'needs a value'],
    [['stray'], 'unexpected argument "stray"'],
    [['-name', 'a', '--', 'b'], 'unexpected argument "b"'],
  ])('refuses %j', (args, why) => {
    expect(() => parseVerifierArgs(args)).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringContaining(why) }));
  });
});

describe('the descriptor and the request', () => {
  it('checks the descriptor containerd writes', () => {
    expect(parseDescriptor(desc({ annotations: { a: 'b' } }))).toMatchObject({ digest: D, size: 2048, annotations: { a: 'b' } });
    for (const [bytes, why] of [
      [Buffer.from('nope'), 'not JSON'],
      [Buffer.from('[]'), 'not a JSON object'],
      [desc({ mediaType: undefined }), 'no mediaType'],
      [desc({ digest: 'sha256:xyz' }), 'no valid digest'],
      [desc({ size: -1 }), 'no valid size'],
      [desc({ size: 1.5 }), 'no valid size'],
      [desc({ annotations: [] }), 'malformed annotations'],
    ] as const) {
      expect(() => parseDescriptor(bytes), why).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringContaining(why) }));
    }
  });
  it('requires a name, the descriptor media type, and one digest', () => {
    expect(verifierRequest({ name: 'r/a:1', digest: D, stdinMediaType: MT }, desc())).toMatchObject({ name: 'r/a:1', digest: D });
    expect(verifierRequest({ name: 'r/a:1' }, desc()).digest).toBe(D);
    expect(() => verifierRequest({ digest: D }, desc())).toThrow(/missing -name/);
    expect(() => verifierRequest({ name: 'r/a:1', stdinMediaType: 'application/json' }, desc())).toThrow(/-stdin-media-type "application\/json"/);
    expect(() => verifierRequest({ name: 'r/a:1', digest: E }, desc())).toThrow(new RegExp(`-digest ${E} and the descriptor's ${D} differ`));
    expect(() => verifierRequest({ name: 'r/a:1', digest: 'x' }, desc())).toThrow(/-digest "x" is not a digest/);
  });
  it('judges the name as containerd was asked for it; a name with another digest is refused', () => {
    const req = (name: string) => { const descriptor = parseDescriptor(desc()); return { name, digest: descriptor.digest, descriptor }; };
    expect(judgedReference(req('registry.example/app:1'))).toBe('docker://registry.example/app:1');
    expect(judgedReference(req(`registry.example/app@${D}`))).toBe(`docker://registry.example/app@${D}`);
    expect(judgedReference(req('docker://registry.example/app:1'))).toBe('docker://registry.example/app:1');
    expect(() => judgedReference(req(`registry.example/app@${E}`))).toThrow(/names digest/);
  });
  it('reads stdin to its end, bounded', async () => {
    const s = new PassThrough();
    s.end(desc());
    expect(parseDescriptor(await readStdin(s)).digest).toBe(D);
    const big = new PassThrough();
    big.end(Buffer.alloc(2000));
    await expect(readStdin(big, 1000)).rejects.toThrow(/larger than 1000 bytes/);
  });
  it('keeps the reason to one line of bounded length', () => {
    expect(reasonLine('a\nb\r\n\tc  d')).toBe('a b c d');
    const long = reasonLine('x'.repeat(10_000), 100);
    expect(long).toHaveLength(100);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('settings from containerd’s environment', () => {
  it('DSV_POLICY, else /etc/dsv/policy.json; DSV_VERIFIER_TIMEOUT, else 8 s', () => {
    expect(containerdVerifierSettingsFromEnv({})).toEqual({ policy: '/etc/dsv/policy.json', policyFrom: 'default', timeoutSeconds: 8 });
    expect(containerdVerifierSettingsFromEnv({ DSV_POLICY: '/p.json', DSV_VERIFIER_TIMEOUT: '2.5' })).toEqual({ policy: '/p.json', policyFrom: 'DSV_POLICY', timeoutSeconds: 2.5 });
    expect(() => containerdVerifierSettingsFromEnv({ DSV_VERIFIER_TIMEOUT: 'soon' })).toThrow(/DSV_VERIFIER_TIMEOUT "soon"/);
  });
});

describe('containerdVerifierMain', () => {
  const args = ['-name', 'registry.example/app:1', '-digest', D, '-stdin-media-type', MT];
  async function call(judge: ImageJudge, env: NodeJS.ProcessEnv = { DSV_POLICY: policy }, input: Buffer = desc(), argv = args) {
    const io = captureIo(env);
    (io.stdin as unknown as PassThrough).end(input);
    const code = await containerdVerifierMain(argv, io, { judge });
    return { code, out: io.outText(), err: io.errText() };
  }
  const allow: ImageJudge = async () => ({ allowed: true, reason: 'accepted by default', manifestDigest: D });

  it('exit 0 and one line of reason when the judge allows; the judge sees the name and the policy', async () => {
    let seen: unknown;
    const r = await call(async (input) => {
      seen = { reference: input.reference, policy: input.policy };
      return allow(input);
    });
    expect(r).toMatchObject({ code: 0, out: `dsv allowed registry.example/app:1@${D}: accepted by default\n` });
    expect(seen).toEqual({ reference: 'docker://registry.example/app:1', policy });
  });
  it('exit 1 when the judge rejects, or judged another digest than containerd resolved', async () => {
    const no = await call(async () => ({ allowed: false, reason: 'rejected: signedBy not satisfied: no signatures', manifestDigest: D }));
    expect(no).toMatchObject({ code: 1, out: `dsv blocked registry.example/app:1@${D}: rejected: signedBy not satisfied: no signatures\n` });
    const moved = await call(async () => ({ allowed: true, reason: 'ok', manifestDigest: E }));
    expect(moved.code).toBe(1);
    expect(moved.out).toContain(`the registry now serves ${E}`);
  });
  it('exit 2 without a policy, 3 when the judge cannot reach the registry or takes too long', async () => {
    const none = await call(allow, { DSV_POLICY: join(dir, 'missing.json') });
    expect(none.code).toBe(2);
    expect(none.out).toContain(`no dsv policy at ${join(dir, 'missing.json')}`);
    const { DsvError } = await import('@dsv/core/formats');
    const down = await call(async () => {
      throw new DsvError('Network', 'registry.example: connection refused');
    });
    expect(down).toMatchObject({ code: 3, out: `dsv blocked registry.example/app:1@${D}: registry.example: connection refused\n` });
    const slow = await call(() => new Promise(() => {}), { DSV_POLICY: policy, DSV_VERIFIER_TIMEOUT: '0.2' });
    expect(slow.code).toBe(3);
    expect(slow.out).toContain('no verdict within 0.2s');
    expect(slow.out.split('\n')).toHaveLength(2);
  });
  it('exit 2 for calls it does not understand, before reading anything', async () => {
    const r = await call(allow, { DSV_POLICY: policy }, desc(), ['-name', 'a:1', '-what']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('dsv blocked a:1: unknown flag -what (containerd\'s verifier protocol passes -name, -digest and -stdin-media-type)\n');
    expect(r.err).toContain('error: unknown flag -what');
    const help = await call(allow, {}, desc(), ['-help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('[plugins."io.containerd.image-verifier.v1.bindir"]');
  });
});
