/** The Docker CLI plugin job (`docker sign`, `docker verify`) and `dsv docker-plugin install|uninstall`. */
export { pluginMetadata, PLUGIN_NAMES, type PluginName } from './metadata.js';
export { splitPluginArgs, resolveDockerEndpoint, engineEndpoint, dockerConfigDir, type DockerGlobals, type DockerCliEndpoint } from './docker-context.js';
export { installPlugins, uninstallPlugins, defaultPluginDir, type InstallOptions, type PluginLaunchers } from './install.js';
export { main as dockerPluginMain, watchPluginSocket, type MainIo } from './main.js';
export { dockerPluginCommand, DOCKER_PLUGIN_HELP, type PluginCommandIo } from './docker-plugin-command.js';
export { parseArgs, formatHelp, formatUsageError, type CommandSpec, type OptionSpec, type ParsedArgs } from './args.js';
export { SIGN_SPEC, VERIFY_SPEC } from './specs.js';
