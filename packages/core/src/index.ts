// `@dsv/core`: everything but the test helpers — the union of the `formats`, `transport` and `operations`
// subpaths (package.json "exports"); `@dsv/core/testing` holds the memory transport.
export * from './formats.js';
export * from './transport-api.js';
export * from './operations.js';
