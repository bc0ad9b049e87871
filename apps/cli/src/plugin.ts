/** Entry of the Docker CLI plugins `dsv docker-plugin install` puts in place (bundled as bundle/plugin.js). */
export { dockerPluginMain } from '@dsv/runtime/docker-plugin';
