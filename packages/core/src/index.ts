export * from './errors.js';
export * from './digest.js';
export * from './model.js';
export type * from './transport.js';
export type * from './signer.js';
export * from './plugins.js';
export * from './plugin-exec.js';
