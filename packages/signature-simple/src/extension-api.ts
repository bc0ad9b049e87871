/**
 * The registry signature extension API (OpenShift/Atomic registries): GET
 * /extensions/v2/<repo>/signatures/<digest> lists {"signatures":[{schemaVersion:2,name,type:"atomic",content}]};
 * each new signature is one PUT of that object alone. Requests go through an injected fetch-like function.
 */
import { randomBytes } from 'node:crypto';
import { DsvError, parseDigest } from '@dsv/core/formats';
import { readBounded, type RequestFunction } from './http.js';
import { MAX_SIGNATURE_BYTES, MAX_SIGNATURE_LIST_BYTES, MAX_SIGNATURES } from './limits.js';

export interface ExtensionTarget {
  /** `https://host[:port]` (or http:// for a plain-HTTP registry). */
  baseUrl: string;
  /** Repository path inside the registry: `library/busybox`. */
  repository: string;
  manifestDigest: string;
  /** Default: global fetch. Pass the registry client's authenticated request function to reuse its auth. */
  request?: RequestFunction;
}

function endpoint(t: ExtensionTarget): string {
  parseDigest(t.manifestDigest);
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(t.repository)) {
    throw new DsvError('ReferenceInvalid', `repository ${JSON.stringify(t.repository)} is not a valid repository path`);
  }
  return `${t.baseUrl.replace(/\/+$/, '')}/extensions/v2/${t.repository}/signatures/${t.manifestDigest}`;
}

async function call(t: ExtensionTarget, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<Response> {
  const url = endpoint(t);
  try {
    return await (t.request ?? fetch)(url, init);
  } catch (e) {
    throw new DsvError('Network', `signature extension ${new URL(url).origin}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function statusError(res: Response, what: string): DsvError {
  if (res.status === 401 || res.status === 403) return new DsvError('AuthFailed', `${what}: HTTP ${res.status} (not authorised)`, { status: res.status });
  if (res.status === 404) return new DsvError('NotFound', `${what}: HTTP 404 (the registry has no signature extension API, or no such manifest)`, { status: 404 });
  return new DsvError('RemoteError', `${what}: HTTP ${res.status}`, { status: res.status });
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bad(message: string): DsvError {
  return new DsvError('RemoteError', `signature extension answer: ${message}`);
}

/** The "atomic" signatures the registry holds for the manifest (other types and schema versions are skipped). */
export async function getExtensionSignatures(t: ExtensionTarget): Promise<Uint8Array[]> {
  const res = await call(t, { method: 'GET', headers: { Accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw statusError(res, `reading signatures of ${t.repository}@${t.manifestDigest}`);
  }
  const body = await readBounded(res, MAX_SIGNATURE_LIST_BYTES, 'the signature list');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const list = (doc as { signatures?: unknown } | null)?.signatures;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(list)) throw bad('no "signatures" array');
  if (list.length > MAX_SIGNATURES) {
    throw new DsvError('LimitExceeded', `the registry lists ${list.length} signatures for one image; at most ${MAX_SIGNATURES} are read`, { limit: MAX_SIGNATURES });
  }
  const out: Uint8Array[] = [];
  for (const [i, item] of list.entries()) {
    if (typeof item !== 'object' || item === null) throw bad(`signatures[${i}] is not an object`);
    const s = item as Record<string, unknown>;
    if (s.schemaVersion !== 2 || s.type !== 'atomic') continue;
    if (typeof s.content !== 'string' || !BASE64_RE.test(s.content)) throw bad(`signatures[${i}].content is not base64`);
    const bytes = new Uint8Array(Buffer.from(s.content, 'base64'));
    if (bytes.length > MAX_SIGNATURE_BYTES) throw new DsvError('LimitExceeded', `signatures[${i}] is larger than ${MAX_SIGNATURE_BYTES} bytes`);
    out.push(bytes);
  }
  return out;
}

/** Uploads one signature: a PUT of {"schemaVersion":2,"name":"<digest>@<32 hex>","type":"atomic","content":...}. */
export async function putExtensionSignature(t: ExtensionTarget, signature: Uint8Array): Promise<void> {
  if (signature.length > MAX_SIGNATURE_BYTES) throw new DsvError('LimitExceeded', `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  const body = JSON.stringify({
    schemaVersion: 2,
    name: `${t.manifestDigest}@${randomBytes(16).toString('hex')}`,
    type: 'atomic',
    content: Buffer.from(signature).toString('base64'),
  });
  const res = await call(t, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body });
  await res.body?.cancel();
  if (res.status !== 201 && res.status !== 200) throw statusError(res, `storing a signature of ${t.repository}@${t.manifestDigest}`);
}

/** Uploads the signatures the registry does not hold yet (compared byte for byte); returns how many were sent. */
export async function putExtensionSignatures(t: ExtensionTarget, signatures: Uint8Array[]): Promise<number> {
  const existing = await getExtensionSignatures(t);
  const have = new Set(existing.map((s) => Buffer.from(s).toString('base64')));
  let sent = 0;
  for (const sig of signatures) {
    const key = Buffer.from(sig).toString('base64');
    if (have.has(key)) continue;
    await putExtensionSignature(t, sig);
    have.add(key);
    sent++;
  }
  return sent;
}
