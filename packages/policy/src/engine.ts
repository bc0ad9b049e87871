/**
 * The policy engine: picks the scope an image falls under and judges every requirement there over the
 * signature facts that format plug-ins report. Every requirement must allow the image; a signature
 * requirement is met by one accepted signature (dsvSigned "all": one per key and root).
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { digestOf, formatDockerReference, parseDigest, type DigestAlgorithm } from '@dsv/core';
import { matchIdentity, parseRef } from './identity.js';
import type {
  IdentityMatcher, KeyMaterial, KeySource, Policy, PolicyImage, Requirement, RequirementVerdict, SignatureCandidate,
  SignatureFormat, SignatureJudgement, SignatureRequirementType, Verdict, VerifyContext,
} from './model.js';
import { scopesFor } from './scopes.js';

export interface EvaluateOptions {
  /** Format plug-ins; a signature requirement no plug-in serves rejects the image. */
  formats: readonly SignatureFormat[];
  /** Relative key paths are resolved against this (the policy file's directory); default the working directory. */
  baseDir?: string;
  /** Reads key files (default: node:fs). */
  readFile?: (path: string) => Promise<Uint8Array>;
}

/** The requirements that apply to an image and the scope they came from. */
export function requirementsFor(policy: Policy, image: PolicyImage): { scope: string; requirements: Requirement[] } {
  const scopes = policy.transports.get(image.transport);
  if (scopes) {
    for (const scope of scopesFor(image)) {
      const reqs = scopes.get(scope);
      if (reqs) return { scope: `transports.${image.transport}[${JSON.stringify(scope)}]`, requirements: reqs };
    }
    const reqs = scopes.get('');
    if (reqs) return { scope: `transports.${image.transport}[""]`, requirements: reqs };
  }
  return { scope: 'default', requirements: policy.default };
}

/** True when `claimed` names the image's manifest (other algorithms are checked over the exact bytes). */
export function manifestDigestMatches(claimed: string, image: PolicyImage): boolean {
  if (claimed === image.manifestDigest) return true;
  if (!image.manifestBytes) return false;
  let algorithm: DigestAlgorithm;
  try {
    algorithm = parseDigest(claimed).algorithm;
  } catch {
    return false;
  }
  return digestOf(image.manifestBytes, algorithm) === claimed;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

class Evaluation {
  private readonly candidates = new Map<SignatureFormat, Promise<SignatureCandidate[]>>();
  private readonly readFile: (path: string) => Promise<Uint8Array>;

  constructor(private readonly image: PolicyImage, private readonly opts: EvaluateOptions) {
    this.readFile = opts.readFile ?? (async (p) => new Uint8Array(await fsReadFile(p)));
  }

  readKeyFile = async (path: string): Promise<Uint8Array> => {
    const full = isAbsolute(path) ? path : resolve(this.opts.baseDir ?? process.cwd(), path);
    try {
      return await this.readFile(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`key file ${full} cannot be read${code ? ` (${code})` : ''}`);
    }
  };

  private async load(sources: KeySource[], kind: KeyMaterial['kind'], label: string): Promise<KeyMaterial[]> {
    const out: KeyMaterial[] = [];
    for (const [i, s] of sources.entries()) {
      if (s.kind === 'path') out.push({ kind, origin: s.path, bytes: await this.readKeyFile(s.path) });
      else out.push({ kind, origin: sources.length > 1 ? `${label}[${i}]` : label, bytes: s.data });
    }
    return out;
  }

  private listed(format: SignatureFormat): Promise<SignatureCandidate[]> {
    let p = this.candidates.get(format);
    if (!p) {
      p = format.listSignatures(this.image);
      this.candidates.set(format, p);
    }
    return p;
  }

  private async judgeAll(
    req: Requirement, type: SignatureRequirementType, keys: KeyMaterial[], identity: IdentityMatcher | undefined,
  ): Promise<SignatureJudgement[]> {
    const ctx: VerifyContext = { requirement: req, readKeyFile: this.readKeyFile };
    const out: SignatureJudgement[] = [];
    for (const format of this.opts.formats.filter((f) => f.requirementTypes.includes(type))) {
      let list: SignatureCandidate[];
      try {
        list = await this.listed(format);
      } catch (e) {
        out.push({ format: format.name, origin: 'listing', accepted: false, valid: false, code: 'unavailable', reason: `signatures could not be read: ${errorText(e)}` });
        continue;
      }
      for (const c of list) {
        let fact;
        try {
          fact = await format.verifySignature(c, keys, this.image, ctx);
        } catch (e) {
          fact = { valid: false, code: 'error', reason: errorText(e) };
        }
        const j: SignatureJudgement = { ...fact, format: format.name, origin: c.origin, accepted: false };
        if (!fact.valid) {
          j.reason ??= 'the signature is not valid';
        } else if (type !== 'dsvSigned' && fact.manifestDigest === undefined) {
          j.reason = 'the signature names no manifest digest';
          j.code = 'malformed';
        } else if (fact.manifestDigest !== undefined && !manifestDigestMatches(fact.manifestDigest, this.image)) {
          j.reason = `the signature is for manifest ${fact.manifestDigest}, the image's is ${this.image.manifestDigest}`;
          j.code = 'digest-mismatch';
        } else if (identity) {
          if (fact.identity === undefined) {
            j.reason = 'the signature claims no identity';
            j.code = 'malformed';
          } else {
            const m = matchIdentity(identity, this.image.dockerReference, fact.identity);
            j.accepted = m.ok;
            j.reason = m.reason;
            if (!m.ok) j.code = 'wrong-identity';
          }
        } else {
          j.accepted = true;
          j.reason ??= 'valid';
        }
        out.push(j);
      }
    }
    return out;
  }

  async requirement(req: Requirement): Promise<RequirementVerdict> {
    const verdict = (allowed: boolean, reason: string, signatures: SignatureJudgement[] = []): RequirementVerdict =>
      ({ type: req.type, allowed, reason, signatures });
    switch (req.type) {
      case 'insecureAcceptAnything':
        return verdict(true, 'accepted without any check (insecureAcceptAnything)');
      case 'reject':
        return verdict(false, 'rejected by the policy ("reject")');
      case 'signedBaseLayer':
        return verdict(false, 'signedBaseLayer is not implemented (containers/image does not accept it either)');
      default:
        break;
    }
    const type = req.type;
    if (!this.opts.formats.some((f) => f.requirementTypes.includes(type))) {
      return verdict(false, `no signature format able to check ${type} is available`);
    }
    if (req.type === 'signedBy' && req.keyType !== 'GPGKeys') {
      return verdict(false, `signedBy keyType ${req.keyType} is not supported (only GPGKeys)`);
    }
    let keys: KeyMaterial[];
    try {
      keys = req.type === 'dockerContentTrust' ? [] : await this.load(req.keys, 'key', 'keyData');
      if (req.type === 'dsvSigned') keys.push(...(await this.load(req.pkiRoots, 'pki-roots', 'pkiRootsData')));
    } catch (e) {
      return verdict(false, errorText(e));
    }
    const identity = req.type === 'dsvSigned' || req.type === 'dockerContentTrust' ? undefined : req.signedIdentity;
    if (req.type === 'dsvSigned' && req.require === 'all') {
      const all: SignatureJudgement[] = [];
      const missing: string[] = [];
      for (const key of keys) {
        const judged = await this.judgeAll(req, type, [key], identity);
        all.push(...judged.map((j) => ({ ...j, origin: `${j.origin} (with ${key.origin})` })));
        if (!judged.some((j) => j.accepted)) missing.push(key.origin);
      }
      if (missing.length === 0) return verdict(true, `every key and root has a valid signature (${keys.length})`, all);
      return verdict(false, `no valid signature for ${missing.join(', ')}${summary(all)}`, all);
    }
    const judged = await this.judgeAll(req, type, keys, identity);
    const ok = judged.find((j) => j.accepted);
    if (ok) return verdict(true, `${ok.origin} accepted: ${describe(ok)}`, judged);
    if (judged.length === 0) return verdict(false, `a signature was required, but the image has none`, judged);
    return verdict(false, `no signature was accepted${summary(judged)}`, judged);
  }
}

function describe(j: SignatureJudgement): string {
  const who = [j.keyId && `key ${j.keyId}`, j.signer, j.certificateOidcIssuer && `(OIDC issuer ${j.certificateOidcIssuer})`].filter(Boolean).join(' ');
  return `${who ? `signed by ${who}; ` : ''}${j.reason ?? 'valid'}`;
}

function summary(judged: SignatureJudgement[]): string {
  if (judged.length === 0) return ' (the image has no signatures)';
  return `: ${judged.map((j) => `${j.origin}: ${j.reason}`).join('; ')}`;
}

/** Judges `image` under `policy`. Never throws for a bad signature; every reason is in the verdict. */
export async function evaluatePolicy(policy: Policy, input: PolicyImage, options: EvaluateOptions): Promise<Verdict> {
  const { scope, requirements } = requirementsFor(policy, input);
  // A docker reference without tag or digest means :latest, for identity matching as for scopes.
  const parsed = input.dockerReference === undefined ? undefined : parseRef(input.dockerReference);
  const image = parsed?.nameOnly ? { ...input, dockerReference: formatDockerReference({ ...parsed.ref, tag: 'latest' }) } : input;
  const ev = new Evaluation(image, options);
  const results: RequirementVerdict[] = [];
  for (const req of requirements) results.push(await ev.requirement(req));
  return { allowed: results.length > 0 && results.every((r) => r.allowed), transport: image.transport, scope, requirements: results };
}

/** One line per requirement, for messages: "signedBy: rejected: ...". */
export function formatVerdict(v: Verdict): string {
  const head = `${v.allowed ? 'accepted' : 'rejected'} by ${v.scope}`;
  return [head, ...v.requirements.map((r) => `  ${r.type}: ${r.allowed ? 'satisfied' : 'not satisfied'}: ${r.reason}`)].join('\n');
}
