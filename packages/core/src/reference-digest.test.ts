// ImageReference.digest on the memory transport: the digest a reference names, or undefined.
import { describe, expect, it } from 'vitest';
import { memoryTransport } from './memory-transport.js';

const D = 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

describe('memory: ImageReference.digest', () => {
  it('is the digest after @', () => {
    const ref = memoryTransport.parseReference(`team/app@${D}`);
    expect(ref.digest).toBe(D);
    expect(ref.within).toBe(`team/app@${D}`);
  });
  it('is undefined for a tagged or bare name', () => {
    expect(memoryTransport.parseReference('team/app:v1').digest).toBeUndefined();
    expect(memoryTransport.parseReference('team/app').digest).toBeUndefined();
  });
});
