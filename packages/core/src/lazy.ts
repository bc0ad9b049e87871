/**
 * `load` run once and its promise shared by every caller; a failed load is forgotten, so the next call
 * tries again. For modules a package imports on first use (the signers' crypto code).
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    }));
}
