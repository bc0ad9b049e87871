/**
 * Entry of `dsv` (bundled as bundle/dsv.js): the runtime's dsv command, with this app's own Docker CLI
 * plugin launchers for `dsv docker-plugin install` (bin/docker-cli-plugin-*.js, which run the runtime's
 * plugin job from this app's bundle: no other app is needed).
 */
import { fileURLToPath } from 'node:url';
// The entry's own subpath, not the package index: see @dsv/runtime's src/index.ts.
import { dsvMain as runDsv, processIo, type CliIo, type PluginLaunchers } from '@dsv/runtime/dsv';

export const pluginLaunchers: PluginLaunchers = {
  sign: fileURLToPath(new URL('../bin/docker-cli-plugin-sign.js', import.meta.url)),
  verify: fileURLToPath(new URL('../bin/docker-cli-plugin-verify.js', import.meta.url)),
};

export function dsvMain(args: string[], io: CliIo = processIo()): Promise<number> {
  return runDsv(args, io, { pluginLaunchers });
}
