/** `@dsv/runtime/dsv`: what the `dsv` entry point needs, and nothing the package index would drag into its start-up (see ../index.ts). */
export { dsvMain, type DsvOptions } from '../dsv.js';
export { processIo, type CliIo } from '../io.js';
export type { PluginLaunchers } from '../docker-plugin/install.js';
