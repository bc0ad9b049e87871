export { pluginMetadata, PLUGIN_NAMES, type PluginName } from './metadata.js';
export { splitPluginArgs, resolveDockerEndpoint, dockerConfigDir, type DockerGlobals, type DockerEndpoint } from './docker-context.js';
export { installPlugins, uninstallPlugins, defaultPluginDir, type InstallOptions } from './install.js';
export { main, type MainIo } from './main.js';
export { dockerPluginCommand, DOCKER_PLUGIN_HELP, type PluginCommandIo } from './docker-plugin-command.js';
export { parseArgs, formatHelp, formatUsageError, type CommandSpec, type OptionSpec, type ParsedArgs } from './args.js';
export { SIGN_SPEC, VERIFY_SPEC } from './specs.js';
export { buildPluginEnv, type PluginEnv } from './plugin-env.js';
export { daemonInfo, type DaemonInfo } from './engine.js';
