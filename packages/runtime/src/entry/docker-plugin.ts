/** `@dsv/runtime/docker-plugin`: the Docker CLI plugin entry point's job alone (see ../index.ts for why apps import it here). */
export { main as dockerPluginMain } from '../docker-plugin/main.js';
