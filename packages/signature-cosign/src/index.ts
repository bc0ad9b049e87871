/** @dsv/signature-cosign: cosign / sigstore signatures — `.sig` attachments, cosign key files, key, certificate and keyless verification. */
export {
  attachmentConfig, attachmentManifest, layerOf, parseAttachmentManifest, parseSerialisedAttachment, serialiseAttachment, signatureTag,
  BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, DOCKER_MANIFEST, MAX_ATTACHMENT_LAYERS, MAX_ATTACHMENT_MANIFEST_BYTES, MAX_LAYER_BYTES,
  OCI_CONFIG, OCI_MANIFEST, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
  type AttachmentLayer, type CosignAttachment,
} from './attachment.js';
export { createCosignPayload, parseCosignPayload, COSIGN_SIGNATURE_TYPE, type CosignPayload } from './payload.js';
export {
  decryptCosignKey, encodeCosignKeyPair, encryptCosignKey, generateKeyPair, readPrivateKey, readPublicKeys, writeKeyPair,
  COSIGN_PRIVATE_KEY_PEM, SIGSTORE_PRIVATE_KEY_PEM, type KeyAlgorithm,
} from './keys.js';
export { keyIdOf, signBytes, verifyBytes } from './crypto.js';
export { addCosignSignatures, readBlob, readCosignSignatures, tagStoreFor, type TagStore } from './store.js';
export { createCosignSignature, signImage, type CosignSignOptions } from './sign.js';
export {
  checkSigningCertificate, rekorTrust, requireIdentity, verifyCosignAttachment, type CosignTrust, type CosignVerification, type FulcioTrust, type PkiTrust,
} from './verify.js';
export { describeWindow, parseTrustedRoot, withinWindow, type SigstoreTrustedRoot, type TimeWindow, type TrustedAuthority, type TrustedLog } from './trusted-root.js';
export { checkRekorEntry, parseRekorBundle, rekorLogId, verifyRekorSet, type RekorBundle } from './rekor.js';
export {
  chainError, fullMatchPattern, fulcioIssuer, matchCertificateIdentity, readCertificates, subjectAltNames, type CertificateIdentityCheck,
} from './x509.js';
export {
  cosignFormat, referrersTagSource, tagSchemeSource, trustFor,
  type CosignBundleSource, type CosignFact, type CosignImage, type CosignSignatureFormat, type CosignSignatureSource, type SigstoreRequirementLike,
} from './format.js';
export {
  createImageBundle, dssePae, parseBundle, publicKeyHint, verifyImageBundle,
  BUNDLE_V03_MEDIA_TYPE, COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, type BundleVerification,
} from './bundle.js';
export {
  addBundleReferrer, bundleReferrerManifest, parseReferrersIndex, readBundleReferrers, referrersTag,
  OCI_EMPTY, OCI_INDEX, type ImageSubject, type ReferrerBundle,
} from './referrers.js';
