/**
 * A minimal DER reader: just enough of X.509 (RFC 5280) to get at what node:crypto's X509Certificate
 * does not expose — validity dates, basicConstraints (with pathLen), the keyUsage bits, extended key
 * usages, criticality of extensions, and the raw issuer/subject names and signature algorithm.
 * Any structural surprise throws a plain Error; callers turn it into a verification failure.
 */

export interface Tlv {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the last content byte. */
  end: number;
  /** Offset of the tag byte. */
  headerStart: number;
}

export function readTlv(buf: Uint8Array, off: number, limit = buf.length): Tlv {
  if (off + 2 > limit) throw new Error('truncated DER');
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  let p = off + 1;
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    if (p + n > limit) throw new Error('truncated DER');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80 || (n > 1 && buf[p - n] === 0)) throw new Error('non-minimal DER length');
  }
  if (p + len > limit) throw new Error('truncated DER');
  return { tag, start: p, end: p + len, headerStart: off };
}

export function childrenOf(buf: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new Error(`malformed ${what}`);
  return t;
}

export function decodeOid(buf: Uint8Array, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function decodeTime(buf: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(buf.subarray(t.start, t.end)).toString('latin1');
  let m: RegExpMatchArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new Error('malformed UTCTime');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new Error('malformed GeneralizedTime');
    year = Number(m[1]);
  } else throw new Error('malformed validity time');
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export const Oids = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** Extensions whose meaning we either process or that are safe to ignore even when critical. */
export const UNDERSTOOD_EXTENSIONS = new Set<string>([
  Oids.basicConstraints,
  Oids.keyUsage,
  Oids.extKeyUsage,
  Oids.subjectAltName,
  Oids.issuerAltName,
  Oids.subjectKeyId,
  Oids.authorityKeyId,
  Oids.certificatePolicies,
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

export function parseCertificate(der: Uint8Array): CertFields {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new Error('malformed certificate');
  const [tbsT, algT] = childrenOf(der, top);
  const tbs = childrenOf(der, expectTag(tbsT, 0x30, 'tbsCertificate'));
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === 0xa0) {
    const v = childrenOf(der, tbs[0])[0];
    expectTag(v, 0x02, 'version');
    version = der[v!.end - 1]! + 1;
    i++;
  }
  expectTag(tbs[i++], 0x02, 'serialNumber');
  const tbsAlg = expectTag(tbs[i++], 0x30, 'signature');
  const issuer = expectTag(tbs[i++], 0x30, 'issuer');
  const validity = childrenOf(der, expectTag(tbs[i++], 0x30, 'validity'));
  const subject = expectTag(tbs[i++], 0x30, 'subject');
  expectTag(tbs[i++], 0x30, 'subjectPublicKeyInfo');
  const outerAlgOid = decodeOid(der, expectTag(childrenOf(der, expectTag(algT, 0x30, 'signatureAlgorithm'))[0], 0x06, 'algorithm'));
  const tbsAlgOid = decodeOid(der, expectTag(childrenOf(der, tbsAlg)[0], 0x06, 'algorithm'));
  if (outerAlgOid !== tbsAlgOid) throw new Error('signature algorithm differs inside and outside the signed part');
  if (validity.length !== 2) throw new Error('malformed validity');
  const fields: CertFields = {
    version,
    signatureAlgorithm: outerAlgOid,
    issuerDer: Buffer.from(der.subarray(issuer.headerStart, issuer.end)),
    subjectDer: Buffer.from(der.subarray(subject.headerStart, subject.end)),
    notBefore: decodeTime(der, validity[0]!),
    notAfter: decodeTime(der, validity[1]!),
    extensions: new Map(),
  };
  for (; i < tbs.length; i++) {
    const t = tbs[i]!;
    if (t.tag !== 0xa3) continue; // issuerUniqueID [1] / subjectUniqueID [2]
    const seq = expectTag(childrenOf(der, t)[0], 0x30, 'extensions');
    for (const ext of childrenOf(der, seq)) {
      const parts = childrenOf(der, expectTag(ext, 0x30, 'extension'));
      const oid = decodeOid(der, expectTag(parts[0], 0x06, 'extnID'));
      let critical = false;
      let k = 1;
      if (parts[k]?.tag === 0x01) {
        critical = der[parts[k]!.start] !== 0;
        k++;
      }
      const val = expectTag(parts[k], 0x04, 'extnValue');
      if (fields.extensions.has(oid)) throw new Error(`duplicate extension ${oid}`);
      fields.extensions.set(oid, { critical, value: Buffer.from(der.subarray(val.start, val.end)) });
    }
  }
  const bc = fields.extensions.get(Oids.basicConstraints);
  if (bc) {
    const seq = readTlv(bc.value, 0);
    expectTag(seq, 0x30, 'basicConstraints');
    const kids = childrenOf(bc.value, seq);
    let ca = false;
    let pathLen: number | undefined;
    let j = 0;
    if (kids[j]?.tag === 0x01) ca = bc.value[kids[j++]!.start] !== 0;
    if (kids[j]?.tag === 0x02) {
      const t = kids[j]!;
      if (t.end - t.start > 4) throw new Error('pathLenConstraint too large');
      pathLen = 0;
      for (let q = t.start; q < t.end; q++) pathLen = pathLen * 256 + bc.value[q]!;
    }
    fields.basicConstraints = pathLen === undefined ? { ca } : { ca, pathLen };
  }
  const ku = fields.extensions.get(Oids.keyUsage);
  if (ku) {
    const t = expectTag(readTlv(ku.value, 0), 0x03, 'keyUsage');
    const bits = new Set<number>();
    for (let q = t.start + 1; q < t.end; q++) {
      for (let b = 0; b < 8; b++) if (ku.value[q]! & (0x80 >> b)) bits.add((q - t.start - 1) * 8 + b);
    }
    fields.keyUsage = bits;
  }
  const eku = fields.extensions.get(Oids.extKeyUsage);
  if (eku) {
    const seq = expectTag(readTlv(eku.value, 0), 0x30, 'extKeyUsage');
    fields.extKeyUsage = childrenOf(eku.value, seq).map((t) => decodeOid(eku.value, expectTag(t, 0x06, 'KeyPurposeId')));
  }
  return fields;
}
