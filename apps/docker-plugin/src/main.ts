/** Entry of the `docker-sign` / `docker-verify` Docker CLI plugins (bundled as bundle/main.js). */
export { dockerPluginMain as main } from '@dsv/runtime/docker-plugin';
