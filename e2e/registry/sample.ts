// The registry tests' view of @dsv/conformance's sample images: buildImage(seed, sizes) is an OCI image
// whose layers each hold one file of deterministic noise, in the blob-list shape these tests use.
import { buildSampleImageSync, noise, writeOciLayout as writeLayout, type SampleImage as Sample } from '@dsv/conformance';

export { noise };

export interface SampleBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface SampleImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: SampleBlob;
  layers: SampleBlob[];
  sample: Sample;
}

export function buildImage(seed: string, layerSizes: number[] = [200_000, 3_000]): SampleImage {
  const sample = buildSampleImageSync({
    format: 'oci',
    layers: layerSizes.map((n, i) => ({ [`file-${i}.bin`]: noise(n, `${seed}-${i}`) })),
    labels: { seed },
  });
  const [config, ...layers] = sample.blobs().map(({ descriptor, bytes }) => ({ ...descriptor, bytes }));
  return { manifest: sample.manifestBytes, manifestDigest: sample.manifestDigest, mediaType: sample.manifestMediaType, config: config!, layers, sample };
}

/** Writes the image as an OCI layout tagged `tag`; returns the layout directory. */
export function writeOciLayout(dir: string, image: SampleImage, tag: string): string {
  return writeLayout(dir, { image: image.sample, tag });
}
