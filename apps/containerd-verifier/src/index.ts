/** @dsv/containerd-verifier: containerd 2's image verifier executable; the job itself is @dsv/runtime's. */
export { containerdVerifierMain } from './containerd-verifier.js';
