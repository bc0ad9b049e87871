// Certificate fields read with @peculiar/asn1-x509: what openssl wrote, absent extensions, and DER strictness.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyUsageBits, Oids, parseCertificate } from './der.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv-der-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function selfSigned(name: string, args: string[]): Buffer {
  const key = join(dir, `${name}.key`);
  const pem = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', pem,
    '-subj', `/CN=${name}`, ...args], { stdio: 'ignore' });
  return Buffer.from(new X509Certificate(readFileSync(pem)).raw);
}

describe('certificate fields (@peculiar/asn1-x509)', () => {
  it('reads the fields openssl wrote', () => {
    const der = selfSigned('full', ['-days', '20000', '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:3',
      '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-addext', 'extendedKeyUsage=codeSigning,serverAuth']);
    const f = parseCertificate(der);
    const x = new X509Certificate(der);
    expect(f.version).toBe(3);
    expect(f.signatureAlgorithm).toBe('1.2.840.10045.4.3.2');
    expect(f.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(f.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    expect(f.notAfter.getUTCFullYear()).toBeGreaterThan(2050); // GeneralizedTime
    expect(f.basicConstraints).toEqual({ ca: true, pathLen: 3 });
    expect([...f.keyUsage!].sort()).toEqual([KeyUsageBits.digitalSignature, KeyUsageBits.keyCertSign]);
    expect(f.extKeyUsage).toEqual([Oids.codeSigning, '1.3.6.1.5.5.7.3.1']);
    expect(f.extensions.get(Oids.basicConstraints)?.critical).toBe(true);
    expect(f.extensions.get(Oids.extKeyUsage)?.critical).toBe(false);
    expect(f.subjectDer.equals(f.issuerDer)).toBe(true);
  });

  it('absent extensions stay undefined', () => {
    const f = parseCertificate(selfSigned('bare', ['-days', '1', '-addext', 'basicConstraints=CA:FALSE']));
    expect(f.basicConstraints).toEqual({ ca: false });
    expect(f.keyUsage).toBeUndefined();
    expect(f.extKeyUsage).toBeUndefined();
  });

  it('refuses truncated and trailing bytes', () => {
    const der = selfSigned('trunc', ['-days', '1']);
    expect(() => parseCertificate(der.subarray(0, der.length - 1))).toThrow();
    expect(() => parseCertificate(Buffer.concat([der, Buffer.from([0])]))).toThrow();
    // the same certificate with a non-minimal length (0x83 00 LL LL for 0x82 LL LL): BER, not DER
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x82);
    const ber = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), der.subarray(2)]);
    expect(() => parseCertificate(ber)).toThrow(/not DER|malformed/);
    expect(() => parseCertificate(Buffer.from([0x30, 0x81, 0x05]))).toThrow(/malformed|not DER/);
    writeFileSync(join(dir, 'x'), '');
  });
});
