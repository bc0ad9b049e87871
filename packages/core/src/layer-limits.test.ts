/** The layer inflation caps: absolute, ratio with a floor, and their parsers. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LAYER_BYTES, LAYER_RATIO_FLOOR_BYTES, layerLimit, parseByteSize, parseLayerRatio } from './layer-limits.js';

describe('layerLimit', () => {
  it('is the ratio times the compressed size, never below the floor nor above the absolute cap', () => {
    expect(layerLimit(132 * 1024)).toBe(LAYER_RATIO_FLOOR_BYTES);
    expect(layerLimit(4 * 1024 ** 2)).toBe(400 * 1024 ** 2);
    expect(layerLimit(40 * 1024 ** 2)).toBe(100 * 40 * 1024 ** 2);
    expect(layerLimit(10 * 1024 ** 3)).toBe(DEFAULT_MAX_LAYER_BYTES);
    expect(layerLimit(40 * 1024 ** 2, { maxLayerRatio: 0 })).toBe(DEFAULT_MAX_LAYER_BYTES);
    expect(layerLimit(40 * 1024 ** 2, { maxLayerBytes: 1024 ** 3, maxLayerRatio: 1000 })).toBe(1024 ** 3);
  });
  it('parses sizes and ratios, refusing the rest', () => {
    expect(parseByteSize('20GiB', 'x')).toBe(20 * 1024 ** 3);
    expect(parseByteSize('500MB', 'x')).toBe(500 * 1000 ** 2);
    expect(parseByteSize('1073741824', 'x')).toBe(1024 ** 3);
    for (const bad of ['', 'lots', '-1', '0', '1.5XB']) expect(() => parseByteSize(bad, '--max-layer-size')).toThrow(/--max-layer-size/);
    expect(parseLayerRatio('0', 'x')).toBe(0);
    expect(parseLayerRatio('250', 'x')).toBe(250);
    for (const bad of ['', '-3', '0.5', 'many']) expect(() => parseLayerRatio(bad, '--max-layer-ratio')).toThrow(/--max-layer-ratio/);
  });
});
