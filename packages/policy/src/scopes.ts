/**
 * Policy scopes per transport: which scope strings a transport accepts in policy.json, and the ordered
 * list of scopes an image falls under (most specific first), as containers/image looks them up.
 */
import { isAbsolute, posix } from 'node:path';
import { DsvError, dockerNamespaces, formatDockerReference } from '@dsv/core';

export { dockerNamespaces };
import { parseRef } from './identity.js';
import type { PolicyImage } from './model.js';

/** Transports whose images are named by docker references: scopes are references and their namespaces. */
const NAMED = new Set(['docker', 'atomic', 'docker-storage', 'containerd']);
/** Transports whose images are named by a path: scopes are the path and its parent directories. */
const PATH = new Set(['oci', 'oci-archive', 'dir']);
/** Transports with only the transport default "" scope (containers/image: docker-archive, docker-daemon). */
const DEFAULT_ONLY = new Set(['docker-archive', 'docker-daemon', 'memory']);

/** Every transport whose scopes dsv evaluates. */
export const POLICY_TRANSPORTS = ['docker', 'docker-archive', 'oci', 'oci-archive', 'docker-daemon', 'docker-storage', 'containerd'] as const;

const WILDCARD_RE = /^\*\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Why `scope` is not valid for `transport` (undefined when it is). Unknown transports' scopes are not checked. */
export function validateScope(transport: string, scope: string): string | undefined {
  if (scope === '') return undefined;
  if (DEFAULT_ONLY.has(transport)) return `the ${transport} transport supports only the default "" scope`;
  if (NAMED.has(transport)) {
    if (scope.startsWith('*')) return WILDCARD_RE.test(scope) ? undefined : 'a wildcard scope must look like *.example.com';
    if (/[\s]/.test(scope)) return 'contains whitespace';
    return undefined;
  }
  if (PATH.has(transport)) {
    if (!isAbsolute(scope) || !scope.startsWith('/')) return 'must be an absolute path';
    if (scope === '/') return 'use the transport default "" instead of "/"';
    if (posix.normalize(scope) !== scope || scope.endsWith('/')) return `is not a clean path (perhaps ${posix.normalize(scope).replace(/\/$/, '')})`;
    return undefined;
  }
  return undefined;
}

/** The scopes an image falls under, most specific first (the transport default "" not included). */
export function scopesFor(image: PolicyImage): string[] {
  const t = image.transport;
  if (NAMED.has(t)) {
    if (image.dockerReference === undefined) return [];
    const ref = parseRef(image.dockerReference);
    if (!ref) throw new DsvError('ReferenceInvalid', `policy: the image reference ${JSON.stringify(image.dockerReference)} is not a valid docker reference`);
    const name = `${ref.ref.registry}/${ref.ref.repository}`;
    // A reference without tag or digest means :latest, as the docker transport reads it.
    const identity = formatDockerReference(ref.nameOnly ? { ...ref.ref, tag: 'latest' } : ref.ref);
    return [...(identity !== name ? [identity] : []), ...dockerNamespaces(name)];
  }
  if (PATH.has(t)) {
    if (image.path === undefined) return [];
    if (!image.path.startsWith('/')) throw new DsvError('Usage', `policy: the ${t} image path ${JSON.stringify(image.path)} must be absolute`);
    let p = posix.normalize(image.path).replace(/(.)\/$/, '$1');
    const out = [p];
    for (;;) {
      const slash = p.lastIndexOf('/');
      if (slash <= 0) break;
      p = p.slice(0, slash);
      out.push(p);
    }
    return out;
  }
  return [];
}
