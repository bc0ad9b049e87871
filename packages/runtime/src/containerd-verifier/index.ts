/** dsv-containerd-verifier: containerd 2's image verifier protocol, judging pulls by a dsv policy. */
export { containerdVerifierMain, VERIFIER_PROG, type ContainerdVerifierOptions, type ImageJudge, type VerifierJudgement } from './main.js';
export {
  CONTAINERD_OUTPUT_LIMIT,
  DESCRIPTOR_MEDIA_TYPE,
  judgedReference,
  parseDescriptor,
  parseVerifierArgs,
  reasonLine,
  verifierRequest,
  type ImageDescriptor,
  type VerifierArgs,
  type VerifierRequest,
} from './protocol.js';
