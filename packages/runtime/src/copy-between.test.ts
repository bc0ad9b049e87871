// copyBetween / copyInto on core's memory transport: the image arrives, both ends are closed (also when the copy
// fails), the source opened first and closed last, and a manifest read by `first` is not read again.
import { beforeEach, describe, expect, it } from 'vitest';
import { readManifest } from '@dsv/core/operations';
import type { ImageDestination, ImageReference, ImageSource } from '@dsv/core/transport';
import { clearMemoryStore, memoryStoreFaults, memoryTransport } from '@dsv/core/testing';
import { buildSampleImageSync, writeMemoryImage } from '@dsv/conformance';
import { copyBetween, copyInto } from './copy-between.js';

/** A memory: reference whose source and destination log their opening, closing and top-manifest reads. */
function logged(within: string, log: string[], side: string): ImageReference {
  const ref = memoryTransport.parseReference(within);
  return Object.assign(Object.create(ref) as ImageReference, {
    async newSource(): Promise<ImageSource> {
      const s = await ref.newSource();
      log.push(`${side} open`);
      return Object.assign(Object.create(s) as ImageSource, {
        getManifest: (d?: Parameters<ImageSource['getManifest']>[0]) => {
          if (d === undefined) log.push(`${side} top manifest`);
          return s.getManifest(d);
        },
        close: async () => {
          log.push(`${side} close`);
          await s.close();
        },
      });
    },
    async newDestination(): Promise<ImageDestination> {
      const d = await ref.newDestination();
      log.push(`${side} open`);
      return Object.assign(Object.create(d) as ImageDestination, {
        close: async () => {
          log.push(`${side} close`);
          await d.close();
        },
      });
    },
  });
}

let configDigest: string;

beforeEach(async () => {
  clearMemoryStore();
  const image = buildSampleImageSync({ format: 'oci', compression: 'none', layers: [Buffer.alloc(1024, 3)] });
  configDigest = image.config.digest;
  await writeMemoryImage(image, 'from:1');
});

describe('copyBetween', () => {
  it('copies the image byte for byte; the source opens first and closes last', async () => {
    const log: string[] = [];
    const result = await copyBetween(logged('from:1', log, 'source'), logged('to:1', log, 'destination'), {}, {});
    expect(result.destinationDigest).toBe(result.sourceDigest);
    const copied = await readManifest(await memoryTransport.parseReference('to:1').newSource());
    expect(copied.digest).toBe(result.sourceDigest);
    expect(log).toEqual(['source open', 'destination open', 'source top manifest', 'destination close', 'source close']);
  });

  it('runs `first` on the open source before the destination opens; the top manifest it hands over is not read again', async () => {
    const log: string[] = [];
    let seen: string | undefined;
    const result = await copyBetween(logged('from:1', log, 'source'), logged('to:1', log, 'destination'), {}, {}, {
      first: async (source) => {
        const top = await readManifest(source);
        seen = top.digest;
        log.push('first');
        return { top };
      },
    });
    expect(seen).toBe(result.sourceDigest);
    expect(log).toEqual(['source open', 'source top manifest', 'first', 'destination open', 'destination close', 'source close']);
  });

  it('closes both ends when the copy fails', async () => {
    memoryStoreFaults.deleteBlob('from', configDigest);
    const log: string[] = [];
    await expect(copyBetween(logged('from:1', log, 'source'), logged('to:1', log, 'destination'), {}, {})).rejects.toThrow();
    expect(log.filter((l) => l.endsWith('close'))).toEqual(['destination close', 'source close']);
  });
});

describe('copyInto', () => {
  it('copies from a source the caller holds open, and leaves it open', async () => {
    const log: string[] = [];
    const source = await logged('from:1', log, 'source').newSource();
    try {
      const result = await copyInto(source, logged('to:1', log, 'destination'), {}, {});
      expect(result.destinationDigest).toBe(result.sourceDigest);
      expect(log).toEqual(['source open', 'destination open', 'source top manifest', 'destination close']);
    } finally {
      await source.close();
    }
  });
});
