import { DsvError } from '@dsv/core/formats';

/** What a docker-storage: / docker-daemon: reference names: a tagged/digested name, or an image id. */
export type LocalImageRef =
  | { kind: 'id'; id: string /* full `sha256:<hex>` or a hex prefix */ }
  | { kind: 'name'; repository: string; tag?: string; digest?: string };

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Parses `NAME[:TAG]`, `NAME@sha256:…`, `sha256:<id>` or a hex id (prefix of at least 4 characters).
 * A name without tag or digest means `:latest`, as the docker CLI does.
 */
export function parseLocalImageRef(within: string, transport: string): LocalImageRef {
  const bad = (why: string) =>
    new DsvError('ReferenceInvalid', `invalid ${transport}: reference "${within.length > 200 ? `${within.slice(0, 200)}…` : within}": ${why}`, { reference: within.slice(0, 200) });
  if (typeof within !== 'string' || within.length === 0) throw bad('empty');
  if (within.length > 512) throw bad('too long');
  if (/\s/.test(within)) throw bad('contains white space');
  if (within.startsWith('sha256:')) {
    if (!DIGEST.test(within)) throw bad('an image id is sha256:<64 lower-case hex>');
    return { kind: 'id', id: within };
  }
  if (/^[0-9a-f]{4,64}$/.test(within) && !within.includes('/')) {
    // A bare hex string is an id (prefix), as docker treats it when it matches; names like "abcd" are rare.
    return { kind: 'id', id: within };
  }
  let rest = within;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('digest must be sha256:<64 lower-case hex>');
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag "${tag}"`);
  }
  const parts = rest.split('/');
  let components = parts;
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost' || /[A-Z]/.test(parts[0]!))) {
    if (!DOMAIN.test(parts[0]!)) throw bad(`invalid registry host "${parts[0]}"`);
    components = parts.slice(1);
  }
  if (!components.length) throw bad('missing repository name');
  for (const c of components) if (!NAME_COMPONENT.test(c)) throw bad(`invalid name component "${c}" (lower-case letters, digits, separators)`);
  return { kind: 'name', repository: familiarName(rest), tag: tag ?? (digest ? undefined : 'latest'), digest };
}

/** Docker's familiar form (what repositories.json and RepoTags use): no docker.io/, no library/. */
export function familiarName(repository: string): string {
  let r = repository;
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (r.startsWith(prefix)) {
      r = r.slice(prefix.length);
      break;
    }
  }
  const parts = r.split('/');
  const hasDomain = parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost');
  if (!hasDomain && parts.length === 2 && parts[0] === 'library') r = parts[1]!;
  return r;
}

export function formatLocalImageRef(ref: LocalImageRef): string {
  if (ref.kind === 'id') return ref.id;
  return `${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
