// @dsv/conformance: the suites every dsv transport and signer runs, and the sample-image builder.
export * from './harness.js';
export * from './source-suite.js';
export * from './destination-suite.js';
export * from './signer-suite.js';
export * from './sample-image.js';
export * from './archives.js';
export { buildTar, layerTar, SAMPLE_MTIME, type TarEntry } from './tar.js';
export { compress, zstdRawFrame } from './compress.js';
export { hmacSignerPlugin } from './fake-signer.js';
