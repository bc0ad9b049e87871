// Docker image names as they appear in `docker save` archives (RepoTags, `repositories`, index.json
// annotations): normalised to `domain/path:tag` for comparison, written in the familiar short form.
import { DsvError } from '@dsv/core/formats';

export interface TaggedName {
  /** `docker.io`, `localhost:5000`, ... */
  domain: string;
  /** `library/busybox`, `team/app`, ... */
  path: string;
  tag: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/** Parses `name[:tag]` (tag defaults to `latest`); digests are refused: an archive names images by tag. */
export function parseTaggedName(text: string): TaggedName {
  const bad = (why: string) => new DsvError('ReferenceInvalid', `invalid image name "${text}": ${why}`, { reference: text });
  if (!text) throw bad('empty');
  if (text.includes('@')) throw bad('a docker archive names images by NAME:TAG, not by digest');
  const slash = text.lastIndexOf('/');
  const colon = text.lastIndexOf(':');
  let name = text;
  let tag = 'latest';
  if (colon > slash) {
    name = text.slice(0, colon);
    tag = text.slice(colon + 1);
  }
  if (!TAG.test(tag)) throw bad(`invalid tag "${tag}"`);
  const parts = name.split('/');
  let domain = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) throw bad(`invalid registry host "${first}"`);
    domain = first;
    parts.shift();
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) if (!COMPONENT.test(p)) throw bad(`invalid path component "${p}"`);
  return { domain, path: parts.join('/'), tag };
}

/** `docker.io/library/busybox:latest` */
export function fullName(n: TaggedName): string {
  return `${n.domain}/${n.path}:${n.tag}`;
}

/** `busybox`, `team/app`, `localhost:5000/app` (no tag). */
export function familiarRepository(n: TaggedName): string {
  if (n.domain !== 'docker.io') return `${n.domain}/${n.path}`;
  return n.path.startsWith('library/') && n.path.split('/').length === 2 ? n.path.slice(8) : n.path;
}

/** `busybox:latest` — the form `docker save` writes in RepoTags. */
export function familiarName(n: TaggedName): string {
  return `${familiarRepository(n)}:${n.tag}`;
}

/** Same image name? (compares normalised forms; unparsable names never match) */
export function sameName(a: string, b: TaggedName): boolean {
  try {
    return fullName(parseTaggedName(a)) === fullName(b);
  } catch {
    return false;
  }
}
