/** `@dsv/runtime/legacy`: the `docker-sign` / `docker-verify` entry points' jobs alone (see ../index.ts for why apps import them here). */
export { dockerSignMain, dockerVerifyMain } from '../legacy.js';
