// containerd: references — `[NAMESPACE]NAME[:TAG|@DIGEST]` or `[NAMESPACE@ADDRESS]NAME…` (brackets as in
// containers-storage references); NAME is the image record's name as containerd stores it.
import { DsvError, ErrorCodes, isDigest, type Digest } from '@dsv/core';

export interface ParsedContainerdReference {
  /** From the brackets; undefined: the transport's configured namespace. */
  namespace?: string;
  /** From the brackets; undefined: the transport's configured socket. */
  address?: string;
  /** The image record name: `docker.io/library/app:1`, or `…@sha256:…` for a digest reference. */
  name: string;
  /** The repository part (name without tag or digest). */
  repository: string;
  tag?: string;
  digest?: Digest;
  /** The name as written, when `name` added the default tag `latest` to it. */
  untagged?: string;
}

const NAMESPACE_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

function invalid(within: string, why: string): DsvError {
  return new DsvError(ErrorCodes.ReferenceInvalid, `invalid containerd reference "containerd:${within}": ${why}`, { reference: within });
}

export function parseContainerdReference(within: string): ParsedContainerdReference {
  let rest = within;
  let namespace: string | undefined;
  let address: string | undefined;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0) throw invalid(within, 'missing "]"');
    const inside = rest.slice(1, end);
    rest = rest.slice(end + 1);
    const at = inside.indexOf('@');
    namespace = at < 0 ? inside : inside.slice(0, at);
    if (at >= 0) {
      address = inside.slice(at + 1);
      if (!address.startsWith('/')) throw invalid(within, `the socket "${address}" must be an absolute path`);
    }
    if (!NAMESPACE_RE.test(namespace)) throw invalid(within, `bad namespace "${namespace}"`);
  }
  if (rest === '' || /[\s[\]]/.test(rest)) throw invalid(within, 'missing or malformed image name');
  let repository = rest;
  let tag: string | undefined;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw invalid(within, `bad digest "${d}"`);
    digest = d;
    repository = rest.slice(0, at);
  }
  const slash = repository.lastIndexOf('/');
  const colon = repository.lastIndexOf(':');
  if (colon > slash) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw invalid(within, `bad tag "${tag}"`);
  }
  if (repository === '' || repository.endsWith('/')) throw invalid(within, 'missing image name');
  if (tag === undefined && digest === undefined) {
    return { namespace, address, name: `${repository}:latest`, repository, tag: 'latest', digest, untagged: rest };
  }
  return { namespace, address, name: digest !== undefined ? rest : `${repository}:${tag}`, repository, tag, digest };
}

/** The text after `containerd:` for a parsed reference. */
export function formatContainerdReference(r: ParsedContainerdReference): string {
  const bracket = r.namespace === undefined ? '' : `[${r.namespace}${r.address !== undefined ? `@${r.address}` : ''}]`;
  return `${bracket}${r.name}`;
}
