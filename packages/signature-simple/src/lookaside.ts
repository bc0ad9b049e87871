/**
 * Lookaside signature stores: `<base>/<repository>@<algorithm>=<hex>/signature-<n>` (n from 1). Read over
 * file://, http:// and https:// up to the first missing one; written to file:// only, each file via a
 * temp file and a rename.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DsvError, parseDigest, parseDockerReference } from '@dsv/core/formats';
import { readBounded, type RequestFunction } from './http.js';
import { MAX_SIGNATURE_BYTES, MAX_SIGNATURES } from './limits.js';

/** The URL of signature `index` (1-based) of a manifest in a lookaside store. */
export function lookasideSignatureUrl(base: string, dockerReference: string, manifestDigest: string, index: number): URL {
  if (!Number.isInteger(index) || index < 1) throw new DsvError('Usage', `lookaside signature index ${index} must be 1 or more`);
  const { algorithm, hex } = parseDigest(manifestDigest);
  const ref = parseDockerReference(dockerReference, { defaultRegistry: 'docker.io' });
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new DsvError('Usage', `lookaside URL ${JSON.stringify(base)} is not a URL`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${ref.repository}@${algorithm}=${hex}/signature-${index}`;
  return url;
}

function tooMany(where: string): DsvError {
  return new DsvError('LimitExceeded', `${where} holds more than ${MAX_SIGNATURES} signatures for one image; refusing to read more`, { limit: MAX_SIGNATURES });
}

async function readFileSignature(url: URL): Promise<Uint8Array | undefined> {
  const path = fileURLToPath(url);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new DsvError('IoError', `lookaside signature ${path} cannot be read (${code ?? 'error'})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DsvError('IoError', `lookaside signature ${path} is not a regular file`);
    if (st.size > MAX_SIGNATURE_BYTES) throw new DsvError('LimitExceeded', `lookaside signature ${path} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return new Uint8Array(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function readHttpSignature(url: URL, request: RequestFunction): Promise<Uint8Array | undefined> {
  let res: Response;
  try {
    res = await request(url.href, { method: 'GET' });
  } catch (e) {
    throw new DsvError('Network', `lookaside ${url.origin}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new DsvError('RemoteError', `lookaside ${url.href} answered HTTP ${res.status}`, { status: res.status });
  }
  return readBounded(res, MAX_SIGNATURE_BYTES, `lookaside signature ${url.href}`);
}

/** Reads signature-1, signature-2, ... until the first missing one. More than MAX_SIGNATURES is an error. */
export async function readLookasideSignatures(
  base: string, dockerReference: string, manifestDigest: string, opts: { request?: RequestFunction } = {},
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 1; ; i++) {
    const url = lookasideSignatureUrl(base, dockerReference, manifestDigest, i);
    if (i > MAX_SIGNATURES) {
      const extra = url.protocol === 'file:' ? await readFileSignature(url) : await readHttpSignature(url, opts.request ?? fetch);
      if (extra === undefined) return out;
      throw tooMany(`lookaside ${base}`);
    }
    let sig: Uint8Array | undefined;
    if (url.protocol === 'file:') sig = await readFileSignature(url);
    else if (url.protocol === 'http:' || url.protocol === 'https:') sig = await readHttpSignature(url, opts.request ?? fetch);
    else throw new DsvError('Usage', `lookaside URL ${base} uses ${url.protocol}; reading supports file:, http:, https:`);
    if (sig === undefined) return out;
    out.push(sig);
  }
}

function writablePath(url: URL, base: string): string {
  if (url.protocol !== 'file:') throw new DsvError('Usage', `lookaside ${base} is not a file:// URL; signatures can only be written to file:// stores`);
  return fileURLToPath(url);
}

async function atomicWrite(path: string, data: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DsvError('IoError', `cannot write lookaside signature ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Makes the store hold exactly `signatures` for the manifest: signature-1..n written (temp + rename), then
 * stale signature-(n+1)... removed.
 */
export async function writeLookasideSignatures(base: string, dockerReference: string, manifestDigest: string, signatures: Uint8Array[]): Promise<void> {
  if (signatures.length > MAX_SIGNATURES) throw tooMany('the signature list');
  for (const [i, sig] of signatures.entries()) {
    if (sig.length > MAX_SIGNATURE_BYTES) throw new DsvError('LimitExceeded', `signature ${i + 1} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  }
  for (const [i, sig] of signatures.entries()) {
    await atomicWrite(writablePath(lookasideSignatureUrl(base, dockerReference, manifestDigest, i + 1), base), sig);
  }
  for (let i = signatures.length + 1; i <= MAX_SIGNATURES + 1; i++) {
    const url = lookasideSignatureUrl(base, dockerReference, manifestDigest, i);
    const path = writablePath(url, base);
    const existing = await readFileSignature(url).catch(() => new Uint8Array(0));
    if (existing === undefined) break;
    await rm(path, { force: true });
  }
}

/** Adds one signature after the existing ones (nothing when an identical one is there); returns its index. */
export async function addLookasideSignature(base: string, dockerReference: string, manifestDigest: string, signature: Uint8Array): Promise<number> {
  writablePath(lookasideSignatureUrl(base, dockerReference, manifestDigest, 1), base);
  const existing = await readLookasideSignatures(base, dockerReference, manifestDigest);
  const same = existing.findIndex((s) => Buffer.from(s).equals(Buffer.from(signature)));
  if (same !== -1) return same + 1;
  if (existing.length >= MAX_SIGNATURES) throw tooMany(`lookaside ${base}`);
  if (signature.length > MAX_SIGNATURE_BYTES) throw new DsvError('LimitExceeded', `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  const index = existing.length + 1;
  await atomicWrite(writablePath(lookasideSignatureUrl(base, dockerReference, manifestDigest, index), base), signature);
  return index;
}
