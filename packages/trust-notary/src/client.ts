/**
 * A Notary v1 (Docker Content Trust) reader: updates a collection's metadata the TUF way (root pinned on
 * first use, timestamp → snapshot → targets → delegations, each checked for signatures, expiry, rollback
 * and hashes), then resolves tags to the manifest digests they sign.
 */
import { DsvError } from '@dsv/core';
import type { TufKey } from './canonical.js';
import { canonicalKeyId } from './keys.js';
import { defaultRequest, makeFetcher, type AuthorizeFunction, type Fetcher, type RequestFunction } from './http.js';
import { DEFAULT_LIMITS, type TrustLimits } from './limits.js';
import {
  checkExpiry, checkFileMetaMatch, checkVersion, parseDocument, verifyThreshold,
  type Common, type DelegationRole, type FileMeta, type RootSigned, type Signed, type SnapshotSigned, type TargetsSigned, type TimestampSigned,
} from './metadata.js';
import { readCached, writeCached } from './trust-dir.js';

export interface NotaryClientOptions {
  /** The trust server's base URL, e.g. `https://notary.example.com:4443`. */
  server: string;
  /** The trust directory (docker CLI: `~/.docker/trust`, or `$DOCKER_CONFIG/trust`). */
  trustDir: string;
  /** Injected HTTP; the default is undici trusting the system roots and `caFiles`. */
  request?: RequestFunction;
  caFiles?: readonly string[];
  /** Token auth for 401 answers (the registry's token service). */
  authorize?: AuthorizeFunction;
  /** The clock expiry is judged by. */
  now?: () => Date;
  limits?: Partial<TrustLimits>;
}

export interface RoleSummary {
  role: string;
  /** TUF key ids (for x509 keys, of the certificate). */
  keyIds: string[];
  /** The ids `notary` and `docker trust inspect` show (for x509 keys, of the bare public key); same order as keyIds. */
  canonicalKeyIds: string[];
  threshold: number;
  /** The key ids whose signatures verified on this role's document (absent for roles not published). */
  signedBy?: string[];
  version?: number;
  expires?: string;
  /** Delegations: the target name prefixes the role may sign. */
  paths?: string[];
}

export interface TagTarget {
  tag: string;
  /** `sha256:<hex>` of the manifest (or manifest list / index) the tag signs. */
  digest: string;
  length: number;
  /** The role whose entry is used (docker: `targets/releases`, else `targets`, else the first delegation). */
  role: string;
  /** Every role that signs this tag with this same digest. */
  signers: string[];
}

export interface TrustState {
  gun: string;
  root: RoleSummary;
  targets: RoleSummary;
  snapshot: RoleSummary;
  timestamp: RoleSummary;
  delegations: RoleSummary[];
  tags: TagTarget[];
}

export interface VerifiedTag {
  gun: string;
  tag: string;
  digest: string;
  length: number;
  /** The signing role (`targets/releases`, `targets`, or a delegation). */
  role: string;
  /** Key ids whose signatures verified on that role's document. */
  keyIds: string[];
  /** The same keys as `notary`/`docker trust inspect` name them. */
  canonicalKeyIds: string[];
  signers: string[];
  /** Expiry of every document the answer depends on, by role. */
  expiries: Record<string, string>;
}

interface Walked {
  role: string;
  doc: Signed<TargetsSigned>;
  keyIds: string[];
  summary: RoleSummary;
}

const TAG_ROLES = ['targets/releases', 'targets'];

function canonicalIds(ids: readonly string[], keys: Record<string, TufKey>): string[] {
  return ids.map((id) => (keys[id] ? canonicalKeyId(keys[id]!, id) : id));
}

function hexSha256(meta: FileMeta, role: string, tag: string): string {
  const b = meta.hashes.sha256 === undefined ? undefined : Buffer.from(meta.hashes.sha256, 'base64');
  if (!b || b.length !== 32) throw new DsvError('SignatureInvalid', `trust role ${role} signs ${JSON.stringify(tag)} without a sha256`, { role, tag });
  return b.toString('hex');
}

const pathAllowed = (name: string, paths: readonly string[]) => paths.some((p) => name.startsWith(p));

export class NotaryClient {
  readonly #o: NotaryClientOptions;
  readonly #limits: TrustLimits;
  readonly #fetch: Fetcher;
  readonly #close: () => Promise<void>;

  constructor(options: NotaryClientOptions) {
    const u = new URL(options.server);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new DsvError('Usage', `trust server must be an https:// URL: ${options.server}`);
    this.#o = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    const own = options.request ? undefined : defaultRequest(options.caFiles);
    this.#close = own ? () => own.close() : async () => {};
    this.#fetch = makeFetcher(options.request ?? own!, options.authorize, this.#limits.maxRedirects);
  }

  /** Closes the connections of the default HTTP client (an injected `request` is the caller's to close). */
  close(): Promise<void> {
    return this.#close();
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  #url(gun: string, name: string): string {
    return `${this.#o.server.replace(/\/+$/, '')}/v2/${gun}/_trust/tuf/${name}`;
  }

  /** Fetches `<role>.<sha256hex>.json` when the parent names a sha256 (falling back to `<role>.json` on 404), and checks it against `meta`. */
  async #fetchChecked(gun: string, role: string, meta: FileMeta, limit: number): Promise<Uint8Array> {
    if (meta.length > limit) throw new DsvError('LimitExceeded', `trust metadata ${role} is declared ${meta.length} bytes, over the ${limit}-byte cap`, { role, limit });
    let raw: Uint8Array | undefined;
    if (meta.hashes.sha256 !== undefined) {
      const hex = Buffer.from(meta.hashes.sha256, 'base64').toString('hex');
      raw = await this.#fetch.get(this.#url(gun, `${role}.${hex}.json`), limit, `${gun} ${role}`);
    }
    raw ??= await this.#fetch.get(this.#url(gun, `${role}.json`), limit, `${gun} ${role}`);
    if (!raw) throw new DsvError('NotFound', `trust server has no ${role} for ${gun}`, { gun, role });
    checkFileMetaMatch(raw, meta, role);
    return raw;
  }

  #cachedVersion(gun: string, role: string): number | undefined {
    const raw = readCached(this.#o.trustDir, gun, role);
    if (!raw) return undefined;
    try {
      const v = (JSON.parse(Buffer.from(raw).toString('utf8')) as { signed?: { version?: unknown } }).signed?.version;
      return typeof v === 'number' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  async #root(gun: string, now: Date): Promise<Signed<RootSigned>> {
    const cachedRaw = readCached(this.#o.trustDir, gun, 'root');
    const raw = await this.#fetch.get(this.#url(gun, 'root.json'), this.#limits.root, `${gun} root`);
    if (!raw) throw new DsvError('NoSignatures', `no trust data for ${gun}`, { gun });
    const root = parseDocument<RootSigned>(raw, 'root');
    if (cachedRaw) {
      const pinned = parseDocument<RootSigned>(cachedRaw, 'root');
      checkVersion(root, 'root', pinned.signed.version);
      if (!Buffer.from(raw).equals(Buffer.from(cachedRaw))) {
        // A new root (a rotation, or the same version re-signed) is followed only when the root trusted
        // before it signs it: the pinned root, or the last of the versions `<n>.root.json` walked up to it.
        let trusted = pinned;
        for (let v = pinned.signed.version + 1; v < root.signed.version && v - pinned.signed.version <= this.#limits.maxRootHops; v++) {
          const midRaw = await this.#fetch.get(this.#url(gun, `${v}.root.json`), this.#limits.root, `${gun} root version ${v}`);
          if (!midRaw) break;
          const mid = parseDocument<RootSigned>(midRaw, 'root');
          if (mid.signed.version !== v) throw new DsvError('Untrusted', `trust server's root version ${v} for ${gun} says it is version ${mid.signed.version}`, { gun });
          verifyThreshold(mid, trusted.signed.keys, trusted.signed.roles.root!, `root version ${v} (by version ${trusted.signed.version})`, now);
          verifyThreshold(mid, mid.signed.keys, mid.signed.roles.root!, `root version ${v}`, now);
          trusted = mid;
        }
        const by = trusted === pinned ? 'the pinned root' : `root version ${trusted.signed.version}`;
        verifyThreshold(root, trusted.signed.keys, trusted.signed.roles.root!, `root (by ${by})`, now);
      }
    }
    verifyThreshold(root, root.signed.keys, root.signed.roles.root!, 'root', now);
    checkExpiry(root, 'root', now);
    return root;
  }

  /** Downloads and verifies every document of `gun`; pins them in the trust dir only when all verified. */
  async update(gun: string): Promise<TrustState> {
    const now = this.#now();
    const root = await this.#root(gun, now);
    const rs = root.signed;
    const write = new Map<string, Uint8Array>([['root', root.raw]]);
    const summary = (role: string, doc: Signed<Common>, keyIds: string[], rk: { keyids: string[]; threshold: number }): RoleSummary => ({
      role, keyIds: rk.keyids, canonicalKeyIds: canonicalIds(rk.keyids, rs.keys), threshold: rk.threshold, signedBy: keyIds, version: doc.signed.version, expires: doc.signed.expires,
    });

    const tsRaw = await this.#fetch.get(this.#url(gun, 'timestamp.json'), this.#limits.timestamp, `${gun} timestamp`);
    if (!tsRaw) throw new DsvError('NoSignatures', `no trust data (timestamp) for ${gun}`, { gun });
    const ts = parseDocument<TimestampSigned>(tsRaw, 'timestamp');
    const tsKeys = verifyThreshold(ts, rs.keys, rs.roles.timestamp!, 'timestamp', now);
    checkExpiry(ts, 'timestamp', now);
    checkVersion(ts, 'timestamp', this.#cachedVersion(gun, 'timestamp'));
    write.set('timestamp', tsRaw);

    const snapMeta = ts.signed.meta.snapshot!;
    const snapRaw = await this.#fetchChecked(gun, 'snapshot', snapMeta, this.#limits.snapshot);
    const snap = parseDocument<SnapshotSigned>(snapRaw, 'snapshot');
    const snapKeys = verifyThreshold(snap, rs.keys, rs.roles.snapshot!, 'snapshot', now);
    checkExpiry(snap, 'snapshot', now);
    checkVersion(snap, 'snapshot', this.#cachedVersion(gun, 'snapshot'));
    this.#metaVersion(snap, snapMeta, 'snapshot');
    if (snap.signed.meta.root) checkFileMetaMatch(root.raw, snap.signed.meta.root, 'root');
    write.set('snapshot', snapRaw);

    const walked = await this.#walkTargets(gun, rs, snap, now, write);
    const state: TrustState = {
      gun,
      root: summary('root', root, verifyThreshold(root, rs.keys, rs.roles.root!, 'root', now), rs.roles.root!),
      timestamp: summary('timestamp', ts, tsKeys, rs.roles.timestamp!),
      snapshot: summary('snapshot', snap, snapKeys, rs.roles.snapshot!),
      targets: walked[0]!.summary,
      delegations: walked.slice(1).map((w) => w.summary),
      tags: collectTags(walked),
    };
    writeCached(this.#o.trustDir, gun, write);
    return state;
  }

  #metaVersion(doc: Signed<Common>, meta: FileMeta, role: string): void {
    if (meta.version !== undefined && meta.version !== doc.signed.version)
      throw new DsvError('Untrusted', `trust metadata ${role} is version ${doc.signed.version}, its parent names version ${meta.version}`, { role });
  }

  async #walkTargets(gun: string, rs: RootSigned, snap: Signed<SnapshotSigned>, now: Date, write: Map<string, Uint8Array>): Promise<Walked[]> {
    const load = async (role: string, keys: Record<string, TufKey>, rk: { keyids: string[]; threshold: number }): Promise<Omit<Walked, 'summary'> | undefined> => {
      const meta = snap.signed.meta[role];
      if (!meta) return undefined;
      const cached = this.#cachedVersion(gun, role);
      if (meta.version !== undefined && cached !== undefined && meta.version < cached)
        throw new DsvError('Untrusted', `snapshot names ${role} version ${meta.version}, lower than the cached version ${cached}`, { role });
      const raw = await this.#fetchChecked(gun, role, meta, this.#limits.targets);
      const doc = parseDocument<TargetsSigned>(raw, role);
      const keyIds = verifyThreshold(doc, keys, rk, role, now);
      checkExpiry(doc, role, now);
      checkVersion(doc, role, cached);
      this.#metaVersion(doc, meta, role);
      write.set(role, raw);
      return { role, doc, keyIds };
    };
    const top = await load('targets', rs.keys, rs.roles.targets!);
    if (!top) throw new DsvError('NoSignatures', `snapshot of ${gun} names no targets`, { gun });
    const rt = rs.roles.targets!;
    const out: Walked[] = [{ ...top, summary: { role: 'targets', keyIds: rt.keyids, canonicalKeyIds: canonicalIds(rt.keyids, rs.keys), threshold: rt.threshold, signedBy: top.keyIds, version: top.doc.signed.version, expires: top.doc.signed.expires } }];
    const queue: Array<{ parent: Walked; paths: string[] | undefined }> = [{ parent: out[0]!, paths: undefined }];
    while (queue.length) {
      const { parent, paths: parentPaths } = queue.shift()!;
      const d = parent.doc.signed.delegations;
      if (!d) continue;
      for (const dr of d.roles as DelegationRole[]) {
        if (out.length > this.#limits.maxDelegations) throw new DsvError('LimitExceeded', `${gun} has more than ${this.#limits.maxDelegations} delegations`);
        if (!dr.name.startsWith(parent.role + '/') || dr.name.slice(parent.role.length + 1).includes('/'))
          throw new DsvError('Untrusted', `role ${parent.role} delegates to ${dr.name}, which is not its child`, { role: dr.name });
        const paths = dr.paths ?? [];
        if (parentPaths && !paths.every((p) => pathAllowed(p, parentPaths)))
          throw new DsvError('Untrusted', `delegation ${dr.name} claims paths outside those of ${parent.role}`, { role: dr.name });
        const got = await load(dr.name, d.keys, dr);
        const summary: RoleSummary = { role: dr.name, keyIds: dr.keyids, canonicalKeyIds: canonicalIds(dr.keyids, d.keys), threshold: dr.threshold, paths };
        if (!got) {
          out.push({ role: dr.name, doc: { signed: { _type: 'Targets', version: 0, expires: '', targets: {} }, signatures: [], raw: new Uint8Array() }, keyIds: [], summary });
          continue;
        }
        for (const name of Object.keys(got.doc.signed.targets)) {
          if (!pathAllowed(name, paths))
            throw new DsvError('Untrusted', `delegation ${dr.name} signs ${JSON.stringify(name)}, outside its paths`, { role: dr.name, tag: name });
        }
        const w: Walked = { ...got, summary: { ...summary, signedBy: got.keyIds, version: got.doc.signed.version, expires: got.doc.signed.expires } };
        out.push(w);
        queue.push({ parent: w, paths });
      }
    }
    return out;
  }

  /** What `docker trust inspect` shows: signed tags with digests and signers, and every role's keys and expiry. */
  inspect(gun: string): Promise<TrustState> {
    return this.update(gun);
  }

  /** The digest and length `tag` is signed for, the role that signs it, and the expiries the answer rests on. */
  async verifyTag(gun: string, tag: string): Promise<VerifiedTag> {
    const state = await this.update(gun);
    const t = state.tags.find((x) => x.tag === tag);
    if (!t || !TAG_ROLES.includes(t.role))
      throw new DsvError('NoSignatures', `no signed trust data for ${gun}:${tag}${t ? ` in ${TAG_ROLES.join(' or ')} (only ${t.signers.join(', ')})` : ''}`, { gun, tag });
    const roles = [state.root, state.timestamp, state.snapshot, state.targets, ...state.delegations];
    const expiries: Record<string, string> = {};
    for (const r of roles) if (r.expires && (['root', 'timestamp', 'snapshot', 'targets'].includes(r.role) || r.role === t.role)) expiries[r.role] = r.expires;
    const r = roles.find((x) => x.role === t.role)!;
    const keyIds = r.signedBy ?? [];
    const canonicalKeyIds = keyIds.map((id) => r.canonicalKeyIds[r.keyIds.indexOf(id)] ?? id);
    return { gun, tag, digest: t.digest, length: t.length, role: t.role, keyIds, canonicalKeyIds, signers: t.signers, expiries };
  }
}

function collectTags(walked: Walked[]): TagTarget[] {
  const byTag = new Map<string, Array<{ role: string; digest: string; length: number }>>();
  for (const w of walked) {
    for (const [name, meta] of Object.entries(w.doc.signed.targets)) {
      const list = byTag.get(name) ?? [];
      list.push({ role: w.role, digest: `sha256:${hexSha256(meta, w.role, name)}`, length: meta.length });
      byTag.set(name, list);
    }
  }
  const out: TagTarget[] = [];
  for (const [tag, list] of byTag) {
    const pick = list.find((e) => e.role === 'targets/releases') ?? list.find((e) => e.role === 'targets') ?? list[0]!;
    out.push({ tag, digest: pick.digest, length: pick.length, role: pick.role, signers: list.filter((e) => e.digest === pick.digest).map((e) => e.role) });
  }
  return out.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}
