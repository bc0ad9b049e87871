/** Copying one image between two references: both ends opened, core's copyImage, both closed whatever happens. */
import { copyImage, type CopyOptions, type CopyResult } from '@dsv/core/operations';
import type { ImageReference, ImageSource, SystemContext } from '@dsv/core/transport';

export interface CopyBetweenOptions {
  /** The destination's SystemContext where its credentials differ from the source's (dsv copy's --dest-*). */
  destinationSystem?: SystemContext;
  /**
   * Runs on the open source before the destination is opened (to read what the caller needs from it); what it
   * returns joins the copy's options (`top`: the manifest it read, not read again).
   */
  first?: (source: ImageSource) => Promise<Partial<CopyOptions> | void>;
}

/** Copies from a source already open into `to`, opened here and closed after the copy, whether it succeeds or not. */
export async function copyInto(source: ImageSource, to: ImageReference, system: SystemContext, options: CopyOptions): Promise<CopyResult> {
  const destination = await to.newDestination(system);
  try {
    return await copyImage(source, destination, options);
  } finally {
    await destination.close();
  }
}

/** Copies `from` into `to`: the source opened first and closed last, the destination closed before it. */
export async function copyBetween(from: ImageReference, to: ImageReference, system: SystemContext, options: CopyOptions, how: CopyBetweenOptions = {}): Promise<CopyResult> {
  const source = await from.newSource(system);
  try {
    const more = how.first ? await how.first(source) : undefined;
    return await copyInto(source, to, how.destinationSystem ?? system, more ? { ...options, ...more } : options);
  } finally {
    await source.close();
  }
}
