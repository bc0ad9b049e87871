/** `@dsv/runtime/copy`: the `dsv-copy` entry point's job alone (see ../index.ts for why apps import it here). */
export { copyMain } from '../copy.js';
