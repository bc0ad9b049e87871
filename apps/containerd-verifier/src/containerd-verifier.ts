/** Entry of `dsv-containerd-verifier` (bundled as bundle/containerd-verifier.js): the runtime's verifier job. */
export { containerdVerifierMain } from '@dsv/runtime/containerd-verifier';
