/**
 * `@dsv/core/operations`: the generic image operations the apps call (copy with signing, verify,
 * inspect; they live in ./copy/, by stage), the streaming integrity engine, and the derived helpers
 * that read and resolve an image from an ImageSource; V8's gc() for code that frees dead buffers at known points.
 */
export * from './copy/index.js';
export * from './integrity.js';
export * from './image.js';
export { exposedGc, type V8Gc } from './v8-gc.js';
