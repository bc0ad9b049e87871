/** Identity matchers of containers-policy.json(5): does a signature's claimed docker-reference fit the image? */
import { formatDockerReference, parseDockerReference, type DockerReference } from '@dsv/core';
import type { IdentityMatcher } from './model.js';

export interface ParsedRef {
  ref: DockerReference;
  /** Neither tag nor digest was written (our parser then adds `latest`; the matchers must know). */
  nameOnly: boolean;
  tagged: boolean;
  digested: boolean;
}

/** Parses a docker reference (Docker Hub defaults, never $DSV_DEFAULT_REGISTRY); undefined when invalid. */
export function parseRef(text: string): ParsedRef | undefined {
  let ref: DockerReference;
  try {
    ref = parseDockerReference(text, { defaultRegistry: 'docker.io' });
  } catch {
    return undefined;
  }
  const at = text.indexOf('@');
  const beforeDigest = at === -1 ? text : text.slice(0, at);
  const tagged = beforeDigest.indexOf(':', beforeDigest.lastIndexOf('/') + 1) !== -1;
  const digested = at !== -1;
  if (!tagged && !digested) delete ref.tag;
  return { ref, nameOnly: !tagged && !digested, tagged, digested };
}

const nameOf = (r: ParsedRef): string => `${r.ref.registry}/${r.ref.repository}`;
const full = (r: ParsedRef): string => formatDockerReference(r.ref);

const HOST_ONLY_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;

function validPrefix(p: string): boolean {
  if (HOST_ONLY_RE.test(p)) return true;
  const r = parseRef(p);
  return r !== undefined && r.nameOnly && nameOf(r) === p;
}

/** Why the matcher's own fields are invalid (undefined when fine); checked when the policy is parsed. */
export function validateIdentityMatcher(m: IdentityMatcher): string | undefined {
  switch (m.type) {
    case 'exactReference': {
      const r = parseRef(m.dockerReference);
      if (!r) return `dockerReference ${JSON.stringify(m.dockerReference)} is not a valid reference`;
      if (r.nameOnly) return `dockerReference ${JSON.stringify(m.dockerReference)} has neither a tag nor a digest`;
      return undefined;
    }
    case 'exactRepository': {
      const r = parseRef(m.dockerRepository);
      if (!r) return `dockerRepository ${JSON.stringify(m.dockerRepository)} is not a valid repository`;
      return undefined;
    }
    case 'remapIdentity':
      if (!validPrefix(m.prefix)) return `prefix ${JSON.stringify(m.prefix)} must be a host, host/namespace or host/repository in full form`;
      if (!validPrefix(m.signedPrefix)) return `signedPrefix ${JSON.stringify(m.signedPrefix)} must be a host, host/namespace or host/repository in full form`;
      return undefined;
    default:
      return undefined;
  }
}

/** True when `ref` starts with `prefix` at a component boundary (followed by nothing, '/', ':' or '@'). */
function refMatchesPrefix(ref: string, prefix: string): boolean {
  if (ref.length < prefix.length || !ref.startsWith(prefix)) return false;
  if (ref.length === prefix.length) return true;
  return '/:@'.includes(ref[prefix.length]!);
}

function repoDigestOrExact(image: ParsedRef, sig: ParsedRef): boolean {
  if (image.tagged) return full(sig) === full(image);
  if (image.digested) return nameOf(sig) === nameOf(image);
  return false;
}

/** Judges `signed` (the identity a signature claims) against `image` (the image's reference, if it has one). */
export function matchIdentity(m: IdentityMatcher, imageRef: string | undefined, signed: string): { ok: boolean; reason: string } {
  const sig = parseRef(signed);
  if (!sig) return { ok: false, reason: `the signed identity ${JSON.stringify(signed)} is not a valid docker reference` };
  const shown = full(sig);
  if (m.type === 'exactReference') {
    const want = parseRef(m.dockerReference)!;
    const ok = !sig.nameOnly && full(sig) === full(want);
    return { ok, reason: ok ? `signed identity ${shown} is ${full(want)}` : `signed identity ${shown} is not ${full(want)}` };
  }
  if (m.type === 'exactRepository') {
    const want = parseRef(m.dockerRepository)!;
    const ok = nameOf(sig) === nameOf(want);
    return { ok, reason: ok ? `signed identity ${shown} is in ${nameOf(want)}` : `signed identity ${shown} is not in repository ${nameOf(want)}` };
  }
  if (imageRef === undefined) {
    return { ok: false, reason: `the image has no docker reference to compare the signed identity ${shown} with (use exactReference or exactRepository)` };
  }
  let image = parseRef(imageRef);
  if (!image) return { ok: false, reason: `the image reference ${JSON.stringify(imageRef)} is not a valid docker reference` };
  switch (m.type) {
    case 'matchExact': {
      const ok = !image.nameOnly && !sig.nameOnly && full(sig) === full(image);
      return { ok, reason: ok ? `signed identity ${shown} is the image's` : `signed identity ${shown} is not exactly ${full(image)}` };
    }
    case 'matchRepository': {
      const ok = nameOf(sig) === nameOf(image);
      return { ok, reason: ok ? `signed identity ${shown} is in the image's repository` : `signed identity ${shown} is not in repository ${nameOf(image)}` };
    }
    case 'remapIdentity':
    case 'matchRepoDigestOrExact': {
      if (m.type === 'remapIdentity') {
        const text = full(image);
        if (refMatchesPrefix(text, m.prefix)) {
          const remapped = parseRef(m.signedPrefix + text.slice(m.prefix.length));
          if (!remapped) return { ok: false, reason: `remapping ${text} with ${m.prefix} -> ${m.signedPrefix} gives an invalid reference` };
          image = remapped;
        }
      }
      const ok = repoDigestOrExact(image, sig);
      const want = image.tagged ? full(image) : image.digested ? `repository ${nameOf(image)}` : `${nameOf(image)} (the image has no tag or digest)`;
      return { ok, reason: ok ? `signed identity ${shown} matches ${want}` : `signed identity ${shown} does not match ${want}` };
    }
  }
}
