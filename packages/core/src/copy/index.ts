/** The copy pipeline and the read-only operations: what core exports from this folder. */
export { copyImage, type CopyOptions, type CopyResult, type CopiedImage } from './copy.js';
export {
  verifyImage,
  inspectImage,
  type SignatureReport,
  type ImageVerification,
  type VerifyResult,
  type VerifyFunction,
  type VerifyOptions,
  type SignatureInfo,
  type InspectedImage,
  type InspectResult,
} from './verify.js';
