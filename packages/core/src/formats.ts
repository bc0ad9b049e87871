// `@dsv/core/formats`: the image formats — references, digests, manifests, configurations, canonical JSON,
// embedded signatures with the signer interfaces and registry, layer compression, and the typed errors.
export * from './errors.js';
export * from './digest.js';
export * from './model.js';
export {
  canonicalJson,
  pythonJsonDumps,
  pythonFloatRepr,
  compareCodePoints,
  JsonNumberLiteral,
  JsonSyntaxError,
  JsonDuplicateKeyError,
  parseJsonAst,
  parseJsonStrict,
  astToValue,
  astToLossless,
} from './canonical-json.js';
export type { JsonAst, JsonObjectAst, JsonArrayAst, JsonStringAst, JsonNumberAst, JsonLiteralAst, JsonMemberAst } from './canonical-json.js';
export * from './reference.js';
export * from './manifest.js';
export * from './config.js';
export * from './signatures.js';
export type * from './signer.js';
export * from './signer-registry.js';
export * from './lazy.js';
export * from './decompress.js';
export * from './layer-limits.js';
