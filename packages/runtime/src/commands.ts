/**
 * The three jobs, composed from packages: sign (core copyImage with a signer), verify (core
 * verifyImage with the routing verifier), inspect. No printing here: callers format the results.
 */
import type { LocalStore } from '@dsv/source-repository';
import {
  inspectImage,
  resolveImages,
  verifyImage,
  type VerifyResult,
} from '@dsv/core/operations';
import {
  isDsvError,
  type KeyInfo,
  type SignatureKind,
  type VerificationResult,
} from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import type { CliContext } from './context.js';
import { copyBetween } from './copy-between.js';
import type { ResolvedKey } from './keys.js';
import type { SignSummary } from './report.js';

export interface SignOptions {
  source: string;
  /** Defaults to the source. */
  destination?: string;
  key: ResolvedKey;
  kind?: SignatureKind;
  dryRun?: boolean;
  platform?: string;
  /** Collect layer lists for --debug output. */
  collectLayers?: boolean;
  /** Called once the key is loaded, before any image is read (e.g. to print what is being signed). */
  onStart?: (info: { source: ImageReference; destination: ImageReference; key: KeyInfo; kind: SignatureKind }) => void;
}


/** Verifies integrity, signs every image (every platform, or --platform) and stores it under DEST. */
export async function runSign(ctx: CliContext, opts: SignOptions): Promise<SignSummary> {
  const srcRef = ctx.parseImage(opts.source);
  const dstRef = ctx.parseImage(opts.destination ?? opts.source);
  const kind = opts.kind ?? 'sign';
  const plugin = ctx.signers.get(opts.key.keyType);
  const settings = ctx.signerSettings[plugin.type];
  ctx.debug(`signature type ${plugin.type}; key ${opts.key.key}; passphrase from ${opts.key.passphraseSource}`);
  const signer = await plugin.createSigner({
    key: opts.key.key,
    passphrase: opts.key.passphrase,
    ...(settings && Object.keys(settings).length ? { settings } : {}),
  });
  const key = await signer.describeKey();
  opts.onStart?.({ source: srcRef, destination: dstRef, key, kind });

  let layers: SignSummary['layers'];
  const result = await copyBetween(
    srcRef,
    dstRef,
    ctx.system,
    {
      ...layerLimitsOf(ctx.system),
      sign: { signer, kind },
      dryRun: opts.dryRun === true,
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(ctx.system.onProgress ? { onProgress: ctx.system.onProgress } : {}),
      debug: ctx.debug,
    },
    {
      first: async (source) => {
        if (!opts.collectLayers) return;
        // --debug's layer listing: each image's layers and diff IDs, read before the copy.
        layers = new Map();
        const { images } = await resolveImages(source, { ...(opts.platform ? { platform: opts.platform } : {}) });
        for (const img of images) {
          layers.set(img.manifest.digest, { layers: img.manifest.layers.map((l) => l.digest), diffIds: img.config.diffIds });
        }
      },
    },
  );
  return { source: srcRef.toString(), destination: dstRef.toString(), key, kind, result, ...(layers ? { layers } : {}) };
}

export interface VerifyOptions {
  platform?: string;
  verify: (data: Uint8Array, signature: string) => Promise<VerificationResult>;
}

/** Integrity of every blob, then every embedded signature, for every platform image (or --platform). */
export async function runVerify(ctx: CliContext, image: string | ImageReference, opts: VerifyOptions): Promise<VerifyResult> {
  const ref = typeof image === 'string' ? ctx.parseImage(image) : image;
  const expectedDigest = ref.digest;
  const source = await ref.newSource(ctx.system);
  try {
    return await verifyImage(source, opts.verify, {
      ...layerLimitsOf(ctx.system),
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(expectedDigest ? { expectedDigest } : {}),
      ...(ctx.system.onProgress ? { onProgress: ctx.system.onProgress } : {}),
    });
  } finally {
    await source.close();
  }
}

/**
 * Verifies a local image where the chosen store holds it: on disk (docker-storage:) when readable, falling
 * back to the daemon when this build cannot read that store directly (an unsupported driver, devicemapper
 * without dmsetup); else through the Engine API (docker-daemon:).
 */
export async function verifyLocalImage(ctx: CliContext, name: string, store: LocalStore, opts: VerifyOptions, debug: (m: string) => void = () => {}): Promise<VerifyResult> {
  if (store.transport === 'docker-storage') {
    try {
      return await runVerify(ctx, `docker-storage:${name}`, opts);
    } catch (e) {
      if (!(isDsvError(e) && e.code === 'Unsupported')) throw e;
      debug(`docker-storage: cannot read ${name} (${e.message}); using the Docker daemon`);
    }
  }
  return runVerify(ctx, `docker-daemon:${name}`, opts);
}

export type InspectResult = Awaited<ReturnType<typeof inspectImage>>;

/** Who signed what (no trust judgement); signatures are still checked so signers can be named. */
export async function runInspect(
  ctx: CliContext,
  image: string | ImageReference,
  opts: { verify?: (data: Uint8Array, signature: string) => Promise<VerificationResult>; platform?: string } = {},
): Promise<InspectResult> {
  const ref = typeof image === 'string' ? ctx.parseImage(image) : image;
  const source = await ref.newSource(ctx.system);
  try {
    const expectedDigest = ref.digest;
    return await inspectImage(source, opts.verify, {
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(expectedDigest ? { expectedDigest } : {}),
    });
  } finally {
    await source.close();
  }
}

/** --no-check-signatures: a verify function that checks nothing (no key is loaded; signatures show as unchecked). */
export const uncheckedVerify = async (): Promise<VerificationResult> => ({ status: 'unknown-key', type: 'unchecked', reason: 'signatures not checked' });

/** A verify result judged on integrity alone (the original's --no-check-signatures): signature problems are not failures. */
export function integrityVerdict(result: VerifyResult): VerifyResult {
  const notSignature = (f: string) => !/(^|: )(no signatures$|signatures? )/.test(f);
  const images = result.images.map((img) => ({ ...img, ok: img.integrity.ok, failures: img.integrity.ok ? [] : img.failures.filter(notSignature) }));
  return { ...result, images, ok: images.length > 0 && images.every((i) => i.ok), failures: result.failures.filter(notSignature) };
}

/** The layer inflation caps the context sets (--max-layer-size, --max-layer-ratio, their variables); unset: core's defaults. */
export function layerLimitsOf(system: { maxLayerBytes?: number; maxLayerRatio?: number }): { maxLayerBytes?: number; maxLayerRatio?: number } {
  return {
    ...(system.maxLayerBytes !== undefined ? { maxLayerBytes: system.maxLayerBytes } : {}),
    ...(system.maxLayerRatio !== undefined ? { maxLayerRatio: system.maxLayerRatio } : {}),
  };
}
