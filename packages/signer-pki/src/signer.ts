import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DsvError, type KeyInfo, type Signer } from '@dsv/core/formats';
import { algorithmsForKey, keyProblem, signWith } from './algorithms.js';
import { formatLegacySignature, formatV2Signature, type PkiAlgorithm } from './armor.js';
import { loadCert, signerUsageProblem, validityProblem, type Cert } from './chain.js';
import { PRIVATE_KEY_LABELS, colonHex, pemDer, oneLineName, pemBlocks, shortKeyId, spkiDer, spkiSha256 } from './pem.js';

export interface PkiSignerOptions {
  /** PEM file with the private key, optionally followed by the signer's certificate chain. */
  key: string;
  passphrase?: string;
  /** Extra PEM file with the signer's certificate (and chain), when not in the key file. */
  certificates?: string;
  /** RSA padding: 'pkcs1' (RSASSA-PKCS1-v1_5, default for RSA keys) or 'pss'. */
  rsaPadding?: 'pkcs1' | 'pss';
  /**
   * Default: docker-sign-verify's `PKI SIGNATURE` armour ('legacy') whenever the original could read
   * the signature — an RSA key signing with PKCS#1 v1.5 and carrying no certificate chain — else the
   * versioned `DSV PKI SIGNATURE` armour ('v2'). 'legacy' forces the old armour (a Usage error when
   * the key carries certificates or cannot make RSA PKCS#1 v1.5 signatures); 'v2' forces the new one.
   */
  format?: 'v2' | 'legacy';
  /** Time used to check the signer's certificate (default now). */
  now?: Date;
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DsvError('KeyInvalid', `${what} ${path} does not exist`, { file: path });
    throw new DsvError('KeyInvalid', `cannot read ${what} ${path} (${code ?? 'error'})`, { file: path });
  }
}

function loadPrivateKey(path: string, text: string, passphrase: string | undefined): KeyObject {
  const blocks = pemBlocks(text).filter((b) => PRIVATE_KEY_LABELS.has(b.label));
  if (blocks.length === 0) throw new DsvError('KeyInvalid', `key file ${path} holds no PEM private key`, { file: path });
  if (blocks.length > 1) throw new DsvError('KeyInvalid', `key file ${path} holds more than one private key`, { file: path });
  const block = blocks[0]!;
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,\s*ENCRYPTED/.test(block.text);
  if (encrypted && !passphrase) {
    throw new DsvError('PassphraseInvalid', `key file ${path} is encrypted: a passphrase is needed`, { file: path });
  }
  try {
    return createPrivateKey(encrypted ? { key: block.text, format: 'pem', passphrase: passphrase! } : { key: block.text, format: 'pem' });
  } catch {
    if (encrypted) throw new DsvError('PassphraseInvalid', `wrong passphrase for key file ${path}`, { file: path });
    throw new DsvError('KeyInvalid', `key file ${path} holds a private key that cannot be parsed`, { file: path });
  }
}

function loadCerts(path: string, text: string): Cert[] {
  const out: Cert[] = [];
  for (const b of pemBlocks(text)) {
    if (b.label !== 'CERTIFICATE') continue;
    try {
      const der = pemDer(b);
      if (!der) throw new Error('bad base64');
      out.push(loadCert(der));
    } catch {
      throw new DsvError('KeyInvalid', `certificate ${out.length + 1} in ${path} cannot be parsed`, { file: path });
    }
  }
  return out;
}

/** A PKI signer: signs with a PEM private key; carries the signer's certificate chain when it has one. */
export async function createPkiSigner(opts: PkiSignerOptions): Promise<Signer> {
  if (typeof opts?.key !== 'string' || !opts.key) {
    throw new DsvError('Usage', 'a PKI key file is needed (DSV_KEYID / --key)');
  }
  const keyText = await readKeyFile(opts.key, 'key file');
  const privateKey = loadPrivateKey(opts.key, keyText, opts.passphrase);
  const publicKey = createPublicKey(privateKey);
  const problem = keyProblem(publicKey);
  if (problem) throw new DsvError('KeyInvalid', `key file ${opts.key}: ${problem}`, { file: opts.key });

  const certs = loadCerts(opts.key, keyText);
  if (opts.certificates) certs.push(...loadCerts(opts.certificates, await readKeyFile(opts.certificates, 'certificate file')));
  const spki = spkiDer(publicKey);
  const leafIndex = certs.findIndex((c) => spkiDer(c.x509.publicKey).equals(spki));
  if (certs.length && leafIndex < 0) {
    throw new DsvError('KeyInvalid', `no certificate given with ${opts.key} matches its private key`, { file: opts.key });
  }
  const leaf = leafIndex >= 0 ? certs[leafIndex] : undefined;
  const chain = leaf ? [leaf, ...certs.filter((c, i) => i !== leafIndex && !c.der.equals(leaf.der))] : [];
  if (leaf) {
    const p = validityProblem(leaf, opts.now ?? new Date()) ?? signerUsageProblem(leaf);
    if (p) throw new DsvError('KeyInvalid', `${p} (key ${opts.key})`, { file: opts.key });
  }

  const usable = algorithmsForKey(publicKey);
  let algorithm: PkiAlgorithm = usable[0]!;
  const rsa = publicKey.asymmetricKeyType === 'rsa' || publicKey.asymmetricKeyType === 'rsa-pss';
  if (opts.rsaPadding !== undefined) {
    if (opts.rsaPadding !== 'pkcs1' && opts.rsaPadding !== 'pss') {
      throw new DsvError('Usage', `rsaPadding must be "pkcs1" or "pss", not "${String(opts.rsaPadding)}"`);
    }
    if (!rsa) throw new DsvError('Usage', `rsaPadding applies to RSA keys only; ${opts.key} is ${publicKey.asymmetricKeyType}`);
    algorithm = opts.rsaPadding === 'pss' ? 'rsa-pss-sha256' : 'rsa-pkcs1v15-sha256';
    if (!usable.includes(algorithm)) throw new DsvError('KeyInvalid', `key ${opts.key} cannot make ${algorithm} signatures`, { file: opts.key });
  }
  if (opts.format !== undefined && opts.format !== 'v2' && opts.format !== 'legacy') {
    throw new DsvError('Usage', `PKI signature format must be "legacy" or "v2", not "${String(opts.format)}"`);
  }
  const format = opts.format ?? (!leaf && algorithm === 'rsa-pkcs1v15-sha256' ? 'legacy' : 'v2');
  if (format === 'legacy') {
    if (leaf) {
      throw new DsvError(
        'Usage',
        `the legacy PKI signature format (docker-sign-verify's) carries no certificates, but key ${opts.key} comes with a certificate chain: use format v2, or a key file without certificates`,
      );
    }
    if (algorithm !== 'rsa-pkcs1v15-sha256') {
      throw new DsvError('Usage', `the legacy PKI signature format needs an RSA key with PKCS#1 v1.5 padding (key ${opts.key} makes ${algorithm}): use format v2`);
    }
  }

  const keyIdFull = spkiSha256(publicKey);
  const info: KeyInfo = {
    type: 'pki',
    keyId: shortKeyId(publicKey),
    fingerprint: leaf ? leaf.x509.fingerprint256 : colonHex(keyIdFull),
    algorithm,
  };
  if (leaf) info.identity = oneLineName(leaf.x509.subject);
  const chainDer = chain.map((c) => c.der);

  return {
    type: 'pki',
    describeKey: async () => ({ ...info }),
    async sign(data: Uint8Array): Promise<string> {
      const signature = signWith(algorithm, privateKey, data);
      if (format === 'legacy') return formatLegacySignature(signature);
      return formatV2Signature({ algorithm, keyId: keyIdFull, certificates: chainDer, signature });
    },
  };
}
