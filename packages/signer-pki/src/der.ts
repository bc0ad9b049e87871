/**
 * The X.509 (RFC 5280) fields node:crypto's X509Certificate does not expose — version, validity dates,
 * basicConstraints (with pathLen), keyUsage bits, extended key usages, criticality of every extension,
 * the issuer/subject names as DER and the signature algorithm — read with @peculiar/asn1-x509 (the
 * maintained ASN.1 schema of X.509 that @peculiar/x509 is built on), not a DER reader of our own.
 * Anything malformed, or not DER (bytes that do not re-encode to themselves), throws a plain Error;
 * callers turn it into a verification failure.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, ExtendedKeyUsage, KeyUsage, Time } from '@peculiar/asn1-x509';

export const Oids = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  nameConstraints: '2.5.29.30',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/**
 * Extensions whose meaning is processed (here, or by pkijs's RFC 5280 path validation in chain.ts: name
 * constraints and the policy extensions) or that are safe to ignore even when critical.
 */
export const UNDERSTOOD_EXTENSIONS = new Set<string>([
  Oids.basicConstraints,
  Oids.keyUsage,
  Oids.extKeyUsage,
  Oids.subjectAltName,
  Oids.issuerAltName,
  Oids.subjectKeyId,
  Oids.authorityKeyId,
  Oids.certificatePolicies,
  Oids.nameConstraints,
  Oids.policyMappings,
  Oids.policyConstraints,
  Oids.inhibitAnyPolicy,
]);

/** Certificate signature algorithms we accept (no MD5/SHA-1). */
export const ACCEPTED_CERT_SIGNATURE_ALGORITHMS = new Map<string, string>([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
  ['1.3.101.112', 'Ed25519'],
  ['1.3.101.113', 'Ed448'],
]);

export const KeyUsageBits = {
  digitalSignature: 0,
  contentCommitment: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export interface CertFields {
  version: number;
  signatureAlgorithm: string;
  /** DER of the issuer and subject Names, for exact issuer/subject matching. */
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: Map<string, { critical: boolean; value: Buffer }>;
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** keyUsage bit numbers that are set (see KeyUsageBits); undefined when the extension is absent. */
  keyUsage?: Set<number>;
  /** extended key usage OIDs; undefined when the extension is absent. */
  extKeyUsage?: string[];
}

/** Parses one DER certificate. */
export function parseCertificate(der: Uint8Array): CertFields {
  const bytes = Buffer.from(der);
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(bytes, Certificate);
  } catch (e) {
    throw new Error(`malformed certificate: ${(e as Error)?.message ?? String(e)}`);
  }
  // Distinguished encoding only: no trailing bytes, no long-form lengths, no BER leniency. The signature
  // covers the exact bytes, and names are matched as bytes, so there must be one encoding.
  if (!Buffer.from(AsnConvert.serialize(cert)).equals(bytes)) throw new Error('certificate is not DER encoded');
  const tbs = cert.tbsCertificate;
  if (cert.signatureAlgorithm.algorithm !== tbs.signature.algorithm) throw new Error('signature algorithm differs inside and outside the signed part');
  const fields: CertFields = {
    version: tbs.version + 1,
    signatureAlgorithm: cert.signatureAlgorithm.algorithm,
    issuerDer: Buffer.from(AsnConvert.serialize(tbs.issuer)),
    subjectDer: Buffer.from(AsnConvert.serialize(tbs.subject)),
    notBefore: timeOf(tbs.validity.notBefore),
    notAfter: timeOf(tbs.validity.notAfter),
    extensions: new Map(),
  };
  for (const ext of tbs.extensions ?? []) {
    if (fields.extensions.has(ext.extnID)) throw new Error(`duplicate extension ${ext.extnID}`);
    fields.extensions.set(ext.extnID, { critical: ext.critical, value: Buffer.from(ext.extnValue.buffer) });
  }
  const value = <T>(oid: string, type: new () => T): T | undefined => {
    const e = fields.extensions.get(oid);
    if (!e) return undefined;
    try {
      return AsnConvert.parse(e.value, type);
    } catch (err) {
      throw new Error(`malformed extension ${oid}: ${(err as Error)?.message ?? String(err)}`);
    }
  };
  const bc = value(Oids.basicConstraints, BasicConstraints);
  if (bc) {
    const pathLen = bc.pathLenConstraint;
    if (pathLen !== undefined && (!Number.isSafeInteger(pathLen) || pathLen < 0 || pathLen > 0xffffffff)) throw new Error('pathLenConstraint out of range');
    fields.basicConstraints = pathLen === undefined ? { ca: bc.cA } : { ca: bc.cA, pathLen };
  }
  const ku = value(Oids.keyUsage, KeyUsage);
  if (ku) {
    const flags = ku.toNumber();
    const bits = new Set<number>();
    for (let b = 0; b < 9; b++) if (flags & (1 << b)) bits.add(b);
    fields.keyUsage = bits;
  }
  const eku = value(Oids.extKeyUsage, ExtendedKeyUsage);
  if (eku) fields.extKeyUsage = [...eku];
  return fields;
}

function timeOf(t: Time): Date {
  const d = t.getTime();
  if (Number.isNaN(d.getTime())) throw new Error('malformed validity time');
  return d;
}
