/**
 * `@dsv/core/testing`: test helpers — the in-memory `memory:` transport (with its store reset and
 * injectable faults), for tests of operations and of conformance suites.
 */
export * from './memory-transport.js';
