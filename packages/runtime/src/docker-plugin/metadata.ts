/** The Docker CLI plugin metadata of `docker sign` / `docker verify`. */
import { VERSION } from '../version.js';

export const PLUGIN_NAMES = ['sign', 'verify'] as const;
export type PluginName = (typeof PLUGIN_NAMES)[number];


const DESCRIPTIONS: Record<PluginName, string> = {
  sign: 'Sign an image with an embedded dsv signature',
  verify: 'Verify an image\'s integrity and embedded dsv signatures',
};

/** The JSON answered to `docker-cli-plugin-metadata` (Docker CLI plugin protocol, SchemaVersion 0.1.0). */
export function pluginMetadata(name: PluginName): Record<string, string> {
  return {
    SchemaVersion: '0.1.0',
    Vendor: 'dsv',
    Version: VERSION,
    ShortDescription: DESCRIPTIONS[name],
    URL: 'https://www.npmjs.com/package/@dsv/docker-plugin',
  };
}
