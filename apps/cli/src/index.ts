/**
 * @dsv/cli: the command lines `dsv`, `docker-sign` and `docker-verify` (and the Docker CLI plugins that
 * `dsv docker-plugin install` installs). Everything they do is @dsv/runtime's; this package holds the
 * entry points and the bin/ launchers.
 */
export { dsvMain, pluginLaunchers } from './dsv.js';
export { dockerSignMain, dockerVerifyMain } from './legacy.js';
export { dockerPluginMain } from './plugin.js';
