/** @dsv/signature-simple: containers-signature ("simple signing") payloads, OpenPGP signing/verification, registries.d, lookaside stores, the signature extension API. */
export { createPayload, parsePayload, SIGNATURE_TYPE, type SimpleSigningPayload } from './payload.js';
export { describeSimpleSignature, keyFileSigner, readPublicKeys, verifySimpleSignature, type PayloadSigner, type SimpleVerification } from './openpgp.js';
export { createSimpleSignature, payloadMatchesManifest, type CreateSignatureOptions } from './signature.js';
export { loadRegistriesD, lookasideBase, parseRegistriesDFile, useSigstoreAttachments, type LookasideNamespace, type RegistriesD } from './registries-d.js';
export { addLookasideSignature, lookasideSignatureUrl, readLookasideSignatures, writeLookasideSignatures } from './lookaside.js';
export { getExtensionSignatures, putExtensionSignature, putExtensionSignatures, type ExtensionTarget } from './extension-api.js';
export { lookasideSource, simpleSigningFormat, type SimpleFact, type SimpleImage, type SimpleSignatureSource, type SimpleSigningFormat } from './format.js';
export type { RequestFunction } from './http.js';
export { MAX_SIGNATURES, MAX_SIGNATURE_BYTES, MAX_SIGNATURE_LIST_BYTES } from './limits.js';
