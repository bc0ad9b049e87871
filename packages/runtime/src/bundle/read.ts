/**
 * Opening a bundle: extracted to a private temp dir (removed by close()), its dsv-bundle/manifest.json
 * read and checked, and the per-image sources of its signatures (simple files, the layout's `.sig` and
 * referrers tags) for the policy formats.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { DsvError } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import type { SignatureFormat } from '@dsv/policy';
import { simpleSigningFormat } from '@dsv/signature-simple';
import { cosignFormat, referrersTagSource, tagSchemeSource, tagStoreFor } from '@dsv/signature-cosign';
import type { CliContext } from '../context.js';
import { embeddedFormat } from '../detached/embedded.js';
import { BUNDLE_MANIFEST, BUNDLE_SCHEMA, extractTar, type BundleImage, type BundleManifest } from './format.js';

export interface OpenBundle {
  dir: string;
  manifest: BundleManifest;
  /** The image in the bundle's OCI layout. */
  layoutRef(ctx: CliContext, image: BundleImage): ImageReference;
  /** A file of the bundle (a path relative to its root; never outside it). */
  path(rel: string): string;
  /** The simple signatures of one manifest of an image. */
  simpleSignatures(image: BundleImage, manifestDigest: string): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

export async function openBundle(file: string): Promise<OpenBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'dsv-bundle-'));
  try {
    await extractTar(file, dir);
    const path = (rel: string) => {
      const p = resolve(dir, rel);
      if (!p.startsWith(dir + sep)) throw new DsvError('ArchiveInvalid', `${file}: ${rel} points outside the bundle`);
      return p;
    };
    let manifest: BundleManifest;
    try {
      manifest = JSON.parse(await readFile(path(BUNDLE_MANIFEST), 'utf8')) as BundleManifest;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DsvError('ArchiveInvalid', `${file}: ${code === 'ENOENT' ? `no ${BUNDLE_MANIFEST}; not a dsv bundle` : `${BUNDLE_MANIFEST} is not JSON`}`);
    }
    if (manifest?.schema !== BUNDLE_SCHEMA || !Array.isArray(manifest.images) || !Array.isArray(manifest.trust)) {
      throw new DsvError('ArchiveInvalid', `${file}: ${BUNDLE_MANIFEST} is not a ${BUNDLE_SCHEMA} manifest`);
    }
    for (const img of manifest.images) {
      if (typeof img?.name !== 'string' || typeof img.reference !== 'string' || typeof img.digest !== 'string' || !/^[A-Za-z0-9._\-:/@+]+$/.test(img.name)) {
        throw new DsvError('ArchiveInvalid', `${file}: ${BUNDLE_MANIFEST} lists an invalid image`);
      }
    }
    return {
      dir,
      manifest,
      layoutRef: (ctx, image) => ctx.parseImage(`oci:${dir}:${image.name}`),
      path,
      async simpleSignatures(image, manifestDigest) {
        const files = (image.signatures?.simple ?? []).filter((s) => s.manifestDigest === manifestDigest);
        return Promise.all(files.map(async (s) => new Uint8Array(await readFile(path(s.file)))));
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The policy formats reading the bundle's signatures of `image` (and nothing else). */
export function bundleFormats(ctx: CliContext, bundle: OpenBundle, image: BundleImage): SignatureFormat[] {
  const store = tagStoreFor(bundle.layoutRef(ctx, image), ctx.system);
  return [
    simpleSigningFormat({ source: (i) => bundle.simpleSignatures(image, i.manifestDigest) }) as unknown as SignatureFormat,
    cosignFormat({ source: tagSchemeSource(() => store), bundles: referrersTagSource(() => store) }) as unknown as SignatureFormat,
    embeddedFormat(ctx),
  ];
}
