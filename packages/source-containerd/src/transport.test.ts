// The garbage-collection labels written on manifests and indexes, and the protobuf definitions' shape.
import { describe, expect, it } from 'vitest';
import { MediaTypes } from '@dsv/core';
import { gcRefLabels } from './transport.js';
import { messageType } from './proto.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('gcRefLabels', () => {
  it('points a manifest at its config and layers', () => {
    const m = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: d('c'), size: 2 },
      layers: [
        { mediaType: MediaTypes.OciLayerGzip, digest: d('1'), size: 3 },
        { mediaType: MediaTypes.OciLayerGzip, digest: d('2'), size: 4 },
      ],
    };
    expect(gcRefLabels(Buffer.from(JSON.stringify(m)), MediaTypes.OciManifest)).toEqual({
      'containerd.io/gc.ref.content.config': d('c'),
      'containerd.io/gc.ref.content.l.0': d('1'),
      'containerd.io/gc.ref.content.l.1': d('2'),
    });
  });

  it('points an index at its manifests', () => {
    const i = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciIndex,
      manifests: [
        { mediaType: MediaTypes.OciManifest, digest: d('a'), size: 5, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MediaTypes.OciManifest, digest: d('b'), size: 6, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    };
    expect(gcRefLabels(Buffer.from(JSON.stringify(i)), MediaTypes.OciIndex)).toEqual({
      'containerd.io/gc.ref.content.m.0': d('a'),
      'containerd.io/gc.ref.content.m.1': d('b'),
    });
  });
});

describe('the protobuf definitions', () => {
  it('encode with containerd field numbers', () => {
    const t = messageType('containerd.services.content.v1.WriteContentRequest');
    const bytes = t.encode(t.fromObject({ action: 'COMMIT', ref: 'r', total: 5, expected: d('e'), offset: 5 })).finish();
    // field 1 varint 2 (COMMIT), field 2 "r", field 3 varint 5, field 4 the digest, field 5 varint 5.
    expect(Buffer.from(bytes.subarray(0, 7)).toString('hex')).toBe('0802' + '12' + '01' + '72' + '1805');
    const img = messageType('containerd.services.images.v1.Image');
    const enc = img.encode(img.fromObject({ name: 'n', target: { media_type: 'm', digest: 'd', size: 1 } })).finish();
    expect(Buffer.from(enc).toString('hex')).toBe('0a016e' + '1a' + '08' + '0a016d' + '120164' + '1801');
  });
});
