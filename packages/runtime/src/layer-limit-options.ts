// --max-layer-size SIZE and --max-layer-ratio N: how far a layer may inflate (decompression bombs), for every command that reads layers.
import { parseByteSize, parseLayerRatio, type SystemContext } from '@dsv/core';

export function layerLimitOptions() {
  return {
    'max-layer-size': { type: 'string', describe: 'Largest uncompressed layer, e.g. 64GiB [env DSV_MAX_LAYER_SIZE; default 32GiB]' },
    'max-layer-ratio': { type: 'string', describe: 'Largest uncompressed/compressed layer ratio above 256 MiB, 0 for none [env DSV_MAX_LAYER_RATIO; default 100]' },
  } as const;
}

/** The SystemContext fields of parsed --max-layer-size / --max-layer-ratio (the flags win over the variables). */
export function layerLimitSystem(argv: Record<string, unknown>): Partial<SystemContext> {
  const last = (v: unknown) => (Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v));
  const size = last(argv.maxLayerSize);
  const ratio = last(argv.maxLayerRatio);
  return {
    ...(size !== undefined ? { maxLayerBytes: parseByteSize(size, '--max-layer-size') } : {}),
    ...(ratio !== undefined ? { maxLayerRatio: parseLayerRatio(ratio, '--max-layer-ratio') } : {}),
  };
}
