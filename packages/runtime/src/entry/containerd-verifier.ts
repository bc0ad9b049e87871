/** `@dsv/runtime/containerd-verifier`: the containerd image verifier entry point's job alone (see ../index.ts for why apps import it here). */
export { containerdVerifierMain } from '../containerd-verifier/main.js';
