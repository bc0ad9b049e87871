/** Entry of `docker-sign` and `docker-verify` (bundled as bundle/legacy.js): the runtime's legacy commands. */
export { dockerSignMain, dockerVerifyMain } from '@dsv/runtime/legacy';
