import { describe, expect, it } from 'vitest';
import { DsvError } from '@dsv/core';
import type { TrustState } from '@dsv/trust-notary';
import { dctVerifyReportJson, formatTrustInspectText, trustInspectJson, type InspectedTag } from './report.js';

const role = (name: string, ids: string[], extra: Partial<TrustState['root']> = {}) => ({
  role: name, keyIds: ids, canonicalKeyIds: ids.map((i) => `c${i.slice(1)}`), threshold: 1, signedBy: ids, version: 2, expires: '2030-01-01T00:00:00Z', ...extra,
});
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const state: TrustState = {
  gun: 'reg.example/app',
  root: role('root', ['r'.padEnd(64, '0')]),
  targets: role('targets', ['t'.padEnd(64, '0')]),
  snapshot: role('snapshot', ['s'.padEnd(64, '0')]),
  timestamp: role('timestamp', ['x'.padEnd(64, '0')]),
  delegations: [role('targets/alice', ['a'.padEnd(64, '0')], { paths: [''] }), role('targets/releases', ['a'.padEnd(64, '0')], { paths: [''] })],
  tags: [],
};
const tags: InspectedTag[] = [
  { tag: 'v1', digest: D1, length: 10, role: 'targets', roles: ['targets'], registry: 'matches', servedDigest: D1 },
  { tag: 'v2', digest: D2, length: 10, role: 'targets/releases', roles: ['targets/releases', 'targets/alice'], registry: 'differs', servedDigest: D1 },
];

describe('dsv trust inspect output', () => {
  it('shows docker trust inspect --pretty tables, the roles and the verdicts', () => {
    const text = formatTrustInspectText('https://notary.example', state, tags);
    expect(text).toMatch(/^v1 +1{64} +\(Repo Admin\) +serves the signed manifest$/m);
    expect(text).toMatch(new RegExp(`^v2 +2{64} +alice +serves ${D1} \\(NOT the signed manifest\\)$`, 'm'));
    expect(text).toMatch(/^alice +c0{11}$/m);
    expect(text).not.toMatch(/^releases /m);
    expect(text).toContain(`Root Key:\t${'r'.padEnd(64, '0')}`);
    expect(text).toContain(`Repository Key:\t${'c'.padEnd(64, '0')}`);
    expect(text).toMatch(/^timestamp +2 +2030-01-01T00:00:00Z +1 +x0+$/m);
    expect(text).toContain('registry: 1 of 2 signed tags NOT served as signed (v2)');
  });
  it('--json names the same things, with docker JSON signer names', () => {
    const j = trustInspectJson('reg.example/app', 'https://notary.example', state, tags);
    expect(j.signedTags.map((t) => [t.tag, t.signers, t.registry])).toEqual([['v1', ['Repo Admin'], 'matches'], ['v2', ['alice'], 'differs']]);
    expect(j.signers).toEqual([{ name: 'alice', keys: ['c'.padEnd(64, '0')], roles: ['targets/alice'] }]);
    expect(j.roles).toHaveLength(6);
  });
});

describe('dsv verify --dct --json', () => {
  it('an input that failed before a result carries its error and exit code', () => {
    const j = dctVerifyReportJson([{ input: 'reg.example/app:x', server: 'https://n', error: new DsvError('NoSignatures', 'no signed trust data for reg.example/app:x') }], 1);
    expect(j).toMatchObject({ command: 'verify', dct: true, ok: false, exitCode: 1 });
    expect(j.results[0]).toMatchObject({ input: 'reg.example/app:x', server: 'https://n', ok: false, trust: null, error: { code: 'NoSignatures' }, failures: ['no signed trust data for reg.example/app:x'] });
  });
});
