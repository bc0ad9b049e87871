// ImageReference.digest on the archive transports: they name images by tag, ref name or index, never by
// digest, so it is always undefined.
import { describe, expect, it } from 'vitest';
import { dockerArchiveTransport, ociArchiveTransport, ociTransport } from './index.js';

describe('archive transports: ImageReference.digest', () => {
  it('is undefined for docker-archive: names and indexes', () => {
    expect(dockerArchiveTransport.parseReference('/tmp/a.tar:app:1').digest).toBeUndefined();
    expect(dockerArchiveTransport.parseReference('/tmp/a.tar:@0').digest).toBeUndefined();
    expect(dockerArchiveTransport.parseReference('/tmp/a.tar').digest).toBeUndefined();
  });
  it('is undefined for oci: and oci-archive: ref names', () => {
    expect(ociTransport.parseReference('/tmp/layout:v1').digest).toBeUndefined();
    expect(ociTransport.parseReference('/tmp/layout').digest).toBeUndefined();
    expect(ociArchiveTransport.parseReference('/tmp/l.tar:v1').digest).toBeUndefined();
  });
});
