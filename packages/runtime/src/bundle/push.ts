/**
 * `dsv bundle push FILE DEST`: every image of the bundle copied byte for byte to DEST/REPO:TAG (DEST a
 * registry prefix docker://HOST[/PREFIX], REPO the image's repository without its registry), then its
 * detached signatures as dsv copy writes them: simple ones to the extension API or the registries.d
 * lookaside-staging, cosign `.sig` and referrers as tags. Where signatures go is checked before DEST changes.
 */
import { DsvError, parseDockerReference, type Digest } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import { copyBetween } from '../copy-between.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { errorJson, errorMessage, oneLine } from '../report.js';
import type { CommandShell } from '../shell.js';
import { withoutProgress } from '../fleet/all-tags.js';
import type { DsvBundlePushArgs } from './command.js';
import type { BundleImage } from './format.js';
import { openBundle, type OpenBundle } from './read.js';

/** DEST/REPO:TAG for a bundled image. */
export function pushDestination(dest: string, reference: string): string {
  const ref = parseDockerReference(reference, { defaultRegistry: 'docker.io' });
  const base = dest.replace(/\/+$/, '');
  return `${base}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${!ref.tag && ref.digest ? `@${ref.digest}` : ''}`;
}

interface Outcome {
  image: BundleImage;
  destination: string;
  ok: boolean;
  digest?: string;
  signatures?: number;
  error?: unknown;
}

export async function bundlePush(context: CliContext, shell: CommandShell, a: DsvBundlePushArgs): Promise<number> {
  const ctx = withoutProgress(context);
  const fail = (e: unknown) => shell.fail(e, () => ({ command: 'bundle push', ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  if (!/^docker:\/\/[^/]+/.test(a.destination)) return fail(new DsvError('Usage', `DEST ${a.destination}: a registry prefix, docker://HOST[/PREFIX]`));
  let bundle: OpenBundle;
  try {
    bundle = await openBundle(a.file);
  } catch (e) {
    return fail(e);
  }
  const { detachedStores } = await import('../detached/stores.js');
  const sigs = await import('../copy-signatures.js');
  let stores;
  try {
    stores = await detachedStores(ctx, a.registriesD !== undefined ? { registriesD: a.registriesD } : {});
  } catch (e) {
    await bundle.close();
    return fail(e);
  }
  const outcomes: Outcome[] = [];
  try {
    for (const image of bundle.manifest.images) {
      const o: Outcome = { image, destination: '', ok: false };
      outcomes.push(o);
      try {
        o.destination = pushDestination(a.destination, image.reference);
        const srcRef = bundle.layoutRef(ctx, image);
        const dstRef = ctx.parseImage(o.destination);
        // Signatures known, and where they go checked, before DEST changes.
        const noSimple = { ...stores, readSimple: async () => [] as Uint8Array[] };
        const plan = await sigs.planCarry(ctx, noSimple, srcRef, dstRef);
        for (const digest of image.manifests ?? [image.digest]) {
          const simple = await bundle.simpleSignatures(image, digest);
          if (simple.length === 0) continue;
          const f = plan.found.find((x) => x.digest === digest);
          if (f) f.simple = simple;
          else plan.found.push({ digest: digest as Digest, simple, cosign: [], referrers: [] });
        }
        const simpleCount = plan.found.reduce((n, f) => n + f.simple.length, 0);
        if (simpleCount > 0) await sigs.checkSimpleStore(stores, dstRef, `cannot restore the ${simpleCount} simple signature(s) of ${image.reference}`);
        const result = await copyBetween(srcRef, dstRef, ctx.system, { removeSignatures: false, jobs: 2, debug: ctx.debug });
        const kept = new Map(result.images.map((i) => [i.sourceManifestDigest, i.manifestDigest]));
        kept.set(result.sourceDigest, result.destinationDigest);
        const carried = await sigs.carrySignatures(ctx, stores, plan, srcRef, dstRef, kept, false);
        o.digest = result.destinationDigest;
        o.signatures = carried.simple + carried.cosign + carried.referrers;
        o.ok = result.destinationDigest === image.digest && carried.skipped.length === 0;
        if (!o.ok) o.error = new DsvError('DigestMismatch', `${o.destination} holds ${result.destinationDigest}, not ${image.digest}; its signatures were not restored`);
      } catch (e) {
        o.error = e;
      }
      if (!shell.json) {
        if (o.ok) shell.out.out(`PUSHED ${image.reference} -> ${o.destination} ${o.digest}${o.signatures ? ` (+${o.signatures} signature${o.signatures === 1 ? '' : 's'})` : ''}\n`);
        else shell.out.err(`FAILED ${image.reference} -> ${o.destination || a.destination}: ${oneLine(errorMessage(o.error))}\n`);
      }
    }
  } finally {
    await stores.close();
    await bundle.close();
  }
  const code = worstExitCode(outcomes.map((o) => (o.ok ? ExitCodes.Ok : exitCodeFor(o.error))));
  if (shell.json) {
    shell.writeJson({
      command: 'bundle push',
      ok: code === ExitCodes.Ok,
      exitCode: code,
      file: a.file,
      destination: a.destination,
      results: outcomes.map((o) => ({
        reference: o.image.reference, destination: o.destination, ok: o.ok, digest: o.digest ?? null, signatures: o.signatures ?? 0,
        ...(o.error !== undefined ? { error: errorJson(o.error) } : {}),
      })),
    });
  } else {
    const n = outcomes.filter((o) => o.ok).length;
    shell.out.out(`${outcomes.length} image${outcomes.length === 1 ? '' : 's'}: ${n} pushed, ${outcomes.length - n} failed\n`);
  }
  return code;
}
