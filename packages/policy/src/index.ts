/** @dsv/policy: containers-policy.json semantics (plus dsvSigned) over signature facts from format plug-ins. */
export type * from './model.js';
export { parsePolicy, POLICY_INVALID } from './parse.js';
export { loadPolicyFile } from './load.js';
export { evaluatePolicy, formatVerdict, manifestDigestMatches, requirementsFor, type EvaluateOptions } from './engine.js';
export { matchIdentity, validateIdentityMatcher } from './identity.js';
export { dockerNamespaces, scopesFor, validateScope, POLICY_TRANSPORTS } from './scopes.js';
