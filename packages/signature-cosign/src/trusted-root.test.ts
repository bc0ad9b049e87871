// Sigstore trusted roots: parsing (CAs, tlogs, validFor windows, malformed input as one-line errors) and
// keyless verification of containers/image's Fulcio + Rekor fixture against them, identity exact and by pattern.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSerialisedAttachment } from './attachment.js';
import { readPublicKeys } from './keys.js';
import { rekorLogId } from './rekor.js';
import { parseTrustedRoot, withinWindow } from './trusted-root.js';
import { requireIdentity, verifyCosignAttachment, type CosignTrust, type FulcioTrust } from './verify.js';
import { fullMatchPattern, readCertificates } from './x509.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fulcioCert = readCertificates(readFileSync(join(FIX, 'fulcio_v1.crt.pem')))[0]!;
const rekorDer = createPublicKey(readFileSync(join(FIX, 'rekor.pub'))).export({ format: 'der', type: 'spki' });
const attachment = parseSerialisedAttachment(readFileSync(join(FIX, 'dir-img-cosign-fulcio-rekor-valid', 'signature-1')));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
// The fixture's Rekor entry was integrated at 2023-01-20T20:51:33Z.
const SIGNED = new Date('2023-01-20T20:51:33Z');

interface Windows { caStart?: string; caEnd?: string; tlogStart?: string; tlogEnd?: string; mediaType?: string }
function rootJson(w: Windows = {}): Record<string, any> {
  return {
    mediaType: w.mediaType ?? 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: 'https://rekor.sigstore.dev', hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(rekorDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: w.tlogStart ?? '2021-01-12T11:53:27Z', ...(w.tlogEnd ? { end: w.tlogEnd } : {}) } },
      logId: { keyId: b64(createHash('sha256').update(rekorDer).digest()) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.dev', commonName: 'sigstore' }, uri: 'https://fulcio.sigstore.dev',
      certChain: { certificates: [{ rawBytes: b64(fulcioCert.raw) }] },
      validFor: { start: w.caStart ?? '2022-04-13T20:06:15Z', ...(w.caEnd ? { end: w.caEnd } : {}) },
    }],
    ctlogs: [],
    timestampAuthorities: [],
  };
}
const text = (o: unknown) => JSON.stringify(o);

function keyless(w: Windows, identity: Partial<FulcioTrust>): CosignTrust {
  const root = parseTrustedRoot(text(rootJson(w)));
  return {
    fulcio: { caCertificates: root.authorities.flatMap((a) => a.certificates), authorities: root.authorities, ...identity },
    rekorLogs: root.logs,
  };
}
const MITR = { subjectEmail: 'mitr@redhat.com', oidcIssuer: 'https://github.com/login/oauth' };

describe('parseTrustedRoot', () => {
  it('reads the CAs and the Rekor logs with their windows; the log id is the key\'s SHA-256, as Rekor entries name it', () => {
    const root = parseTrustedRoot(text(rootJson({ caEnd: '2030-01-01T00:00:00Z' })), 'trusted_root.json');
    expect(root.authorities).toHaveLength(1);
    expect(root.authorities[0]!.name).toBe('https://fulcio.sigstore.dev');
    expect(root.authorities[0]!.certificates[0]!.fingerprint256).toBe(fulcioCert.fingerprint256);
    expect(root.authorities[0]!.validFor).toEqual({ start: new Date('2022-04-13T20:06:15Z'), end: new Date('2030-01-01T00:00:00Z') });
    expect(root.logs).toHaveLength(1);
    expect(root.logs[0]!.logId).toBe(rekorLogId(readPublicKeys(readFileSync(join(FIX, 'rekor.pub')))[0]!));
    expect(root.logs[0]!.validFor.end).toBeUndefined();
  });

  it('accepts the v0.2 media type', () => {
    expect(parseTrustedRoot(text(rootJson({ mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json' }))).logs).toHaveLength(1);
  });

  it('windows: inclusive bounds, an open end', () => {
    const w = { start: new Date('2022-01-01T00:00:00Z'), end: new Date('2023-01-01T00:00:00Z') };
    expect(withinWindow(w, new Date('2022-01-01T00:00:00Z'))).toBe(true);
    expect(withinWindow(w, new Date('2023-01-01T00:00:00Z'))).toBe(true);
    expect(withinWindow(w, new Date('2023-01-01T00:00:01Z'))).toBe(false);
    expect(withinWindow({ start: w.start }, new Date('2999-01-01T00:00:00Z'))).toBe(true);
  });

  const broken: Array<[string, (r: Record<string, any>) => unknown, RegExp]> = [
    ['not JSON', () => '{"mediaType":', /not JSON/],
    ['an array', () => [], /not a JSON object/],
    ['another media type', (r) => ({ ...r, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' }), /mediaType .* is not a Sigstore trusted root/],
    ['no media type', (r) => ({ ...r, mediaType: undefined }), /mediaType null is not a Sigstore trusted root/],
    ['certificateAuthorities not an array', (r) => ({ ...r, certificateAuthorities: {} }), /certificateAuthorities is not an array/],
    ['an empty certChain', (r) => { r.certificateAuthorities[0].certChain.certificates = []; return r; }, /certificateAuthorities\[0\]\.certChain has no certificates/],
    ['a certificate that is not DER', (r) => { r.certificateAuthorities[0].certChain.certificates[0].rawBytes = b64(Buffer.from('nope')); return r; }, /certificates\[0\] is not a DER certificate/],
    ['a CA without validFor', (r) => { delete r.certificateAuthorities[0].validFor; return r; }, /certificateAuthorities\[0\]\.validFor\.start is missing/],
    ['a time that is not a time', (r) => { r.certificateAuthorities[0].validFor.end = 'tomorrow'; return r; }, /certificateAuthorities\[0\]\.validFor\.end is not an RFC 3339 time/],
    ['a window that ends before it starts', (r) => { r.tlogs[0].publicKey.validFor.end = '2020-01-01T00:00:00Z'; return r; }, /tlogs\[0\]\.publicKey\.validFor ends before it starts/],
    ['a tlog without a key', (r) => { delete r.tlogs[0].publicKey.rawBytes; return r; }, /tlogs\[0\]\.publicKey\.rawBytes is missing/],
    ['a tlog key that is not SPKI', (r) => { r.tlogs[0].publicKey.rawBytes = b64(fulcioCert.raw); return r; }, /tlogs\[0\]\.publicKey\.rawBytes is not a DER SubjectPublicKeyInfo/],
    ['an unknown key type', (r) => { r.tlogs[0].publicKey.keyDetails = 'PKIX_QUANTUM'; return r; }, /cannot be read: .*PKIX_QUANTUM/],
    ['a tlog without a log id', (r) => { delete r.tlogs[0].logId; return r; }, /tlogs\[0\]\.logId\.keyId is missing/],
    ['no CA', (r) => ({ ...r, certificateAuthorities: [] }), /names no certificateAuthorities/],
    ['no tlog', (r) => ({ ...r, tlogs: [] }), /names no tlogs/],
  ];
  it.each(broken)('%s: one clear line naming the file and the field', (_name, mutate, message) => {
    const body = mutate(rootJson());
    let error: Error | undefined;
    try {
      parseTrustedRoot(typeof body === 'string' ? body : text(body), 'root.json');
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error!.message).toMatch(/^root\.json: /);
    expect(error!.message).not.toContain('\n');
    expect((error as { code?: string }).code).toBe('KeyInvalid');
  });
});

describe('keyless verification of the Fulcio + Rekor fixture with a trusted root', () => {
  it('accepts the right identity and issuer, and names them', () => {
    const v = verifyCosignAttachment(attachment, keyless({}, MITR));
    expect(v.reason).toBeUndefined();
    expect(v).toMatchObject({ valid: true, signer: 'mitr@redhat.com', certificateIdentity: 'mitr@redhat.com', certificateOidcIssuer: 'https://github.com/login/oauth' });
  });

  it('a CA whose validFor ends before the signing time is not trusted', () => {
    const v = verifyCosignAttachment(attachment, keyless({ caEnd: '2022-12-31T23:59:59Z' }, MITR));
    expect(v.code).toBe('untrusted-certificate');
    expect(v.reason).toBe(`the certificate authority https://fulcio.sigstore.dev is trusted from 2022-04-13T20:06:15.000Z until 2022-12-31T23:59:59.000Z, not at ${SIGNED.toISOString()}`);
  });

  it('a CA whose validFor starts after the signing time is not trusted either', () => {
    expect(verifyCosignAttachment(attachment, keyless({ caStart: '2023-01-21T00:00:00Z' }, MITR)).code).toBe('untrusted-certificate');
  });

  it('a Rekor key outside its validFor at the entry\'s time is not trusted', () => {
    const v = verifyCosignAttachment(attachment, keyless({ tlogEnd: '2022-06-01T00:00:00Z' }, MITR));
    expect(v.code).toBe('rekor');
    expect(v.reason).toContain(`is trusted from 2021-01-12T11:53:27.000Z until 2022-06-01T00:00:00.000Z, not at the entry's time ${SIGNED.toISOString()}`);
  });

  const identities: Array<[string, Partial<FulcioTrust>, boolean, RegExp?]> = [
    ['another email', { ...MITR, subjectEmail: 'someone@example.com' }, false, /the certificate is for mitr@redhat\.com, not someone@example\.com/],
    ['another issuer', { ...MITR, oidcIssuer: 'https://accounts.google.com' }, false, /OIDC issuer is https:\/\/github\.com\/login\/oauth, not https:\/\/accounts\.google\.com/],
    ['an identity pattern that matches', { subjectRegExp: '.*@redhat\\.com', oidcIssuer: MITR.oidcIssuer }, true],
    ['an identity pattern matching only part of the SAN (patterns match whole values)', { subjectRegExp: 'redhat\\.com', oidcIssuer: MITR.oidcIssuer }, false, /not \/redhat\\\.com\//],
    ['an identity pattern that does not match', { subjectRegExp: '.*@example\\.com', oidcIssuer: MITR.oidcIssuer }, false, /not \/\.\*@example\\\.com\//],
    ['an issuer pattern that matches', { subjectEmail: MITR.subjectEmail, oidcIssuerRegExp: 'https://github\\.com/.*' }, true],
    ['a pattern with escaped punctuation, as Go accepts it', { subjectRegExp: 'mitr\\@redhat\\.com', oidcIssuer: MITR.oidcIssuer }, true],
    ['an issuer pattern that does not match', { subjectEmail: MITR.subjectEmail, oidcIssuerRegExp: 'https://token\\.actions\\..*' }, false, /OIDC issuer is https:\/\/github\.com\/login\/oauth, not \//],
  ];
  it.each(identities)('%s', (_name, identity, valid, reason) => {
    const v = verifyCosignAttachment(attachment, keyless({}, identity));
    expect(v.valid, v.reason).toBe(valid);
    if (!valid) {
      expect(v.code).toBe('wrong-identity');
      expect(v.reason).toMatch(reason!);
    }
  });

  it('keyless trust without identity or issuer is a usage error; a bad pattern too', () => {
    expect(() => requireIdentity({ caCertificates: [], oidcIssuer: MITR.oidcIssuer })).toThrow(/--certificate-identity/);
    expect(() => requireIdentity({ caCertificates: [], subjectEmail: MITR.subjectEmail })).toThrow(/--certificate-oidc-issuer/);
    expect(() => verifyCosignAttachment(attachment, keyless({}, { subjectEmail: MITR.subjectEmail }))).toThrow(/OIDC issuer/);
    expect(() => fullMatchPattern('(unclosed', '--certificate-identity-regexp')).toThrow(/^--certificate-identity-regexp "\(unclosed" is not a valid regular expression/);
  });
});
