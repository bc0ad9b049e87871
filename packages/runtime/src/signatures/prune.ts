/**
 * `dsv signatures prune REPO`: removes the detached signatures of images the repository no longer has —
 * file:// lookaside directories, cosign `.sig` tags and referrers-tag indexes (with the referrer manifests
 * they list) for digests no tag of REPO (nor a child of a tagged index) points at.
 */
import type { CliContext } from '../context.js';
import { detachedStores } from '../detached/stores.js';
import type { CommandShell } from '../shell.js';
import { Items, failReport } from './report.js';
import { deleteManifest, removeDir, repositoryArg, scanRepository, tagDigest } from './scan.js';

export interface PruneOptions {
  repository: string;
  dryRun: boolean;
  registriesD?: string;
}

export async function signaturesPrune(ctx: CliContext, shell: CommandShell, o: PruneOptions): Promise<number> {
  const command = 'signatures prune';
  const items = new Items(shell, o.dryRun);
  let stores;
  try {
    const repo = repositoryArg(ctx, o.repository, 'dsv signatures prune');
    stores = await detachedStores(ctx, o.registriesD !== undefined ? { registriesD: o.registriesD } : {});
    const scan = await scanRepository(stores, repo);
    for (const [digest, { path }] of scan.lookasideDirs) {
      if (scan.live.has(digest)) continue;
      if (!o.dryRun) await removeDir(path);
      items.add({ kind: 'lookaside', digest, location: path, action: 'removed' });
    }
    for (const [digest, tag] of scan.sigTags) {
      if (scan.live.has(digest)) continue;
      const m = await tagDigest(scan, tag);
      if (!m) continue;
      if (!o.dryRun) await deleteManifest(scan, m.digest, `the cosign signature tag ${tag}`);
      items.add({ kind: 'cosign-sig', digest, location: `${scan.name}:${tag}`, action: 'removed' });
    }
    for (const [digest, tag] of scan.referrersTags) {
      if (scan.live.has(digest)) continue;
      const m = await tagDigest(scan, tag);
      if (!m) continue;
      let children: string[] = [];
      try {
        const doc = JSON.parse(Buffer.from(m.bytes).toString('utf8')) as { manifests?: Array<{ digest?: unknown }> };
        children = (doc.manifests ?? []).map((c) => c.digest).filter((d): d is string => typeof d === 'string' && !scan.live.has(d));
      } catch {
        /* not JSON: only the index goes */
      }
      if (!o.dryRun) {
        for (const c of children) await deleteManifest(scan, c, `a referrer of ${digest}`);
        await deleteManifest(scan, m.digest, `the referrers tag ${tag}`);
      }
      items.add({ kind: 'referrers', digest, location: `${scan.name}:${tag}`, action: 'removed', ...(children.length ? { detail: `and ${children.length} referrer manifest(s)` } : {}) });
    }
    const summary = {
      images: scan.live.size,
      removed: items.count(),
      lookaside: items.count('lookaside'),
      cosignSignatureTags: items.count('cosign-sig'),
      referrersTags: items.count('referrers'),
    };
    if (shell.json) {
      shell.writeJson({ command, repository: scan.name, dryRun: o.dryRun, ok: true, exitCode: 0, summary, items: items.list });
    } else {
      const verb = o.dryRun ? 'would remove (dry run: nothing removed)' : 'removed';
      shell.out.out(`${scan.name}: ${summary.images} image digests in use; ${verb} ${summary.removed} orphaned signature stores (${summary.lookaside} lookaside, ${summary.cosignSignatureTags} .sig tags, ${summary.referrersTags} referrers tags)\n`);
    }
    return 0;
  } catch (e) {
    return failReport(shell, command, e, items);
  } finally {
    await stores?.close();
  }
}
