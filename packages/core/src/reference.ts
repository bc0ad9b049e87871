/**
 * Docker image references: `[host[:port]/]path[:tag][@digest]`, normalised the way the docker CLI does
 * (Docker Hub aliases folded into `docker.io`, `library/` for official images, `latest` when neither a
 * tag nor a digest is given).
 */
import { parseDigest, type Digest } from './digest.js';
import { DsvError } from './errors.js';

export interface DockerReference {
  /** Registry host with optional port: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/busybox`, `org/team/app`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

const DOCKER_HUB = 'docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])';
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:.]+\\])(?::([0-9]+))?$`);
const NAME_TOTAL_LENGTH_MAX = 255;

function shown(input: string): string {
  return JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
}

function invalid(input: string, why: string): DsvError {
  return new DsvError('ReferenceInvalid', `invalid reference ${shown(input)}: ${why}`, { reference: input.slice(0, 200) });
}

/** True when `component` (the text before the first '/') names a registry host rather than a namespace. */
function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[');
}

function checkHost(input: string, host: string): void {
  const m = HOST_RE.exec(host);
  if (!m) throw invalid(input, `registry host ${shown(host)} is not a valid host[:port]`);
  if (m[1] !== undefined) {
    const port = Number(m[1]);
    if (!(port >= 1 && port <= 65535) || m[1].length > 5) throw invalid(input, `registry port ${m[1]} is out of range`);
  }
}

function normaliseRegistry(host: string): string {
  return HUB_ALIASES.has(host.toLowerCase()) ? DOCKER_HUB : host;
}

function resolveDefaultRegistry(option: string | undefined): string {
  const raw = option ?? DOCKER_HUB;
  const host = raw.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  checkHost(`default registry ${raw}`, host);
  if (!looksLikeHost(host)) {
    // Otherwise "myhost/repo" printed by us would read back as Docker Hub's "myhost" namespace.
    throw new DsvError(
      'ReferenceInvalid',
      `default registry ${shown(raw)} must contain "." or ":" or be "localhost" (it would read as a Docker Hub namespace); add the port, e.g. ${host}:443`,
    );
  }
  return normaliseRegistry(host);
}

/**
 * Parses a Docker reference. Throws DsvError('ReferenceInvalid') naming the input and what is wrong.
 * Without a host the registry is `options.defaultRegistry ?? docker.io` (the runtime passes DSV_DEFAULT_REGISTRY).
 */
export function parseDockerReference(input: string, options: { defaultRegistry?: string } = {}): DockerReference {
  if (typeof input !== 'string' || input === '') throw new DsvError('ReferenceInvalid', 'invalid reference "": empty');
  if (/[\s\u0000-\u001f\u007f]/.test(input)) throw invalid(input, 'contains whitespace or control characters');

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const digestText = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digestText.includes('@')) throw invalid(input, 'more than one "@"');
    try {
      digest = parseDigest(digestText).digest;
    } catch (e) {
      throw invalid(input, (e as Error).message);
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(input, `tag ${shown(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
    }
  }

  const name = rest;
  if (name === '') throw invalid(input, 'missing repository name');
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw invalid(input, `name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);

  let registry: string;
  let path: string;
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash !== -1 && looksLikeHost(first)) {
    checkHost(input, first);
    registry = normaliseRegistry(first);
    path = name.slice(slash + 1);
  } else {
    registry = resolveDefaultRegistry(options.defaultRegistry);
    path = name;
  }
  if (path === '') throw invalid(input, 'missing repository name after the registry');

  const components = path.split('/');
  for (const c of components) {
    if (c === '') throw invalid(input, 'empty path component in repository name');
    if (!PATH_COMPONENT_RE.test(c)) {
      if (PATH_COMPONENT_RE.test(c.toLowerCase())) throw invalid(input, 'repository name must be lowercase');
      throw invalid(
        input,
        `repository component ${shown(c)} must be lower-case letters and digits separated by ".", "_", "__" or "-"`,
      );
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (registry.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(input, `name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }

  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: DockerReference = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `registry/repository[:tag][@digest]`; parseDockerReference(formatDockerReference(r)) equals r. */
export function formatDockerReference(ref: DockerReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * The namespaces a docker name (`host/ns/repo`, no tag or digest) falls under, most specific first: host/ns/repo,
 * host/ns, host, then *.sub.example.com ... *.com (port dropped; none for an IP-literal host), as containers/image
 * looks up policy scopes and registries.d entries.
 */
export function dockerNamespaces(name: string): string[] {
  const out: string[] = [];
  let n = name;
  for (;;) {
    out.push(n);
    const slash = n.lastIndexOf('/');
    if (slash === -1) break;
    n = n.slice(0, slash);
  }
  let host = n.startsWith('[') ? '' : n.replace(/:[0-9]+$/, '');
  for (;;) {
    const dot = host.indexOf('.');
    if (dot === -1) break;
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}

/** The short form docker prints: `busybox:latest`, `org/app:1`, other registries in full. */
export function familiarName(ref: DockerReference): string {
  if (ref.registry !== DOCKER_HUB) return formatDockerReference(ref);
  const repo = ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice(8) : ref.repository;
  return `${repo}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
