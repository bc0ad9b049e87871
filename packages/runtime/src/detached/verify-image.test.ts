// verifyImageByPolicy, the per-image pipeline shared by `dsv verify --policy` and `dsv verify --all-tags --policy`:
// integrity first, then the policy's verdict, on images in core's memory transport.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignerRegistry } from '@dsv/core/formats';
import { TransportRegistry } from '@dsv/core/transport';
import { clearMemoryStore, memoryTransport } from '@dsv/core/testing';
import { buildSampleImageSync, writeMemoryImage } from '@dsv/conformance';
import type { Policy } from '@dsv/policy';
import { systemContextFromEnv, type CliContext } from '../context.js';
import { detachedStores, type DetachedStores } from './stores.js';
import { verifyImageByPolicy } from './verify-command.js';

const ctx = (): CliContext => {
  const transports = new TransportRegistry().register(memoryTransport);
  return { env: {}, transports, manifests: [], signers: new SignerRegistry(), system: systemContextFromEnv({}), signerSettings: {}, parseImage: (i) => transports.parse(i), debug: () => {} };
};
const policyOf = (p: Policy['default']) => ({ policy: { default: p, transports: new Map() } as Policy, baseDir: process.cwd() });

let dir: string;
let stores: DetachedStores;

beforeEach(async () => {
  clearMemoryStore();
  await writeMemoryImage(buildSampleImageSync({ format: 'oci', compression: 'none', layers: [Buffer.alloc(1024, 7)] }), 'judged:1');
  dir = mkdtempSync(join(tmpdir(), 'dsv-verify-image-'));
  stores = await detachedStores(ctx(), { registriesD: dir });
});
afterEach(async () => {
  await stores.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyImageByPolicy', () => {
  it('an intact image the policy accepts is ok, with both verdicts', async () => {
    const v = await verifyImageByPolicy(ctx(), 'memory:judged:1', policyOf([{ type: 'insecureAcceptAnything' }]), { stores });
    expect(v.integrity.ok).toBe(true);
    expect(v.judgement?.allowed).toBe(true);
    expect(v.error).toBeUndefined();
    expect(v.ok).toBe(true);
  });

  it('an intact image the policy rejects is not ok, the judgement says why', async () => {
    const v = await verifyImageByPolicy(ctx(), 'memory:judged:1', policyOf([{ type: 'reject' }]), { stores });
    expect(v.integrity.ok).toBe(true);
    expect(v.judgement?.allowed).toBe(false);
    expect(v.judgement?.requirements.map((r) => r.type)).toEqual(['reject']);
    expect(v.ok).toBe(false);
  });

  it('an image that cannot be read throws', async () => {
    await expect(verifyImageByPolicy(ctx(), 'memory:judged:missing', policyOf([{ type: 'insecureAcceptAnything' }]), { stores })).rejects.toThrow();
  });
});
