// The detached-signature wiring's pure parts: registries.d directories, --trust cosign: splitting and its
// policy, the command-line options, and the signature format setting.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDsvArgs } from '../dsv.js';
import { parseSignatureFormat, policyFromEnv, signatureFormatFromEnv } from '../environment.js';
import { loadRegistries, registriesDirs } from './registries.js';
import { cosignTrustPolicy, splitCosignTrust } from './verify-command.js';

describe('registries.d', () => {
  it('is --registries.d, else ~/.config/containers/registries.d then /etc/containers/registries.d', () => {
    expect(registriesDirs({ env: { HOME: '/home/u' } })).toEqual(['/home/u/.config/containers/registries.d', '/etc/containers/registries.d']);
    expect(registriesDirs({ env: { HOME: '/home/u' } }, '/x')).toEqual(['/x']);
  });

  it('loads the user directory and refuses a --registries.d that does not exist', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dsv-regd-'));
    const dir = join(home, '.config', 'containers', 'registries.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.yaml'), 'docker:\n  reg.example:\n    lookaside: file:///sigs\n');
    const c = await loadRegistries({ env: { HOME: home } });
    expect(c.dir).toBe(dir);
    expect(c.docker.get('reg.example')).toEqual({ lookaside: 'file:///sigs' });
    await expect(loadRegistries({ env: { HOME: home } }, join(home, 'nope'))).rejects.toMatchObject({ code: 'Usage' });
  });
});

describe('--trust cosign:FILE', () => {
  it('splits cosign: keys from the others and makes a sigstoreSigned requirement with matchRepoDigestOrExact', () => {
    expect(splitCosignTrust(['cosign:a.pub', 'gpg:k.asc', 'COSIGN:b.pub'])).toEqual({ cosign: ['a.pub', 'b.pub'], other: ['gpg:k.asc'] });
    expect(() => splitCosignTrust(['cosign:'])).toThrow(/needs a public key file/);
    const p = cosignTrustPolicy(['a.pub']).policy;
    expect(p.default).toEqual([{ type: 'sigstoreSigned', keys: [{ kind: 'path', path: 'a.pub' }], rekorPublicKeys: [], signedIdentity: { type: 'matchRepoDigestOrExact' } }]);
    expect(p.transports.size).toBe(0);
  });
});

describe('options and settings', () => {
  it('verify takes --policy and --registries.d; sign --format, --sign-identity, --cosign-bundle; generate-key-pair', async () => {
    const v = await parseDsvArgs(['verify', '--policy', 'p.json', '--registries.d', '/r', 'docker://h/a:1']);
    expect(v.kind === 'run' && v.args).toMatchObject({ command: 'verify', policy: 'p.json', registriesD: '/r', images: ['docker://h/a:1'] });
    const s = await parseDsvArgs(['sign', '--format', 'cosign', '--cosign-bundle', '--sign-identity', 'h/a:2', '--key', 'cosign.key', 'docker://h/a:1']);
    expect(s.kind === 'run' && s.args).toMatchObject({ command: 'sign', format: 'cosign', cosignBundle: true, signIdentity: 'h/a:2', key: 'cosign.key' });
    expect(s.kind === 'run' && s.args.command === 'sign' && s.args.destinationGiven).toBeUndefined();
    const d = await parseDsvArgs(['sign', '--format', 'simple', 'docker://h/a:1', 'docker://h/a:2']);
    expect(d.kind === 'run' && d.args.command === 'sign' && d.args.destinationGiven).toBe(true);
    const k = await parseDsvArgs(['generate-key-pair', '--format', 'cosign', '--output-prefix', 'keys/x']);
    expect(k.kind === 'run' && k.args).toMatchObject({ command: 'generate-key-pair', format: 'cosign', outputPrefix: 'keys/x' });
    expect((await parseDsvArgs(['generate-key-pair'])).kind).toBe('error');
  });

  it('DSV_SIGNATURE_FORMAT and DSV_POLICY', () => {
    expect(signatureFormatFromEnv({})).toBeUndefined();
    expect(signatureFormatFromEnv({ DSV_SIGNATURE_FORMAT: 'Simple' })).toBe('simple');
    expect(() => signatureFormatFromEnv({ DSV_SIGNATURE_FORMAT: 'x509' })).toThrow(/DSV_SIGNATURE_FORMAT/);
    expect(() => parseSignatureFormat('gpg')).toThrow(/embedded, simple or cosign/);
    expect(policyFromEnv({ DSV_POLICY: ' /p.json ' })).toBe('/p.json');
    expect(policyFromEnv({ DSV_POLICY: '' })).toBeUndefined();
  });
});
