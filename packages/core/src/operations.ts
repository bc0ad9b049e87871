/**
 * Generic image operations the apps call (copy with signing, verify, inspect); they live in ./copy/, by
 * stage. Kept so the package's index and existing imports stay as they are.
 */
export * from './copy/index.js';
