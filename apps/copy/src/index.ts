/** @dsv/copy: the `dsv-copy` command line; the copy job itself is @dsv/runtime's (also run as `dsv copy`). */
export { copyMain } from './copy.js';
