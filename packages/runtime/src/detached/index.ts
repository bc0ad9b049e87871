/** Detached signatures and policy for the commands: stores (registries.d, lookaside, extension API, cosign tags), formats, judgeImage. */
export { loadRegistries, registriesDirs, SYSTEM_REGISTRIES_D } from './registries.js';
export { detachedStores, subjectOf, type DetachedOptions, type DetachedStores, type SignedSubject } from './stores.js';
export { embeddedFormat, withKeysVerifier, type EmbeddedContext } from './embedded.js';
export { registrySubject, type FoundSubject, type RegistryOrigin } from './origin.js';
export { judgeImage, loadPolicy, policyFormats, unmetRequirements, type JudgeOptions, type Judgement, type LoadedPolicy } from './policy.js';
export { describeKeyless, firstKeylessFlag, keylessRequirement, signedIdentityMatcher, KEYLESS_FLAGS, type KeylessFlags } from './keyless.js';
