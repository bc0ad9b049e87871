// ImageReference.digest on docker://: the digest a reference names, or undefined.
import { describe, expect, it } from 'vitest';
import { dockerTransport } from './transport.js';

const D = 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const D512 = `sha512:${'b'.repeat(128)}`;

describe('docker: ImageReference.digest', () => {
  it('is the digest after @, with or without a tag', () => {
    expect(dockerTransport.parseReference(`//registry.example:5000/team/app@${D}`).digest).toBe(D);
    expect(dockerTransport.parseReference(`//registry.example:5000/team/app:v1@${D}`).digest).toBe(D);
    expect(dockerTransport.parseReference(`//localhost:5000/app@${D512}`).digest).toBe(D512);
  });
  it('is undefined for a tagged or bare name', () => {
    expect(dockerTransport.parseReference('//registry.example:5000/team/app:v1').digest).toBeUndefined();
    expect(dockerTransport.parseReference('//localhost:5000/app').digest).toBeUndefined();
  });
});
