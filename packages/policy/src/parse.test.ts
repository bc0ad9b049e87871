import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse.js';

const fixture = readFileSync(new URL('../fixtures/containers-image/policy.json', import.meta.url), 'utf8');
const wrap = (req: string) => `{"default":[${req}]}`;
const invalid = expect.objectContaining({ code: 'Usage', details: expect.objectContaining({ reason: 'PolicyInvalid' }) });

describe('parsePolicy', () => {
  it("parses containers/image's policy fixture with every requirement shape", () => {
    const p = parsePolicy(fixture, 'policy.json');
    expect(p.default).toEqual([{ type: 'reject' }]);
    expect(p.transports.get('dir')!.get('')).toEqual([{ type: 'insecureAcceptAnything' }]);
    const docker = p.transports.get('docker')!;
    expect(docker.get('example.com/production')).toEqual([
      { type: 'signedBy', keyType: 'GPGKeys', keys: [{ kind: 'path', path: '/keys/employee-gpg-keyring' }], signedIdentity: { type: 'matchRepoDigestOrExact' } },
    ]);
    expect(docker.get('registry.redhat.io/beta')![0]).toMatchObject({ keys: [{ path: '/keys/RH-production-signing-key-gpg-keyring' }, { path: '/keys/RH-beta-signing-key-gpg-keyring' }] });
    expect(docker.get('private-mirror:5000/vendor-mirror')![0]).toMatchObject({ signedIdentity: { type: 'remapIdentity', prefix: 'private-mirror:5000/vendor-mirror', signedPrefix: 'vendor.example.com' } });
    expect(docker.get('bogus/key-data-example')![0]).toMatchObject({ keyType: 'signedByGPGKeys', keys: [{ kind: 'data', data: new TextEncoder().encode('nonsense') }] });
    expect(docker.get('example.com/hardened')!.map((r) => r.type)).toEqual(['signedBy', 'signedBy', 'signedBaseLayer']);
    expect(docker.get('example.com/sigstore/key-path-example')![0]).toMatchObject({ type: 'sigstoreSigned', keys: [{ path: '/keys/public-key' }], signedIdentity: { type: 'matchRepository' } });
    expect(docker.has('*.access.redhat.com')).toBe(true);
  });

  it('parses dsvSigned with keys, PKI roots and require', () => {
    const p = parsePolicy(wrap('{"type":"dsvSigned","keyPaths":["/k/a.asc","/k/b.asc"],"pkiRootsPath":"/k/ca.pem","require":"all"}'));
    expect(p.default[0]).toEqual({ type: 'dsvSigned', keys: [{ kind: 'path', path: '/k/a.asc' }, { kind: 'path', path: '/k/b.asc' }], pkiRoots: [{ kind: 'path', path: '/k/ca.pem' }], require: 'all' });
    expect(parsePolicy(wrap('{"type":"dsvSigned","keyData":"AAEC"}')).default[0]).toMatchObject({ require: 'any', keys: [{ kind: 'data' }] });
  });

  it('parses sigstoreSigned fulcio and pki forms', () => {
    const f = parsePolicy(wrap('{"type":"sigstoreSigned","fulcio":{"caPath":"/ca.pem","oidcIssuer":"https://i","subjectEmail":"a@b"},"rekorPublicKeyPath":"/rekor.pub"}'));
    expect(f.default[0]).toMatchObject({ fulcio: { ca: { path: '/ca.pem' }, oidcIssuer: 'https://i', subjectEmail: 'a@b' }, rekorPublicKeys: [{ path: '/rekor.pub' }], keys: [] });
    const k = parsePolicy(wrap('{"type":"sigstoreSigned","pki":{"caRootsPath":"/r.pem","subjectHostname":"h"}}'));
    expect(k.default[0]).toMatchObject({ pki: { caRoots: { path: '/r.pem' }, subjectHostname: 'h' } });
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['no default', '{"transports":{}}'],
    ['an empty default', '{"default":[]}'],
    ['an unknown top-level field', '{"default":[{"type":"reject"}],"defaults":[]}'],
    ['a duplicated top-level field', '{"default":[{"type":"reject"}],"default":[{"type":"insecureAcceptAnything"}]}'],
    ['an unknown requirement', wrap('{"type":"acceptSomething"}')],
    ['a requirement without type', wrap('{}')],
    ['an unknown requirement field', wrap('{"type":"reject","why":"x"}')],
    ['a duplicated requirement field', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyPath":"/b"}')],
    ['signedBy without keys', wrap('{"type":"signedBy","keyType":"GPGKeys"}')],
    ['signedBy with two key fields', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyData":"AA=="}')],
    ['signedBy with an empty keyPaths', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}')],
    ['signedBy with an unknown keyType', wrap('{"type":"signedBy","keyType":"PGP","keyPath":"/a"}')],
    ['signedBy without keyType', wrap('{"type":"signedBy","keyPath":"/a"}')],
    ['keyData that is not base64', wrap('{"type":"signedBy","keyType":"GPGKeys","keyData":"***"}')],
    ['an unknown identity matcher', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","signedIdentity":{"type":"matchAnything"}}')],
    ['an identity with an unknown field', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","signedIdentity":{"type":"matchExact","x":1}}')],
    ['exactReference without tag or digest', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","signedIdentity":{"type":"exactReference","dockerReference":"example.com/a"}}')],
    ['exactRepository that is invalid', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","signedIdentity":{"type":"exactRepository","dockerRepository":"UPPER/case"}}')],
    ['remapIdentity with a wildcard prefix', wrap('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","signedIdentity":{"type":"remapIdentity","prefix":"*.example.com","signedPrefix":"x.example.com"}}')],
    ['sigstoreSigned with both keys and fulcio', wrap('{"type":"sigstoreSigned","keyPath":"/a","fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e"},"rekorPublicKeyPath":"/r"}')],
    ['sigstoreSigned fulcio without rekor', wrap('{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e"}}')],
    ['dsvSigned with no keys', wrap('{"type":"dsvSigned"}')],
    ['dsvSigned with a bad require', wrap('{"type":"dsvSigned","keyPath":"/a","require":"some"}')],
    ['a docker-archive scope other than ""', '{"default":[{"type":"reject"}],"transports":{"docker-archive":{"/x.tar":[{"type":"reject"}]}}}'],
    ['a relative oci scope', '{"default":[{"type":"reject"}],"transports":{"oci":{"x/y":[{"type":"reject"}]}}}'],
    ['an unclean oci scope', '{"default":[{"type":"reject"}],"transports":{"oci":{"/x/../y":[{"type":"reject"}]}}}'],
    ['the oci scope "/"', '{"default":[{"type":"reject"}],"transports":{"oci":{"/":[{"type":"reject"}]}}}'],
    ['a bad docker wildcard', '{"default":[{"type":"reject"}],"transports":{"docker":{"*example.com":[{"type":"reject"}]}}}'],
    ['a scope with no requirements', '{"default":[{"type":"reject"}],"transports":{"docker":{"example.com":[]}}}'],
    ['a duplicated scope', '{"default":[{"type":"reject"}],"transports":{"docker":{"a.com":[{"type":"reject"}],"a.com":[{"type":"insecureAcceptAnything"}]}}}'],
  ])('rejects %s', (_why, text) => {
    expect(() => parsePolicy(text, 'p.json')).toThrow(invalid);
  });

  it('names the file and what was wrong in one line', () => {
    expect(() => parsePolicy(wrap('{"type":"acceptSomething"}'), '/etc/p.json')).toThrow('invalid policy: /etc/p.json: default[0].type "acceptSomething" is not a known requirement');
  });

  it('accepts transports it does not know (their scopes unchecked), as policies written for other tools have them', () => {
    const p = parsePolicy('{"default":[{"type":"reject"}],"transports":{"containers-storage":{"[overlay@/var/lib/containers/storage]":[{"type":"insecureAcceptAnything"}]}}}');
    expect(p.transports.get('containers-storage')!.size).toBe(1);
  });
});
