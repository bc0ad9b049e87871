// Crafted Notary v1 collections for unit tests: real keys and signatures, served by an in-memory request function.
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { keyId, notaryCanonicalJson, type TufKey } from '../canonical.js';
import type { RequestFunction } from '../http.js';

export type Scheme = 'ecdsa' | 'ed25519' | 'rsa';
export interface TestKey {
  id: string;
  pub: TufKey;
  priv: KeyObject;
  scheme: Scheme;
}

export function makeKey(scheme: Scheme = 'ecdsa'): TestKey {
  const pair =
    scheme === 'ecdsa' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : scheme === 'ed25519' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pubB64 =
    scheme === 'ed25519'
      ? Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64')
      : pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const pub: TufKey = { keytype: scheme, keyval: { private: null, public: pubB64 } };
  return { id: keyId(pub), pub, priv: pair.privateKey, scheme };
}

export function signDoc(signed: Record<string, unknown>, keys: TestKey[]): Uint8Array {
  const data = Buffer.from(notaryCanonicalJson(signed));
  const signatures = keys.map((k) => {
    const sig =
      k.scheme === 'ecdsa' ? sign('sha256', data, { key: k.priv, dsaEncoding: 'ieee-p1363' })
      : k.scheme === 'ed25519' ? sign(null, data, k.priv)
      : sign('sha256', data, { key: k.priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    return { keyid: k.id, method: k.scheme === 'ecdsa' ? 'ecdsa' : k.scheme === 'ed25519' ? 'eddsa' : 'rsapss', sig: sig.toString('base64') };
  });
  // Pretty-printed, as a server may send it: signatures cover the canonical form, not these bytes.
  return Buffer.from(JSON.stringify({ signed, signatures }, null, 1));
}

export const meta = (raw: Uint8Array, extra: Record<string, unknown> = {}) => ({
  length: raw.length,
  hashes: { sha256: createHash('sha256').update(raw).digest('base64'), sha512: createHash('sha512').update(raw).digest('base64') },
  ...extra,
});
export const targetMeta = (manifest: string) => meta(Buffer.from(manifest));
export const FUTURE = '2030-01-01T00:00:00Z';

export interface RepoSpec {
  rootKeys: TestKey[];
  rootThreshold?: number;
  targetsKey: TestKey;
  snapshotKey: TestKey;
  timestampKey: TestKey;
  rootVersion?: number;
  version?: number;
  targets: Record<string, unknown>;
  /** Delegations of `targets`, or of the delegation named by `parent`. */
  delegations?: Array<{ name: string; key: TestKey; paths: string[]; targets: Record<string, unknown>; signWith?: TestKey[]; parent?: string }>;
  timestampExpires?: string;
  /** Root signed by these keys instead of `rootKeys`. */
  rootSignedBy?: TestKey[];
  snapshotMetaExtra?: Record<string, Record<string, unknown>>;
}

/** Builds every document of a collection; returns them by file name. */
export function buildRepo(s: RepoSpec): Map<string, Uint8Array> {
  const v = s.version ?? 1;
  const all = [...s.rootKeys, s.targetsKey, s.snapshotKey, s.timestampKey];
  const keys = Object.fromEntries(all.map((k) => [k.id, k.pub]));
  const root = signDoc(
    {
      _type: 'Root', consistent_snapshot: false, expires: FUTURE, keys,
      roles: {
        root: { keyids: s.rootKeys.map((k) => k.id), threshold: s.rootThreshold ?? 1 },
        targets: { keyids: [s.targetsKey.id], threshold: 1 },
        snapshot: { keyids: [s.snapshotKey.id], threshold: 1 },
        timestamp: { keyids: [s.timestampKey.id], threshold: 1 },
      },
      version: s.rootVersion ?? 1,
    },
    s.rootSignedBy ?? s.rootKeys,
  );
  const files = new Map<string, Uint8Array>([['root', root]]);
  const dels = s.delegations ?? [];
  const delegationsOf = (parent: string) => {
    const kids = dels.filter((d) => (d.parent ?? 'targets') === parent);
    return {
      keys: Object.fromEntries(kids.map((d) => [d.key.id, d.key.pub])),
      roles: kids.map((d) => ({ name: d.name, keyids: [d.key.id], threshold: 1, paths: d.paths })),
    };
  };
  const targets = signDoc(
    {
      _type: 'Targets', expires: FUTURE, targets: s.targets, version: v,
      delegations: delegationsOf('targets'),
    },
    [s.targetsKey],
  );
  files.set('targets', targets);
  const snapMeta: Record<string, unknown> = { root: meta(root), targets: meta(targets) };
  for (const d of dels) {
    const raw = signDoc({ _type: 'Targets', expires: FUTURE, targets: d.targets, version: v, delegations: delegationsOf(d.name) }, d.signWith ?? [d.key]);
    files.set(d.name, raw);
    snapMeta[d.name] = meta(raw);
  }
  for (const [k, extra] of Object.entries(s.snapshotMetaExtra ?? {})) Object.assign(snapMeta[k] as object, extra);
  const snapshot = signDoc({ _type: 'Snapshot', expires: FUTURE, meta: snapMeta, version: v }, [s.snapshotKey]);
  files.set('snapshot', snapshot);
  files.set('timestamp', signDoc({ _type: 'Timestamp', expires: s.timestampExpires ?? FUTURE, meta: { snapshot: meta(snapshot) }, version: v }, [s.timestampKey]));
  return files;
}

/** Serves `files` for one GUN as a Notary server would (plain and `<role>.<sha256>.json` names); `log` records every URL asked. */
export function serve(gun: string, files: () => Map<string, Uint8Array>, log: string[] = []): RequestFunction {
  return async (url) => {
    log.push(url);
    const prefix = `https://notary.test/v2/${gun}/_trust/tuf/`;
    if (!url.startsWith(prefix)) return new Response('not found', { status: 404 });
    const name = url.slice(prefix.length).replace(/\.json$/, '');
    const f = files();
    const m = /^(.*)\.([0-9a-f]{64})$/.exec(name);
    const body = m ? f.get(m[1]!) : f.get(name);
    if (!body || (m && createHash('sha256').update(body).digest('hex') !== m[2])) return new Response('not found', { status: 404 });
    return new Response(body, { status: 200, headers: { 'content-length': String(body.length) } });
  };
}
