// Repository names, tags and token scopes: validated before they go into a URL.
import { DsvError, parseDigest, type Digest } from '@dsv/core/formats';

const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function checkRepo(repo: string): string {
  if (typeof repo !== 'string' || repo.length > 255 || !REPO_RE.test(repo)) {
    throw new DsvError('ReferenceInvalid', `invalid repository name "${String(repo).slice(0, 100)}"`, { repository: String(repo).slice(0, 100) });
  }
  return repo;
}

/** A tag or a digest, validated before it goes into a URL. */
export function checkRef(ref: string): { ref: string; digest?: Digest } {
  if (typeof ref === 'string' && ref.includes(':')) return { ref, digest: parseDigest(ref).digest };
  if (typeof ref !== 'string' || !TAG_RE.test(ref)) {
    throw new DsvError('ReferenceInvalid', `invalid tag "${String(ref).slice(0, 100)}"`, { tag: String(ref).slice(0, 100) });
  }
  return { ref };
}

export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}
