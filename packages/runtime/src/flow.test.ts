// In-process flow: the real mains with a context made of core's memory transport and an HMAC signer
// plugin, so argument handling, exit codes and reports are tested without gpg, docker or a registry.
import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SignerRegistry, type SignerPlugin } from '@dsv/core/formats';
import { TransportRegistry } from '@dsv/core/transport';
import { clearMemoryStore, memoryTransport } from '@dsv/core/testing';
import { buildSampleImageSync, writeMemoryImage } from '@dsv/conformance';
import { captureIo } from './__tests__/capture.js';
import { systemContextFromEnv, type CliContext, type ContextOptions } from './context.js';
import { dsvMain } from './dsv.js';

const SECRET = 'hmac-key-secret';
const ARMOR = '-----BEGIN HMAC SIGNATURE-----';

const hmacPlugin: SignerPlugin = {
  type: 'hmac',
  recognizes: (s) => s.startsWith(ARMOR),
  async createSigner({ key, passphrase }) {
    if (passphrase !== SECRET) {
      const { DsvError } = await import('@dsv/core');
      throw new DsvError('PassphraseInvalid', `wrong passphrase for key ${key}`);
    }
    return {
      type: 'hmac',
      describeKey: async () => ({ type: 'hmac', keyId: key.toUpperCase(), identity: `Test <${key}@example.invalid>` }),
      sign: async (data) => `${ARMOR}\n${key}:${createHmac('sha256', SECRET).update(data).digest('hex')}\n-----END HMAC SIGNATURE-----`,
    };
  },
  async createVerifier({ trust }) {
    return {
      type: 'hmac',
      recognizes: (s) => s.startsWith(ARMOR),
      async verify(data, signature) {
        const [, body] = signature.split('\n');
        const [key, mac] = (body ?? '').split(':');
        const keyId = (key ?? '').toUpperCase();
        if (!(trust ?? []).includes(`hmac-${key}`)) return { status: 'unknown-key', type: 'hmac', keyId, reason: `key ${keyId} is not trusted` };
        const ok = mac === createHmac('sha256', SECRET).update(data).digest('hex');
        return ok ? { status: 'valid', type: 'hmac', keyId, signer: `Test <${key}@example.invalid>` } : { status: 'invalid', type: 'hmac', keyId, reason: 'bad mac' };
      },
    };
  },
};

async function testContext(opts: ContextOptions = {}): Promise<CliContext> {
  const env = opts.env ?? {};
  const transports = new TransportRegistry().register(memoryTransport);
  const signers = new SignerRegistry().register(hmacPlugin);
  return { env, transports, manifests: [], signers, system: systemContextFromEnv(env, opts), signerSettings: {}, parseImage: (i) => transports.parse(i), debug: opts.debug ?? (() => {}) };
}

async function pushSample(name: string) {
  // An uncompressed "layer": diff_id == digest, the simplest valid image.
  await writeMemoryImage(buildSampleImageSync({ format: 'oci', compression: 'none', layers: [Buffer.alloc(1024, 7)] }), name);
}

describe('dsv sign / verify in process', () => {
  beforeEach(async () => {
    clearMemoryStore();
    await pushSample('flow:1');
  });

  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const io = captureIo(env);
    const code = await dsvMain(args, io, testContext);
    return { code, out: io.outText(), err: io.errText() };
  };

  it('signs, then verifies with and without trust', async () => {
    const s = await run(['sign', '--key-type', 'hmac', '--key', 'alice', 'memory:flow:1', 'memory:flow:signed'], { DSV_KEYPASS: SECRET });
    expect(s.err).toBe('');
    expect(s.code).toBe(0);
    expect(s.out).toContain('Created new image: memory:flow:signed');
    expect(s.out + s.err).not.toContain(SECRET);

    const v = await run(['verify', '--trust', 'hmac:hmac-alice', 'memory:flow:signed']);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toContain('Signature check passed.');

    const u = await run(['verify', 'memory:flow:signed']);
    expect(u.code).toBe(1);
    expect(u.err).toMatch(/dsv: error: .*ALICE/);

    const unsigned = await run(['verify', '--trust', 'hmac:hmac-alice', 'memory:flow:1']);
    expect(unsigned.code).toBe(1);

    const j = await run(['verify', '--json', '--trust', 'hmac:hmac-alice', 'memory:flow:signed', 'memory:flow:1']);
    expect(j.code).toBe(1);
    const report = JSON.parse(j.out);
    expect(report.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, false]);
    expect(report.results[0].images[0].signatures[0]).toMatchObject({ type: 'hmac', keyId: 'ALICE', valid: true, trusted: true, status: 'valid' });
  });

  it('refuses a wrong passphrase with exit 2', async () => {
    const s = await run(['sign', '-t', 'hmac', '-k', 'alice', 'memory:flow:1'], { DSV_KEYPASS: 'wrong-passphrase' });
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/^dsv: error: wrong passphrase for key alice\n$/);
  });

  it('dry-runs without writing', async () => {
    const s = await run(['sign', '--dry-run', '-t', 'hmac', '-k', 'alice', 'memory:flow:1', 'memory:flow:dry'], { DSV_KEYPASS: SECRET });
    expect(s.code, s.err).toBe(0);
    expect(s.out).toContain('Dry run completed');
    const v = await run(['verify', 'memory:flow:dry']);
    expect(v.code).toBe(2); // not found
  });

  it('reports a missing image as an input error', async () => {
    const v = await run(['verify', 'memory:nothing:here']);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/^dsv: error: memory:nothing:here: /);
  });
});
