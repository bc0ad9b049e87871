// GnuPG-home keys count only at full or ultimate validity: gpg's colon listing, and what the verifier
// reports for a good signature by a key that does not count (the real gpg is in e2e/gpg).
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpgVerifier, type KeyTrust } from './verifier.js';
import { isTrustedValidity, parseValidity, validityWord } from './trustdb.js';
import { cleanup, detachedSign, eccKey, enc } from './__tests__/helpers.js';

const DATA = enc('sha256:cccbbb1b4a9a1e8abc56e969e96c7be145b3450cabec92ab55d44e147ebdf6e2');

// `gpg --with-colons --fixed-list-mode --list-keys` (gpg 2.2/2.4), trimmed.
const LISTING = [
  'tru::1:1796400831:0:3:1:5',
  'pub:u:255:22:C25422C12C916D09:1796400831:::u:::scSC:::::ed25519:::0:',
  'fpr:::::::::5B432F286879C9189915BE04C25422C12C916D09:',
  'uid:u::::1796400831::BB3956E3953687C399C1F4B17CF13F2E28281AAE::Bob <b@x>::::::::::0:',
  'pub:-:255:22:D2C41D91593BAFB0:1796400831:::-:::scSC:::::ed25519:::0:',
  'fpr:::::::::4545C586352137DC50ABF74FD2C41D91593BAFB0:',
  'uid:-::::1796400831::61921AEBFFB56BAC7025929E93D1CE71D7C5944C::Alice <a@x>::::::::::0:',
  'sub:f:255:22:1111111111111111:1796400831::::::s:::::ed25519::',
  'fpr:::::::::AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:',
  'pub:m:255:22:0ECF5B72A95B0D90:1796400841:::-:::scSC:::::ed25519:::0:',
  'fpr:::::::::F00DF00DF00DF00DF00DF00D0ECF5B72A95B0D90:',
  'pub:f:255:22:0000000000000001:1796400841:::-:::scSCD:::::ed25519:::0:',
  'fpr:::::::::ABCDABCDABCDABCDABCDABCD0000000000000001:',
  'pub:f:255:22:0000000000000002:1796400841:::-:::scSC:::::ed25519:::0:',
  'fpr:::::::::abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd00000002:',
].join('\n');

describe('gpg validity', () => {
  it('reads the primary keys\' validity from the colon listing (subkey and disabled records handled)', () => {
    const v = parseValidity(LISTING);
    expect([...v]).toEqual([
      ['5B432F286879C9189915BE04C25422C12C916D09', 'u'],
      ['4545C586352137DC50ABF74FD2C41D91593BAFB0', '-'],
      ['F00DF00DF00DF00DF00DF00D0ECF5B72A95B0D90', 'm'],
      ['ABCDABCDABCDABCDABCDABCD0000000000000001', 'd'],
      ['ABCDABCDABCDABCDABCDABCDABCDABCDABCDABCDABCDABCDABCDABCD00000002', 'f'],
    ]);
  });

  it('only full and ultimate validity are trusted', () => {
    expect(['u', 'f'].every(isTrustedValidity)).toBe(true);
    for (const l of ['-', 'o', 'q', 'n', 'm', 'i', 'r', 'e', 'd', '', undefined]) expect(isTrustedValidity(l), String(l)).toBe(false);
    expect(['-', 'o', 'm', 'n', 'q', 'x'].map(validityWord)).toEqual(['unknown', 'unknown', 'marginal', 'never', 'undefined', 'unknown (x)']);
  });
});

describe('a good signature by a key that does not count', () => {
  let alice: openpgp.PrivateKey;
  let fpr: string;
  let id: string;
  beforeAll(async () => {
    alice = await eccKey('Alice');
    fpr = alice.getFingerprint().toUpperCase();
    id = alice.getKeyID().toHex().toUpperCase();
  });
  afterAll(cleanup);
  const verifier = (t?: KeyTrust) => new GpgVerifier([alice.toPublic()], undefined, t ? new Map([[fpr, t]]) : undefined);

  it('is unknown-key, saying why and what to do', async () => {
    const sig = await detachedSign(alice, DATA);
    const r = await verifier({ trusted: false, validity: 'unknown', gpgHome: '/h' }).verify(DATA, sig);
    expect(r).toMatchObject({
      status: 'unknown-key', type: 'gpg', keyId: id, fingerprint: fpr, signer: 'Alice <alice@example.com>',
      reason: `key ${id} is in the GnuPG home but not trusted (validity unknown): trust it with gpg --edit-key ${id} trust, or pass it with --trust`,
      details: { validity: 'unknown', gpgHome: '/h' },
    });
    expect((await verifier({ trusted: false, validity: 'marginal' }).verify(DATA, sig)).reason).toContain('(validity marginal)');
  });

  it('counts when trusted (or not in the map); a bad signature stays invalid', async () => {
    const sig = await detachedSign(alice, DATA);
    expect((await verifier({ trusted: true, validity: 'full' }).verify(DATA, sig)).status).toBe('valid');
    expect((await verifier().verify(DATA, sig)).status).toBe('valid');
    expect((await verifier({ trusted: false, validity: 'unknown' }).verify(enc('sha256:other'), sig)).status).toBe('invalid');
  });
});
