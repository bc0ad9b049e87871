/** Notary v1 TUF documents: parsing with shape checks, threshold signature checks, expiry, and hash/length checks against a parent's meta. */
import { createHash } from 'node:crypto';
import { DsvError } from '@dsv/core';
import { keyId, notaryCanonicalJson, type TufKey } from './canonical.js';
import { loadKey, verifySignature } from './keys.js';

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}
export interface FileMeta {
  length: number;
  /** Notary writes each hash as base64 of the raw digest. */
  hashes: Record<string, string>;
  version?: number;
}
export interface DelegationRole extends RoleKeys {
  name: string;
  paths?: string[];
  path_hash_prefixes?: string[];
}
export interface Common {
  _type: string;
  version: number;
  expires: string;
}
export interface RootSigned extends Common {
  keys: Record<string, TufKey>;
  roles: Record<string, RoleKeys>;
  consistent_snapshot?: boolean;
}
export interface TargetsSigned extends Common {
  targets: Record<string, FileMeta>;
  delegations?: { keys: Record<string, TufKey>; roles: DelegationRole[] };
}
export interface SnapshotSigned extends Common {
  meta: Record<string, FileMeta>;
}
export type TimestampSigned = SnapshotSigned;

export interface Signed<T> {
  signed: T;
  signatures: Array<{ keyid: string; method: string; sig: string }>;
  /** The exact bytes received. */
  raw: Uint8Array;
}

const TYPES: Record<string, string> = { root: 'Root', targets: 'Targets', snapshot: 'Snapshot', timestamp: 'Timestamp' };

function bad(role: string, why: string): DsvError {
  return new DsvError('SignatureInvalid', `trust metadata ${role}: ${why}`, { role });
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkFileMeta(role: string, name: string, m: unknown): void {
  if (!isObj(m) || !Number.isSafeInteger(m.length) || (m.length as number) < 0 || !isObj(m.hashes)) throw bad(role, `entry ${JSON.stringify(name)} has no valid length/hashes`);
  for (const v of Object.values(m.hashes)) if (typeof v !== 'string') throw bad(role, `entry ${JSON.stringify(name)} has a malformed hash`);
  if (m.version !== undefined && !Number.isSafeInteger(m.version)) throw bad(role, `entry ${JSON.stringify(name)} has a malformed version`);
}

function checkRoleKeys(role: string, name: string, r: unknown): void {
  if (!isObj(r) || !Array.isArray(r.keyids) || !r.keyids.every((k) => typeof k === 'string') || !Number.isSafeInteger(r.threshold) || (r.threshold as number) < 1)
    throw bad(role, `role ${JSON.stringify(name)} needs key ids and a threshold of at least 1`);
}

function checkKeys(role: string, keys: unknown): void {
  if (!isObj(keys)) throw bad(role, 'keys missing');
  for (const [id, k] of Object.entries(keys)) {
    if (!isObj(k) || typeof k.keytype !== 'string' || !isObj(k.keyval) || typeof k.keyval.public !== 'string') throw bad(role, `key ${id} is malformed`);
  }
}

/** Parses one document of `role` (root, targets, snapshot, timestamp or a delegation `targets/…`). */
export function parseDocument<T extends Common>(raw: Uint8Array, role: string): Signed<T> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw bad(role, 'not JSON');
  }
  if (!isObj(doc) || !isObj(doc.signed) || !Array.isArray(doc.signatures)) throw bad(role, 'needs "signed" and "signatures"');
  const s = doc.signed;
  const want = TYPES[role] ?? 'Targets';
  if (s._type !== want) throw bad(role, `_type is ${JSON.stringify(s._type)}, expected ${want}`);
  if (!Number.isSafeInteger(s.version) || (s.version as number) < 1) throw bad(role, 'version must be a positive integer');
  if (typeof s.expires !== 'string' || Number.isNaN(Date.parse(s.expires))) throw bad(role, 'expires is not a date');
  for (const sig of doc.signatures) {
    if (!isObj(sig) || typeof sig.keyid !== 'string' || typeof sig.method !== 'string' || typeof sig.sig !== 'string') throw bad(role, 'a signature is malformed');
  }
  if (want === 'Root') {
    checkKeys(role, s.keys);
    if (!isObj(s.roles)) throw bad(role, 'roles missing');
    for (const r of ['root', 'targets', 'snapshot', 'timestamp']) checkRoleKeys(role, r, s.roles[r]);
  } else if (want === 'Targets') {
    if (!isObj(s.targets)) throw bad(role, 'targets missing');
    for (const [n, m] of Object.entries(s.targets)) checkFileMeta(role, n, m);
    if (s.delegations !== undefined) {
      const d = s.delegations;
      if (!isObj(d) || !Array.isArray(d.roles)) throw bad(role, 'delegations are malformed');
      checkKeys(role, d.keys);
      for (const r of d.roles) {
        if (!isObj(r) || typeof r.name !== 'string') throw bad(role, 'a delegation has no name');
        checkRoleKeys(role, r.name, r);
        if (r.paths !== undefined && (!Array.isArray(r.paths) || !r.paths.every((p) => typeof p === 'string'))) throw bad(role, `delegation ${r.name} has malformed paths`);
      }
    }
  } else {
    if (!isObj(s.meta)) throw bad(role, 'meta missing');
    for (const [n, m] of Object.entries(s.meta)) checkFileMeta(role, n, m);
    if (want === 'Timestamp' && !s.meta.snapshot) throw bad(role, 'names no snapshot');
  }
  return { signed: s as unknown as T, signatures: doc.signatures as Signed<T>['signatures'], raw };
}

/**
 * Checks that at least `threshold` distinct keys of `roleKeys` signed the canonical form of `doc.signed`.
 * Every key id used must be the hash of its key. Returns the key ids whose signatures verified.
 */
export function verifyThreshold(doc: Signed<Common>, keys: Record<string, TufKey>, roleKeys: RoleKeys, role: string, now: Date): string[] {
  const data = Buffer.from(notaryCanonicalJson(doc.signed));
  const allowed = new Set(roleKeys.keyids);
  const valid = new Set<string>();
  for (const s of doc.signatures) {
    if (!allowed.has(s.keyid) || valid.has(s.keyid)) continue;
    const k = keys[s.keyid];
    if (!k) continue;
    if (keyId(k) !== s.keyid) throw new DsvError('Untrusted', `trust metadata ${role}: key id ${s.keyid} does not match its key`, { role, keyId: s.keyid });
    const loaded = loadKey(k, s.keyid);
    if (loaded.notAfter && (now > loaded.notAfter || now < loaded.notBefore!)) continue;
    if (verifySignature(loaded, s.method, data, Buffer.from(s.sig, 'base64'))) valid.add(s.keyid);
  }
  if (valid.size < roleKeys.threshold)
    throw new DsvError('SignatureInvalid', `trust metadata ${role}: ${valid.size} valid signature(s), threshold is ${roleKeys.threshold}`, { role });
  return [...valid];
}

export function checkExpiry(doc: Signed<Common>, role: string, now: Date): void {
  if (Date.parse(doc.signed.expires) <= now.getTime())
    throw new DsvError('Untrusted', `trust metadata ${role} expired at ${doc.signed.expires}`, { role, expires: doc.signed.expires });
}

/** The exact bytes must have the length and every known hash the parent's meta names (at least one). */
export function checkFileMetaMatch(raw: Uint8Array, meta: FileMeta, role: string): void {
  if (raw.length !== meta.length) throw new DsvError('SizeMismatch', `trust metadata ${role} is ${raw.length} bytes, its parent says ${meta.length}`, { role });
  let checked = 0;
  for (const alg of ['sha256', 'sha512'] as const) {
    const want = meta.hashes[alg];
    if (want === undefined) continue;
    checked++;
    if (createHash(alg).update(raw).digest('base64') !== Buffer.from(want, 'base64').toString('base64'))
      throw new DsvError('DigestMismatch', `trust metadata ${role} does not match its ${alg} in its parent`, { role });
  }
  if (checked === 0) throw new DsvError('SignatureInvalid', `trust metadata ${role}: its parent names no sha256/sha512 hash`, { role });
}

export function checkVersion(doc: Signed<Common>, role: string, cached: number | undefined): void {
  if (cached !== undefined && doc.signed.version < cached)
    throw new DsvError('Untrusted', `trust metadata ${role} went back from version ${cached} to ${doc.signed.version}`, { role, version: doc.signed.version, cached });
}
