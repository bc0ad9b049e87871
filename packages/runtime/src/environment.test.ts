// The environment the runtime reads: GnuPG home and PKI signature format.
import { describe, expect, it } from 'vitest';
import { applyPkiFormat, applySignerOpts, gpgHomeFromEnv, parsePkiFormat, signerSettingsFromEnv, trustEntries } from './environment.js';

describe('environment', () => {
  it('finds the GnuPG home in DSV_GPG_DATASTORE, then GNUPGHOME, then ~/.gnupg', () => {
    expect(gpgHomeFromEnv({ HOME: '/h', DSV_GPG_DATASTORE: '/a', GNUPGHOME: '/b' })).toBe('/a');
    expect(gpgHomeFromEnv({ HOME: '/h', GNUPGHOME: '/b' })).toBe('/b');
    expect(gpgHomeFromEnv({ HOME: '/h' })).toBe('/h/.gnupg');
    expect(signerSettingsFromEnv({ HOME: '/h', GNUPGHOME: '/b' }).gpg).toEqual({ gpgHome: '/b' });
  });

  it('passes DSV_PKI_FORMAT to the pki signer; --pki-format wins; other values are usage errors', () => {
    expect(signerSettingsFromEnv({ HOME: '/h' }).pki).toEqual({ datastore: '/h/.dsv.pem' });
    const settings = signerSettingsFromEnv({ HOME: '/h', DSV_PKI_FORMAT: ' Legacy ' });
    expect(settings.pki).toEqual({ datastore: '/h/.dsv.pem', format: 'legacy' });
    applyPkiFormat(settings, 'V2');
    expect(settings.pki).toEqual({ datastore: '/h/.dsv.pem', format: 'v2' });
    applyPkiFormat(settings, undefined);
    expect(settings.pki!.format).toBe('v2');
    expect(() => parsePkiFormat('pem')).toThrow(expect.objectContaining({ code: 'Usage', message: expect.stringContaining('--pki-format "pem"') }));
  });

  it('DSV_TRUST takes FILE and TYPE:FILE entries, separated by "," or ":"', () => {
    expect(trustEntries('/a/k.asc:example:/b/k.pub:pki:/c/ca.pem')).toEqual(['/a/k.asc', 'example:/b/k.pub', 'pki:/c/ca.pem']);
    expect(trustEntries('example:/b/k.pub,/a/k.asc, gpg:/d/x.asc')).toEqual(['example:/b/k.pub', '/a/k.asc', 'gpg:/d/x.asc']);
    expect(trustEntries('keys.asc:ca.pem')).toEqual(['keys.asc', 'ca.pem']);
    expect(trustEntries(undefined)).toEqual([]);
  });

  it('--signer-opt [TYPE:]KEY=VALUE reaches the settings of that type, or of the types given', () => {
    const settings: Record<string, Record<string, unknown>> = { gpg: { gpgHome: '/g' } };
    applySignerOpts(settings, ['algorithm=sha512', 'gpg:extra=a=b'], ['example']);
    expect(settings).toEqual({ gpg: { gpgHome: '/g', extra: 'a=b' }, example: { algorithm: 'sha512' } });
    expect(() => applySignerOpts(settings, ['novalue'], ['x'])).toThrow(expect.objectContaining({ code: 'Usage', message: 'invalid --signer-opt "novalue": expected [TYPE:]KEY=VALUE' }));
  });
});
