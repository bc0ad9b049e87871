/**
 * Strict containers-policy.json parsing: unknown, duplicated or mistyped fields, unknown requirement
 * types and invalid scopes are a DsvError('Usage', details.reason 'PolicyInvalid'), never "accept".
 */
import { DsvError, JsonSyntaxError, parseJsonAst, type JsonAst, type JsonObjectAst } from '@dsv/core';
import { validateIdentityMatcher } from './identity.js';
import type { IdentityMatcher, KeySource, Policy, Requirement, SigstoreFulcio, SigstorePki } from './model.js';
import { validateScope } from './scopes.js';

export const POLICY_INVALID = 'PolicyInvalid';

export function policyInvalid(message: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('Usage', `invalid policy: ${message}`, { reason: POLICY_INVALID, ...details });
}

type Fields = Map<string, JsonAst>;

function object(ast: JsonAst, where: string): Fields {
  if (ast.kind !== 'object') throw policyInvalid(`${where} must be a JSON object`);
  return members(ast, where);
}

function members(ast: JsonObjectAst, where: string): Fields {
  const out: Fields = new Map();
  for (const m of ast.members) {
    if (out.has(m.key)) throw policyInvalid(`${where} has the field ${JSON.stringify(m.key)} twice`);
    out.set(m.key, m.value);
  }
  return out;
}

function onlyFields(fields: Fields, allowed: string[], where: string): void {
  for (const k of fields.keys()) {
    if (!allowed.includes(k)) throw policyInvalid(`${where} has an unknown field ${JSON.stringify(k)}`);
  }
}

function str(ast: JsonAst | undefined, where: string): string {
  if (!ast || ast.kind !== 'string') throw policyInvalid(`${where} must be a string`);
  return ast.value;
}

function optStr(fields: Fields, key: string, where: string): string | undefined {
  const v = fields.get(key);
  return v === undefined ? undefined : str(v, `${where}.${key}`);
}

function nonEmpty(fields: Fields, key: string, where: string): string {
  const v = str(fields.get(key), `${where}.${key}`);
  if (v === '') throw policyInvalid(`${where}.${key} must not be empty`);
  return v;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64(value: string, where: string): Uint8Array {
  if (value === '' || !BASE64_RE.test(value)) throw policyInvalid(`${where} is not valid base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function strings(ast: JsonAst | undefined, where: string): string[] {
  if (!ast || ast.kind !== 'array') throw policyInvalid(`${where} must be an array of strings`);
  if (ast.items.length === 0) throw policyInvalid(`${where} must not be empty`);
  return ast.items.map((item, i) => {
    const s = str(item, `${where}[${i}]`);
    if (s === '') throw policyInvalid(`${where}[${i}] must not be empty`);
    return s;
  });
}

/** keyPath | keyPaths | keyData | keyDatas (the latter only where `plural` allows): exactly one, or none when optional. */
function keySources(fields: Fields, where: string, opts: { datas: boolean; optional: boolean; prefix?: string }): KeySource[] {
  const p = opts.prefix ?? 'key';
  const names = [`${p}Path`, `${p}Paths`, `${p}Data`, ...(opts.datas ? [`${p}Datas`] : [])];
  const present = names.filter((n) => fields.has(n));
  if (present.length > 1) throw policyInvalid(`${where} may have only one of ${names.join(', ')}; it has ${present.join(' and ')}`);
  if (present.length === 0) {
    if (opts.optional) return [];
    throw policyInvalid(`${where} needs one of ${names.join(', ')}`);
  }
  const name = present[0]!;
  const at = `${where}.${name}`;
  if (name.endsWith('Paths')) return strings(fields.get(name), at).map((path) => ({ kind: 'path', path }));
  if (name.endsWith('Path')) return [{ kind: 'path', path: nonEmpty(fields, name, where) }];
  if (name.endsWith('Datas')) return strings(fields.get(name), at).map((d, i) => ({ kind: 'data', data: base64(d, `${at}[${i}]`) }));
  return [{ kind: 'data', data: base64(str(fields.get(name), at), at) }];
}

function oneSource(fields: Fields, pathKey: string, dataKey: string, where: string, optional: boolean): KeySource | undefined {
  const path = optStr(fields, pathKey, where);
  const data = optStr(fields, dataKey, where);
  if (path !== undefined && data !== undefined) throw policyInvalid(`${where} may have only one of ${pathKey}, ${dataKey}`);
  if (path !== undefined) {
    if (path === '') throw policyInvalid(`${where}.${pathKey} must not be empty`);
    return { kind: 'path', path };
  }
  if (data !== undefined) return { kind: 'data', data: base64(data, `${where}.${dataKey}`) };
  if (optional) return undefined;
  throw policyInvalid(`${where} needs ${pathKey} or ${dataKey}`);
}

function identity(fields: Fields, key: string, where: string, fallback: IdentityMatcher | undefined): IdentityMatcher {
  const ast = fields.get(key);
  if (ast === undefined) {
    if (fallback) return fallback;
    throw policyInvalid(`${where}.${key} is required`);
  }
  const at = `${where}.${key}`;
  const f = object(ast, at);
  const type = str(f.get('type'), `${at}.type`);
  let m: IdentityMatcher;
  switch (type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyFields(f, ['type'], at);
      m = { type };
      break;
    case 'exactReference':
      onlyFields(f, ['type', 'dockerReference'], at);
      m = { type, dockerReference: nonEmpty(f, 'dockerReference', at) };
      break;
    case 'exactRepository':
      onlyFields(f, ['type', 'dockerRepository'], at);
      m = { type, dockerRepository: nonEmpty(f, 'dockerRepository', at) };
      break;
    case 'remapIdentity':
      onlyFields(f, ['type', 'prefix', 'signedPrefix'], at);
      m = { type, prefix: nonEmpty(f, 'prefix', at), signedPrefix: nonEmpty(f, 'signedPrefix', at) };
      break;
    default:
      throw policyInvalid(`${at}.type ${JSON.stringify(type)} is not a known identity matcher`);
  }
  const problem = validateIdentityMatcher(m);
  if (problem) throw policyInvalid(`${at}: ${problem}`);
  return m;
}

const KEY_TYPES = ['GPGKeys', 'signedByGPGKeys', 'X509Certificates', 'signedByX509CAs'] as const;
const DEFAULT_IDENTITY: IdentityMatcher = { type: 'matchRepoDigestOrExact' };

function requirement(ast: JsonAst, where: string): Requirement {
  const f = object(ast, where);
  const type = str(f.get('type'), `${where}.type`);
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyFields(f, ['type'], where);
      return { type };
    case 'signedBy': {
      onlyFields(f, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], where);
      const keyType = str(f.get('keyType'), `${where}.keyType`);
      if (!(KEY_TYPES as readonly string[]).includes(keyType)) throw policyInvalid(`${where}.keyType ${JSON.stringify(keyType)} is not known`);
      return {
        type,
        keyType: keyType as (typeof KEY_TYPES)[number],
        keys: keySources(f, where, { datas: false, optional: false }),
        signedIdentity: identity(f, 'signedIdentity', where, DEFAULT_IDENTITY),
      };
    }
    case 'sigstoreSigned': {
      onlyFields(f, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'fulcio', 'pki', 'rekorPublicKeyPath',
        'rekorPublicKeyPaths', 'rekorPublicKeyData', 'rekorPublicKeyDatas', 'signedIdentity'], where);
      const keys = keySources(f, where, { datas: true, optional: true });
      const fulcio = f.has('fulcio') ? parseFulcio(f.get('fulcio')!, `${where}.fulcio`) : undefined;
      const pki = f.has('pki') ? parsePki(f.get('pki')!, `${where}.pki`) : undefined;
      const roots = [keys.length > 0, fulcio !== undefined, pki !== undefined].filter(Boolean).length;
      if (roots !== 1) throw policyInvalid(`${where} needs exactly one of the key fields, fulcio, pki`);
      const rekorPublicKeys = keySources(f, where, { datas: true, optional: true, prefix: 'rekorPublicKey' });
      if (fulcio && rekorPublicKeys.length === 0) throw policyInvalid(`${where}: fulcio needs a rekorPublicKey field`);
      return {
        type,
        keys,
        ...(fulcio ? { fulcio } : {}),
        ...(pki ? { pki } : {}),
        rekorPublicKeys,
        signedIdentity: identity(f, 'signedIdentity', where, DEFAULT_IDENTITY),
      };
    }
    case 'dsvSigned': {
      onlyFields(f, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'pkiRootsPath', 'pkiRootsPaths', 'pkiRootsData', 'pkiRootsDatas', 'require'], where);
      const keys = keySources(f, where, { datas: true, optional: true });
      const pkiRoots = keySources(f, where, { datas: true, optional: true, prefix: 'pkiRoots' });
      if (keys.length + pkiRoots.length === 0) throw policyInvalid(`${where} needs key files or PKI roots`);
      const req = f.has('require') ? str(f.get('require'), `${where}.require`) : 'any';
      if (req !== 'any' && req !== 'all') throw policyInvalid(`${where}.require must be "any" or "all"`);
      return { type, keys, pkiRoots, require: req };
    }
    case 'dockerContentTrust': {
      onlyFields(f, ['type', 'server'], where);
      const server = optStr(f, 'server', where);
      if (server === undefined) return { type };
      return { type, server: trustServer(server, `${where}.server`) };
    }
    case 'signedBaseLayer':
      onlyFields(f, ['type', 'baseLayerIdentity'], where);
      return { type, baseLayerIdentity: identity(f, 'baseLayerIdentity', where, undefined) };
    default:
      throw policyInvalid(`${where}.type ${JSON.stringify(type)} is not a known requirement`);
  }
}

/** A trust server URL as the docker CLI takes it: https://HOST[:PORT], nothing more. */
function trustServer(value: string, where: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw policyInvalid(`${where} ${JSON.stringify(value)} is not a URL (https://HOST[:PORT])`);
  }
  if (url.protocol !== 'https:') throw policyInvalid(`${where} ${JSON.stringify(value)} must be an https:// URL`);
  if (url.username || url.password || url.search || url.hash) throw policyInvalid(`${where} must be https://HOST[:PORT] without credentials, query or fragment`);
  return value.replace(/\/+$/, '');
}

function parseFulcio(ast: JsonAst, where: string): SigstoreFulcio {
  const f = object(ast, where);
  onlyFields(f, ['caPath', 'caData', 'oidcIssuer', 'subjectEmail'], where);
  return { ca: oneSource(f, 'caPath', 'caData', where, false), oidcIssuer: nonEmpty(f, 'oidcIssuer', where), subjectEmail: nonEmpty(f, 'subjectEmail', where) };
}

function parsePki(ast: JsonAst, where: string): SigstorePki {
  const f = object(ast, where);
  onlyFields(f, ['caRootsPath', 'caRootsData', 'caIntermediatesPath', 'caIntermediatesData', 'subjectEmail', 'subjectHostname'], where);
  const pki: SigstorePki = { caRoots: oneSource(f, 'caRootsPath', 'caRootsData', where, false)! };
  const mid = oneSource(f, 'caIntermediatesPath', 'caIntermediatesData', where, true);
  if (mid) pki.caIntermediates = mid;
  const email = optStr(f, 'subjectEmail', where);
  const host = optStr(f, 'subjectHostname', where);
  if (!email && !host) throw policyInvalid(`${where} needs subjectEmail or subjectHostname`);
  if (email) pki.subjectEmail = email;
  if (host) pki.subjectHostname = host;
  return pki;
}

function requirements(ast: JsonAst | undefined, where: string): Requirement[] {
  if (!ast || ast.kind !== 'array') throw policyInvalid(`${where} must be an array of requirements`);
  if (ast.items.length === 0) throw policyInvalid(`${where} has no requirements (use [{"type":"reject"}] or [{"type":"insecureAcceptAnything"}])`);
  return ast.items.map((item, i) => requirement(item, `${where}[${i}]`));
}

/** Parses policy.json text strictly. `source` names the file in messages. */
export function parsePolicy(text: string | Uint8Array, source = 'policy'): Policy {
  const body = typeof text === 'string' ? text : decodeUtf8(text, source);
  let root: JsonAst;
  try {
    root = parseJsonAst(body);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw policyInvalid(`${source} is not valid JSON: ${e.message}`, { source });
    throw e;
  }
  try {
    const top = object(root, source);
    onlyFields(top, ['default', 'transports'], source);
    const policy: Policy = { default: requirements(top.get('default'), `${source}: default`), transports: new Map() };
    const transports = top.get('transports');
    if (transports !== undefined) {
      for (const [name, scopesAst] of object(transports, `${source}: transports`)) {
        if (name === '') throw policyInvalid(`${source}: transports has an empty transport name`);
        const scopes = new Map<string, Requirement[]>();
        for (const [scope, reqs] of object(scopesAst, `${source}: transports.${name}`)) {
          const problem = validateScope(name, scope);
          if (problem) throw policyInvalid(`${source}: transports.${name} scope ${JSON.stringify(scope)}: ${problem}`);
          scopes.set(scope, requirements(reqs, `${source}: transports.${name}[${JSON.stringify(scope)}]`));
        }
        policy.transports.set(name, scopes);
      }
    }
    return policy;
  } catch (e) {
    if (e instanceof DsvError && e.details.source === undefined) (e.details as Record<string, unknown>).source = source;
    throw e;
  }
}

function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw policyInvalid(`${source} is not UTF-8`, { source });
  }
}
