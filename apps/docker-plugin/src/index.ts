/**
 * @dsv/docker-plugin: `docker sign` / `docker verify` as Docker CLI plugins. The plugin job is
 * @dsv/runtime's; this package holds the launchers (bin/) and installs them.
 */
import { fileURLToPath } from 'node:url';
import { installPlugins as install, uninstallPlugins, type InstallOptions, type PluginLaunchers } from '@dsv/runtime';

export { main } from './main.js';
export { uninstallPlugins };

/** This package's launchers. */
export const pluginLaunchers: PluginLaunchers = {
  sign: fileURLToPath(new URL('../bin/docker-sign.js', import.meta.url)),
  verify: fileURLToPath(new URL('../bin/docker-verify.js', import.meta.url)),
};

/** Installs this package's launchers as `docker-sign` / `docker-verify` in a Docker CLI plugin directory. */
export function installPlugins(options: Omit<InstallOptions, 'launchers'> = {}): string[] {
  return install({ ...options, launchers: pluginLaunchers });
}
