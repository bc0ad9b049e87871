/** Limits on what a reader accepts from a lookaside store or a registry (a hostile store must not exhaust memory). */

/** At most this many signatures are read for one image; more is an error, not a silent cut. */
export const MAX_SIGNATURES = 128;
/** One signature may be at most 4 MiB. */
export const MAX_SIGNATURE_BYTES = 4 * 1024 * 1024;
/** A signature-extension list body may be at most 16 MiB (base64 of several large signatures plus JSON). */
export const MAX_SIGNATURE_LIST_BYTES = 16 * 1024 * 1024;
