/**
 * `dsv bundle create --out FILE IMAGE...`: every image copied byte for byte into one OCI layout (all
 * platforms), a docker-save manifest.json over the same blobs, every detached signature (simple as
 * files, cosign `.sig` and referrers as tagged artifacts in the layout; embedded ones ride in the
 * configs), the trust files and the policy (its key files carried and repointed), then one tar
 * written to a temp file and renamed.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DsvError, formatDockerReference, parseDockerReference, platformString, type Digest } from '@dsv/core/formats';
import { readManifest } from '@dsv/core/operations';
import type { ImageReference } from '@dsv/core/transport';
import type { CliContext } from '../context.js';
import { copyBetween } from '../copy-between.js';
import { exitCodeFor } from '../exit-codes.js';
import { errorJson } from '../report.js';
import type { CommandShell } from '../shell.js';
import { withoutProgress } from '../fleet/all-tags.js';
import { VERSION } from '../version.js';
import type { DsvBundleCreateArgs } from './command.js';
import { BUNDLE_DIR, BUNDLE_MANIFEST, BUNDLE_POLICY, BUNDLE_SCHEMA, simpleSignatureDir, writeTar, type BundleImage, type BundleManifest, type TrustType } from './format.js';

const NAMED = new Set(['docker', 'docker-daemon', 'docker-storage', 'containerd']);

const LAYOUTS = new Set(['oci', 'oci-archive']);

function named(ref: ImageReference, name: string, how: string): string {
  try {
    return formatDockerReference(parseDockerReference(name, { defaultRegistry: 'docker.io' }));
  } catch (e) {
    throw new DsvError('Usage', `${ref.toString()}: ${how} "${name}" is not an image name (${(e as Error).message})`, undefined, { cause: e });
  }
}

/**
 * The registry reference an image's signatures name (host/repo:tag or host/repo@digest): a registry or local
 * store image's own name; an OCI layout's (or oci-archive's) reference name when it is an image name
 * (`oci:DIR:HOST/REPO:TAG`, as dsv bundles and skopeo write them; a bare tag names no repository); a
 * docker-save archive's NAME:TAG, given or its image's only RepoTags entry (the first of several).
 */
export async function bundleReference(ctx: CliContext, ref: ImageReference): Promise<string> {
  const name = ref.transport.name;
  if (NAMED.has(name)) return named(ref, ref.within.replace(/^\/\//, ''), 'the name');
  const rest = (() => {
    const colon = ref.within.indexOf(':');
    return colon < 0 ? undefined : ref.within.slice(colon + 1);
  })();
  if (LAYOUTS.has(name)) {
    if (rest === undefined || rest.startsWith('@') || !/[/:]/.test(rest)) {
      throw new DsvError('Usage', `${ref.toString()}: a bundle holds named images, and ${rest === undefined ? 'no reference name' : `the reference name "${rest}"`} names no repository: give the layout's image as ${name}:PATH:HOST/REPO:TAG (copy it into the layout under that name first)`);
    }
    return named(ref, rest, 'the reference name');
  }
  if (name === 'docker-archive') {
    if (rest !== undefined && !rest.startsWith('@')) return named(ref, rest, 'the name');
    const source = await ref.newSource(ctx.system);
    let tags: string[];
    try {
      tags = (await source.listTags?.()) ?? [];
    } finally {
      await source.close();
    }
    if (tags.length === 1 || (rest === undefined && tags.length > 0)) return named(ref, tags[0]!, 'the RepoTags entry');
    throw new DsvError('Usage', `${ref.toString()}: a bundle holds named images, and this archive image has ${tags.length ? 'several names' : 'no name (RepoTags)'}: give it as docker-archive:FILE:NAME:TAG`);
  }
  throw new DsvError('Usage', `${ref.toString()}: a bundle holds named images (docker://HOST/REPO:TAG, docker-daemon:NAME:TAG, oci:DIR:HOST/REPO:TAG, docker-archive:FILE[:NAME:TAG], …); copy it to a registry or name it first`);
}

/** gpg / pki / cosign: the TYPE: prefix, else what the file holds. */
export function trustType(spec: string, bytes?: Uint8Array): { type: TrustType; path: string } {
  const m = /^(gpg|pki|cosign):(.*)$/i.exec(spec);
  if (m) return { type: m[1]!.toLowerCase() as TrustType, path: m[2]! };
  const head = Buffer.from((bytes ?? new Uint8Array()).subarray(0, 64 * 1024)).toString('latin1');
  if (head.includes('-----BEGIN PGP ')) return { type: 'gpg', path: spec };
  if (head.includes('CERTIFICATE-----')) return { type: 'pki', path: spec };
  if (/-----BEGIN (EC |RSA )?PUBLIC KEY-----/.test(head)) return { type: 'cosign', path: spec };
  return { type: 'gpg', path: spec };
}

/** Reads the policy, copies every key file it names (…Path, …Paths) into trust/ and points the policy at the copies. */
async function bundlePolicy(policyFile: string, stage: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(policyFile, 'utf8');
  } catch (e) {
    throw new DsvError('Usage', `--policy ${policyFile}: cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DsvError('Usage', `--policy ${policyFile}: not JSON: ${(e as Error).message}`);
  }
  // Checked as `dsv verify --policy` reads it, before anything is copied.
  const { loadPolicy } = await import('../detached/policy.js');
  await loadPolicy(policyFile);
  const base = dirname(resolve(policyFile));
  const copied = new Map<string, string>();
  const carry = async (p: string): Promise<string> => {
    const from = resolve(base, p);
    let rel = copied.get(from);
    if (rel === undefined) {
      rel = `trust/policy-${copied.size + 1}-${basename(from)}`;
      await copyFile(from, join(stage, BUNDLE_DIR, rel));
      copied.set(from, rel);
    }
    return rel;
  };
  const walk = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (k.endsWith('Path') && typeof val === 'string') out[k] = await carry(val);
      else if (k.endsWith('Paths') && Array.isArray(val)) out[k] = await Promise.all(val.map((p) => (typeof p === 'string' ? carry(p) : p)));
      else out[k] = await walk(val);
    }
    return out;
  };
  const rewritten = await walk(json);
  await writeFile(join(stage, BUNDLE_POLICY), `${JSON.stringify(rewritten, null, 2)}\n`);
  return [...copied.values()];
}

/** The single-platform manifest docker load gets: the only one, or of an index the context's platform / linux/amd64 / the first. */
async function dockerLoadManifest(ctx: CliContext, layoutRef: ImageReference, platform?: string) {
  const source = await layoutRef.newSource(ctx.system);
  try {
    const top = await readManifest(source);
    if (top.kind === 'manifest') return { manifest: top };
    const wanted = [platform, 'linux/amd64'].filter((p): p is string => !!p);
    const usable = top.manifests.filter((d) => d.platform && platformString(d.platform) !== 'unknown/unknown');
    const chosen = wanted.map((w) => usable.find((d) => platformString(d.platform) === w)).find(Boolean) ?? usable[0] ?? top.manifests[0];
    if (!chosen) return undefined;
    const m = await readManifest(source, chosen.digest);
    if (m.kind !== 'manifest') return undefined;
    return { manifest: m, platform: chosen.platform ? platformString(chosen.platform) : undefined };
  } finally {
    await source.close();
  }
}

/** `host/repo:tag` as docker shows it (docker.io/library/x:1 → x:1). */
function familiar(reference: string): string | undefined {
  if (reference.includes('@')) return undefined;
  return reference.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

export async function bundleCreate(context: CliContext, shell: CommandShell, a: DsvBundleCreateArgs): Promise<number> {
  const ctx = withoutProgress(context);
  const report = (e: unknown) => ({ command: 'bundle create', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) });
  if (!a.out) return shell.fail(new DsvError('Usage', 'bundle create needs --out FILE'), () => report(new DsvError('Usage', 'bundle create needs --out FILE')));
  const stage = await mkdtemp(join(tmpdir(), 'dsv-bundle-'));
  let stores: import('../detached/stores.js').DetachedStores | undefined;
  try {
    await mkdir(join(stage, BUNDLE_DIR, 'trust'), { recursive: true });
    const layout = `oci:${stage}`;
    // Trust material first: a missing key file fails before any image is read.
    const trust: BundleManifest['trust'] = [];
    for (const [i, spec] of a.trust.entries()) {
      const path = trustType(spec).path;
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (e) {
        throw new DsvError('Usage', `--trust ${spec}: cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const { type } = trustType(spec, bytes);
      const file = `${BUNDLE_DIR}/trust/${i + 1}-${basename(path)}`;
      await writeFile(join(stage, file), bytes);
      trust.push({ type, file, from: spec });
    }
    const policyKeys = a.policy !== undefined ? await bundlePolicy(a.policy, stage) : [];
    ctx.debug(`policy key files carried: ${policyKeys.join(', ') || 'none'}`);

    const { detachedStores } = await import('../detached/stores.js');
    const sigs = await import('../copy-signatures.js');
    stores = await detachedStores(ctx, a.registriesD !== undefined ? { registriesD: a.registriesD } : {});
    const noSimple = { ...stores, readSimple: async () => [] as Uint8Array[] };
    const images: BundleImage[] = [];
    const saveManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const input of a.images) {
      const srcRef = ctx.parseImage(input);
      const reference = await bundleReference(ctx, srcRef);
      if (images.some((i) => i.reference === reference)) continue;
      const dstRef = ctx.parseImage(`${layout}:${reference}`);
      let manifests: Digest[] = [];
      const result = await copyBetween(srcRef, dstRef, ctx.system, { removeSignatures: false, jobs: 2, debug: ctx.debug }, {
        first: async (source) => {
          // Every manifest of the image (an index and its entries): their detached signatures go in the bundle.
          const top = await readManifest(source);
          manifests = top.kind === 'index' ? [top.digest, ...top.manifests.map((m) => m.digest)] : [top.digest];
          return { top };
        },
      });
      if (result.destinationDigest !== result.sourceDigest) {
        throw new DsvError('Unsupported', `${input}: the bundle holds ${result.destinationDigest}, not ${result.sourceDigest}; its signatures would not verify`);
      }
      // Detached signatures: simple ones to files, cosign / referrers as tags in the layout.
      const simple: BundleImage['signatures']['simple'] = [];
      if (srcRef.transport.name === 'docker') {
        for (const digest of manifests) {
          const found = await stores.readSimple(reference, digest);
          const dir = simpleSignatureDir(reference, digest);
          for (const [n, sig] of found.entries()) {
            await mkdir(join(stage, dir), { recursive: true });
            const file = `${dir}/signature-${n + 1}`;
            await writeFile(join(stage, file), sig);
            simple.push({ manifestDigest: digest, file });
          }
        }
      }
      const plan = await sigs.planCarry(ctx, noSimple, srcRef, dstRef);
      const kept = new Map(manifests.map((d) => [d, d]));
      const carried = await sigs.carrySignatures(ctx, noSimple, plan, srcRef, dstRef, kept, false);
      const image: BundleImage = {
        source: input, reference, name: reference, digest: result.destinationDigest,
        mediaType: '', manifests, signatures: { simple, cosign: carried.cosign, referrers: carried.referrers },
      };
      const load = await dockerLoadManifest(ctx, dstRef, a.platform);
      if (load) {
        image.mediaType = result.kind;
        image.dockerLoad = { manifestDigest: load.manifest.digest, ...(load.platform ? { platform: load.platform } : {}) };
        const hex = (d: string) => `blobs/${d.replace(':', '/')}`;
        const tag = familiar(reference);
        saveManifest.push({ Config: hex(load.manifest.config.digest), RepoTags: tag ? [tag] : [], Layers: load.manifest.layers.map((l) => hex(l.digest)) });
        if (tag) {
          const colon = tag.lastIndexOf(':');
          (repositories[tag.slice(0, colon)] ??= {})[tag.slice(colon + 1)] = load.manifest.config.digest.replace(/^sha256:/, '');
        }
      }
      image.mediaType = (await (async () => {
        const s = await dstRef.newSource(ctx.system);
        try {
          return (await readManifest(s)).mediaType;
        } finally {
          await s.close();
        }
      })());
      images.push(image);
      if (!shell.json) {
        const n = simple.length + carried.cosign + carried.referrers;
        shell.out.out(`ADDED ${reference} ${image.digest}${n ? ` (+${n} detached signature${n === 1 ? '' : 's'})` : ''}\n`);
      }
    }
    await writeFile(join(stage, 'manifest.json'), JSON.stringify(saveManifest));
    await writeFile(join(stage, 'repositories'), JSON.stringify(repositories));
    const manifest: BundleManifest = {
      schema: BUNDLE_SCHEMA,
      created: new Date().toISOString(),
      creator: `dsv ${VERSION}`,
      images,
      trust,
      policy: a.policy !== undefined ? BUNDLE_POLICY : null,
    };
    await writeFile(join(stage, BUNDLE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const files = await writeTar(stage, a.out, [BUNDLE_MANIFEST, 'oci-layout', 'index.json', 'manifest.json', 'repositories']);
    if (shell.json) {
      shell.writeJson({ command: 'bundle create', ok: true, exitCode: 0, out: a.out, files, images, trust, policy: manifest.policy });
    } else {
      shell.out.out(`Wrote ${a.out}: ${images.length} image${images.length === 1 ? '' : 's'}, ${trust.length} trust file${trust.length === 1 ? '' : 's'}${manifest.policy ? ', a policy' : ''}\n`);
    }
    return 0;
  } catch (e) {
    return shell.fail(e, () => report(e));
  } finally {
    await stores?.close();
    await rm(stage, { recursive: true, force: true });
  }
}
