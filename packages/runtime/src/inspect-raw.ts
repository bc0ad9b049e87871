// dsv inspect --raw / --config: the exact manifest (or list/index) bytes, or the exact image configuration bytes, as the source holds them.
import { DsvError, parseManifest } from '@dsv/core/formats';
import { checkTopDigest, resolveImages } from '@dsv/core/operations';
import type { RuntimeContext } from './context.js';

/**
 * The bytes `dsv inspect --raw IMAGE` prints: the top-level manifest, list or index exactly as received
 * (checked against the reference's digest when it names one). With `config`: the configuration of the
 * image (of --platform's image in a list/index; a list without --platform is a usage error naming its
 * platforms), checked against its digest.
 */
export async function inspectRawBytes(ctx: RuntimeContext, image: string, opts: { config?: boolean; platform?: string } = {}): Promise<Uint8Array> {
  const ref = ctx.parseImage(image);
  const source = await ref.newSource(ctx.system);
  try {
    if (!opts.config) {
      const { bytes, mediaType } = await source.getManifest();
      checkTopDigest(parseManifest(bytes, mediaType), ref.digest);
      return bytes;
    }
    const { images } = await resolveImages(source, { ...(opts.platform ? { platform: opts.platform } : {}), ...(ref.digest ? { expectedDigest: ref.digest } : {}) });
    if (images.length !== 1) {
      const platforms = images.map((i) => i.platform ?? 'unknown').join(', ');
      throw new DsvError('Usage', `${ref.toString()} is a multi-platform image (${platforms}): give --platform os/arch[/variant] to say whose configuration`);
    }
    return images[0]!.config.bytes;
  } finally {
    await source.close();
  }
}
