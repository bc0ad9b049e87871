export { pluginMetadata, PLUGIN_NAMES, type PluginName } from './metadata.js';
export { splitPluginArgs, resolveDockerEndpoint, dockerConfigDir, type DockerGlobals, type DockerEndpoint } from './docker-context.js';
export { installPlugins, uninstallPlugins, defaultPluginDir, type InstallOptions } from './install.js';
