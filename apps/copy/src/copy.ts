/** Entry of `dsv-copy` (bundled as bundle/copy.js): the runtime's copy job (also `dsv copy`). */
export { copyMain } from '@dsv/runtime/copy';
