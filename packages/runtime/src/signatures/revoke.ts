/**
 * `dsv signatures revoke --key KEY REPO`: removes every detached signature KEY made in the repository —
 * simple signatures in a file:// lookaside store (the rest renumbered signature-1.. without a gap, since
 * readers stop at the first missing one), cosign `.sig` attachments (the manifest rewritten without that
 * key's layers; none left: deleted), Sigstore bundle referrers (the referrer deleted, the referrers-tag index
 * rewritten without it; none left: deleted), and embedded signatures: an embedded entry cannot go without a new
 * image digest, so each tag carrying one moves to a new image without it (revokeEmbedded), reported old -> new.
 */
import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, removeSignatureEntries, type Descriptor, type Digest, type ImageConfig } from '@dsv/core/formats';
import {
  attachmentManifest, keyIdOf, layerOf, readBundleReferrers, readCosignSignatures, verifyBytes, verifyImageBundle, CERTIFICATE_ANNOTATION, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,
  SIGNATURE_ANNOTATION,
  type CosignAttachment,
} from '@dsv/signature-cosign';
import { describeSimpleSignature, readLookasideSignatures, writeLookasideSignatures } from '@dsv/signature-simple';
import { runInspect } from '../commands.js';
import { createVerifyFunction, type CliContext } from '../context.js';
import { detachedStores, type DetachedStores } from '../detached/stores.js';
import type { CommandShell } from '../shell.js';
import { isRevoked, resolveRevokedKey, type RevokedKey } from './keys.js';
import { Items, failReport } from './report.js';
import { deleteManifest, removeDir, repositoryArg, scanRepository, tagDigest, type RepositoryScan } from './scan.js';

export interface RevokeOptions {
  repository: string;
  key: string;
  dryRun: boolean;
  registriesD?: string;
}

function madeByKey(a: CosignAttachment, key: RevokedKey): boolean {
  const sig = a.annotations[SIGNATURE_ANNOTATION];
  if (sig && key.publicKeys.some((k) => {
    try {
      return verifyBytes(k, a.payload, Buffer.from(sig, 'base64'));
    } catch {
      return false;
    }
  })) return true;
  const cert = a.annotations[CERTIFICATE_ANNOTATION];
  if (cert) {
    try {
      return isRevoked(key, keyIdOf(new X509Certificate(cert).publicKey));
    } catch {
      return false;
    }
  }
  return false;
}

async function revokeSimple(scan: RepositoryScan, key: RevokedKey, items: Items, dryRun: boolean): Promise<void> {
  const ref = `${scan.name}:latest`;
  for (const [digest, { path, base }] of scan.lookasideDirs) {
    const sigs = await readLookasideSignatures(base, ref, digest);
    const kept: Uint8Array[] = [];
    const gone: number[] = [];
    for (const [i, sig] of sigs.entries()) {
      const d = await describeSimpleSignature(sig);
      if (isRevoked(key, d.keyId)) gone.push(i + 1);
      else kept.push(sig);
    }
    if (gone.length === 0) continue;
    if (!dryRun) {
      if (kept.length === 0) await removeDir(path);
      else await writeLookasideSignatures(base, ref, digest, kept);
    }
    for (const n of gone) items.add({ kind: 'simple', digest, location: `${path}/signature-${n}`, action: 'removed', ...(kept.length ? { detail: `${kept.length} other signature(s) kept, renumbered from signature-1` } : {}) });
  }
}

async function revokeCosign(stores: DetachedStores, scan: RepositoryScan, key: RevokedKey, items: Items, dryRun: boolean): Promise<void> {
  const store = await stores.tagStore(`${scan.name}:latest`);
  for (const [digest, tag] of scan.sigTags) {
    const old = await tagDigest(scan, tag);
    if (!old) continue;
    const attachments = await readCosignSignatures(store, digest);
    const kept = attachments.filter((a) => !madeByKey(a, key));
    const gone = attachments.length - kept.length;
    if (gone === 0) continue;
    const location = `${scan.name}:${tag}`;
    if (!dryRun) {
      if (kept.length === 0) {
        await deleteManifest(scan, old.digest, `the cosign signature tag ${tag}`);
      } else {
        const { manifest, config } = attachmentManifest(kept.map(layerOf));
        const dest = await store.openDestination(tag);
        try {
          const d: Descriptor = { mediaType: OCI_CONFIG, digest: digestOf(config) as Digest, size: config.length };
          if (!(await dest.hasBlob(d))) await dest.putBlob(d, Readable.from([Buffer.from(config)]));
          await dest.putManifest(manifest, OCI_MANIFEST);
          await dest.commit();
        } finally {
          await dest.close();
        }
        // The old manifest stays fetchable by digest until it is deleted; the tag has moved off it.
        if (digestOf(manifest) !== old.digest) await deleteManifest(scan, old.digest, `the old cosign signature manifest of ${tag}`);
      }
    }
    for (let i = 0; i < gone; i++) {
      items.add({ kind: 'cosign-signature', digest, location, action: 'removed', detail: kept.length ? `${kept.length} other signature(s) kept in a rewritten ${tag}` : `no signature left: ${tag} deleted` });
    }
  }
}

async function revokeBundles(stores: DetachedStores, scan: RepositoryScan, key: RevokedKey, items: Items, dryRun: boolean): Promise<void> {
  if (key.publicKeys.length === 0) return; // a bundle names no key id: only a public key tells
  const store = await stores.tagStore(`${scan.name}:latest`);
  for (const [digest, tag] of scan.referrersTags) {
    const index = await tagDigest(scan, tag);
    if (!index) continue;
    const bundles = await readBundleReferrers(store, digest);
    const gone = bundles.filter((b) => verifyImageBundle(b.bundle, { manifestDigest: digest }, { keys: key.publicKeys }).valid).map((b) => b.referrer);
    if (gone.length === 0) continue;
    const doc = JSON.parse(Buffer.from(index.bytes).toString('utf8')) as { manifests?: Array<{ digest?: string }> } & Record<string, unknown>;
    const kept = (doc.manifests ?? []).filter((m) => !gone.includes(String(m.digest)));
    const location = `${scan.name}:${tag}`;
    if (!dryRun) {
      if (kept.length === 0) {
        await deleteManifest(scan, index.digest, `the referrers tag ${tag}`);
      } else {
        const bytes = new TextEncoder().encode(JSON.stringify({ ...doc, manifests: kept }));
        await scan.client.putManifest(scan.repo.repository, tag, bytes, OCI_INDEX);
        await deleteManifest(scan, index.digest, `the old referrers index of ${tag}`);
      }
      for (const r of gone) await deleteManifest(scan, r, `the bundle referrer ${r}`);
    }
    for (const r of gone) {
      items.add({ kind: 'cosign-bundle', digest, location: `${location} → ${r}`, action: 'removed', detail: kept.length ? `${kept.length} other referrer(s) kept in a rewritten ${tag}` : `no referrer left: ${tag} deleted` });
    }
  }
}

/**
 * Embedded signatures: each tag whose image carries an entry by KEY moves to a new image whose configuration
 * lists the other entries only (core removeSignatureEntries: co-signatures stay valid with no signer;
 * endorsements made after a removed entry cannot and go too, said in the detail). The new configuration and
 * manifests are put first, the tag last (core copyImage, read from the old digest so a tag moved meanwhile is
 * not touched); the old image stays fetchable by digest.
 */
async function revokeEmbedded(ctx: CliContext, scan: RepositoryScan, key: RevokedKey, items: Items, dryRun: boolean): Promise<number> {
  const verify = await createVerifyFunction(ctx, {});
  const { copyBetween } = await import('../copy-between.js');
  let unattributed = 0;
  for (const tag of scan.tags.keys()) {
    const seen = await runInspect(ctx, `docker://${scan.name}:${tag}`, { verify });
    // Per configuration, the entries KEY made.
    const byConfig = new Map<string, Set<number>>();
    for (const img of seen.images) {
      const hits = img.signatures.filter((s) => isRevoked(key, s.keyId) || isRevoked(key, s.fingerprint)).map((s) => s.index);
      if (hits.length) byConfig.set(img.configDigest, new Set(hits));
      unattributed += img.signatures.filter((s) => s.status === 'unknown-key' && !s.fingerprint && !hits.includes(s.index)).length;
    }
    if (byConfig.size === 0) continue;
    let removed = 0;
    const dropped: number[] = [];
    let left = 0;
    const editConfig = (config: ImageConfig): ImageConfig => {
      const picked = byConfig.get(config.digest);
      if (!picked) return config;
      const r = removeSignatureEntries(config, (_e, i) => picked.has(i));
      removed += r.removed.length;
      dropped.push(...r.dropped);
      left += r.kept.length;
      return r.config;
    };
    const from = ctx.parseImage(`docker://${scan.name}@${seen.digest}`);
    const to = ctx.parseImage(`docker://${scan.name}:${tag}`);
    const newDigest = (await copyBetween(from, to, ctx.system, { editConfig, dryRun, debug: ctx.debug })).destinationDigest;
    const parts = [`${removed} embedded signature(s) by ${key.input} removed`, `${left} other(s) kept`];
    if (dropped.length) parts.push(`${dropped.length} endorsement(s) made after it dropped (an endorsement covers the entries before it; endorse again)`);
    items.add({
      kind: 'embedded', digest: seen.digest, newDigest, location: `${scan.name}:${tag}`, action: 'removed',
      detail: `${parts.join(', ')}; the format cannot drop a signature without a new image digest`,
    });
  }
  return unattributed;
}

export async function signaturesRevoke(ctx: CliContext, shell: CommandShell, o: RevokeOptions): Promise<number> {
  const command = 'signatures revoke';
  const items = new Items(shell, o.dryRun);
  let stores: DetachedStores | undefined;
  try {
    const repo = repositoryArg(ctx, o.repository, 'dsv signatures revoke');
    const key = await resolveRevokedKey(o.key);
    stores = await detachedStores(ctx, o.registriesD !== undefined ? { registriesD: o.registriesD } : {});
    const scan = await scanRepository(stores, repo);
    await revokeSimple(scan, key, items, o.dryRun);
    await revokeCosign(stores, scan, key, items, o.dryRun);
    await revokeBundles(stores, scan, key, items, o.dryRun);
    const unattributed = await revokeEmbedded(ctx, scan, key, items, o.dryRun);
    // An OpenPGP signature names only the (sub)key that made it: without the public key, an id of its primary cannot match it.
    if (unattributed && !key.fromFile) {
      shell.out.err(`${shell.out.prog}: warning: ${unattributed} embedded signature(s) were made by keys not available here and could not be matched to ${key.input} (a signature made with a subkey names only the subkey); give the public key file as --key to match its subkeys\n`);
    }
    const summary = {
      removed: items.count() - items.count('embedded'),
      simple: items.count('simple'),
      cosign: items.count('cosign-signature'),
      cosignBundles: items.count('cosign-bundle'),
      embedded: items.count('embedded'),
    };
    if (shell.json) {
      shell.writeJson({ command, repository: scan.name, key: { input: key.input, ids: key.ids }, dryRun: o.dryRun, ok: true, exitCode: 0, summary, items: items.list });
    } else {
      const verb = o.dryRun ? 'would remove (dry run: nothing removed)' : 'removed';
      shell.out.out(`${scan.name}: ${verb} ${summary.removed} signatures by ${key.input} (${summary.simple} simple, ${summary.cosign} cosign, ${summary.cosignBundles} cosign bundles); ${summary.embedded} tags ${o.dryRun ? 'would move' : 'moved'} to images without its embedded signatures\n`);
    }
    return 0;
  } catch (e) {
    return failReport(shell, command, e, items);
  } finally {
    await stores?.close();
  }
}
