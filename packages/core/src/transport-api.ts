/**
 * `@dsv/core/transport`: what a transport implements and what drives one — the Transport,
 * ImageReference, ImageSource, ImageDestination and SystemContext types (./transport.ts), the
 * TransportRegistry and transport manifests, VerifiedBlob/verifiedFor (a blob already checked on the
 * way), and the cleanup of half-written output. (Named apart from ./transport.ts, which holds the types.)
 */
export type * from './transport.js';
export * from './transports.js';
export { VerifiedBlob, verifiedFor } from './digest.js';
export * from './cleanup.js';
export { readBounded } from './bounded-read.js';
