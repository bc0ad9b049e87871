import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from './digest.js';
import { isDsvError, type ErrorCode } from './errors.js';
import {
  isImageManifestMediaType,
  isIndexMediaType,
  layerCompression,
  matchesPlatform,
  parseDescriptor,
  parseManifest,
  platformString,
  replaceConfig,
  replaceManifests,
  type ImageIndex,
  type ImageManifest,
} from './manifest.js';
import { Limits, MediaTypes, type Descriptor } from './model.js';

// Vectors from crashvb/docker-sign-verify (Apache-2.0, tests/data); see fixtures/docker-sign-verify/README.md.
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/docker-sign-verify/${name}`, import.meta.url)));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const D1 = `sha256:${'1'.repeat(64)}` as Digest;
const D2 = `sha256:${'2'.repeat(64)}` as Digest;
const D3 = `sha256:${'3'.repeat(64)}` as Digest;

function expectCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  try {
    fn();
    expect.unreachable(`expected ${code}`);
  } catch (e) {
    expect(isDsvError(e, code), String(e)).toBe(true);
    if (message) expect((e as Error).message).toMatch(message);
  }
}

const ociManifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaTypes.OciManifest,
  config: { mediaType: MediaTypes.OciConfig, digest: D1, size: 10 },
  layers: [{ mediaType: MediaTypes.OciLayerGzip, digest: D2, size: 20 }],
  ...extra,
});
const ociIndex = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaTypes.OciIndex,
  manifests: [
    { mediaType: MediaTypes.OciManifest, digest: D1, size: 10, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MediaTypes.OciManifest, digest: D2, size: 20, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ],
  ...extra,
});
const bytesOf = (v: unknown, indent?: number) => enc(JSON.stringify(v, null, indent));

describe('parseManifest', () => {
  it('parses the Docker v2 schema 2 fixture and keeps its exact bytes', () => {
    const bytes = fixture('manifest.json');
    const m = parseManifest(bytes) as ImageManifest;
    expect(m.kind).toBe('manifest');
    expect(m.mediaType).toBe(MediaTypes.DockerManifest);
    expect(m.digest).toBe(digestOf(bytes));
    expect(m.bytes).toBe(bytes);
    expect(m.config).toEqual({
      mediaType: MediaTypes.DockerConfig,
      size: 1642,
      digest: readFileSync(new URL('../fixtures/docker-sign-verify/config.json.digest', import.meta.url), 'utf8').trim(),
    });
    expect(m.layers.map((l) => l.size)).toEqual([72928265, 700]);
  });

  it('parses the Docker manifest list fixture', () => {
    const idx = parseManifest(fixture('manifest_list.json')) as ImageIndex;
    expect(idx.kind).toBe('index');
    expect(idx.mediaType).toBe(MediaTypes.DockerManifestList);
    expect(idx.manifests.map((d) => platformString(d.platform))).toEqual(['linux/ppc64le', 'linux/amd64']);
    expect(idx.manifests[1]!.platform!.features).toEqual(['sse4']);
  });

  it('takes the media type from the document, else the Content-Type, else infers it', () => {
    const noField = { ...ociManifest(), mediaType: undefined };
    expect(parseManifest(bytesOf(noField), `${MediaTypes.DockerManifest}; charset=utf-8`).mediaType).toBe(MediaTypes.DockerManifest);
    expect(parseManifest(bytesOf(noField)).mediaType).toBe(MediaTypes.OciManifest);
    expect(parseManifest(bytesOf(noField), 'application/json').mediaType).toBe(MediaTypes.OciManifest);
    expect(parseManifest(bytesOf({ ...ociIndex(), mediaType: undefined })).mediaType).toBe(MediaTypes.OciIndex);
    // the document's field wins over a same-family Content-Type
    expect(parseManifest(bytesOf(ociManifest()), MediaTypes.DockerManifest).mediaType).toBe(MediaTypes.OciManifest);
    expect(parseManifest(bytesOf(ociManifest()), 'application/vnd.example+json').mediaType).toBe(MediaTypes.OciManifest);
  });

  it('rejects ambiguous and contradictory documents', () => {
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), manifests: [] })), 'ManifestInvalid', /ambiguous/);
    expectCode(() => parseManifest(bytesOf({ ...ociIndex(), layers: [] })), 'ManifestInvalid', /ambiguous/);
    expectCode(() => parseManifest(bytesOf(ociManifest()), MediaTypes.OciIndex), 'ManifestInvalid', /contradicts/);
    expectCode(() => parseManifest(bytesOf(ociIndex()), MediaTypes.DockerManifest), 'ManifestInvalid', /contradicts/);
    expectCode(() => parseManifest(bytesOf({ ...ociIndex(), mediaType: MediaTypes.OciManifest })), 'ManifestInvalid', /"manifests"/);
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), mediaType: MediaTypes.OciIndex })), 'ManifestInvalid', /"config"/);
    expectCode(
      () => parseManifest(bytesOf({ ...ociManifest(), mediaType: undefined }), MediaTypes.OciIndex),
      'ManifestInvalid',
      /index type/,
    );
    expectCode(() => parseManifest(bytesOf({ ...ociIndex(), manifests: undefined })), 'ManifestInvalid', /manifests/);
  });

  it('rejects documents whose type cannot be told', () => {
    expectCode(() => parseManifest(bytesOf({ schemaVersion: 2 })), 'ManifestInvalid', /cannot tell/);
    expectCode(() => parseManifest(bytesOf({ schemaVersion: 2, layers: [] })), 'ManifestInvalid', /cannot tell/);
    expectCode(() => parseManifest(bytesOf({ schemaVersion: 2 }), 'application/vnd.example+json'), 'Unsupported', /unsupported manifest media type/);
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), mediaType: 'application/vnd.oci.artifact.manifest.v1+json' })), 'Unsupported');
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), mediaType: 5 })), 'ManifestInvalid', /mediaType/);
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), schemaVersion: 3 })), 'ManifestInvalid', /schemaVersion/);
    expectCode(() => parseManifest(bytesOf({ ...ociManifest(), schemaVersion: undefined })), 'ManifestInvalid', /schemaVersion/);
  });

  it('refuses Docker schema 1 with a hint', () => {
    const v1 = { schemaVersion: 1, name: 'x', tag: 'latest', architecture: 'amd64', fsLayers: [{ blobSum: D1 }], history: [] };
    expectCode(() => parseManifest(bytesOf(v1)), 'Unsupported', /schema 1 manifests are not supported; convert with/);
    expectCode(() => parseManifest(bytesOf(v1), MediaTypes.DockerManifestV1Signed), 'Unsupported', /schema 1/);
    expectCode(() => parseManifest(bytesOf(ociManifest()), MediaTypes.DockerManifestV1), 'Unsupported', /schema 1/);
  });

  it('rejects invalid JSON, non-objects and bad UTF-8', () => {
    expectCode(() => parseManifest(enc('{"schemaVersion":2,')), 'ManifestInvalid', /not valid JSON/);
    expectCode(() => parseManifest(enc('[]')), 'ManifestInvalid', /JSON object/);
    expectCode(() => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d])), 'ManifestInvalid', /UTF-8/);
  });

  it('checks the size limit before parsing', () => {
    const big = new Uint8Array(Limits.manifestBytes + 1).fill(0x20); // whitespace: would parse slowly, never parsed
    big[0] = 0x7b;
    expectCode(() => parseManifest(big), 'LimitExceeded', /limit/);
  });

  it('validates descriptors (digest, size, media type)', () => {
    const withConfig = (config: Record<string, unknown>) => bytesOf(ociManifest({ config }));
    const good = { mediaType: MediaTypes.OciConfig, digest: D1, size: 10 };
    for (const [patch, why] of [
      [{ size: -1 }, /size/],
      [{ size: 1.5 }, /size/],
      [{ size: '10' }, /size/],
      [{ size: 2 ** 53 }, /size/],
      [{ size: undefined }, /size/],
      [{ digest: `sha256:${'A'.repeat(64)}` }, /lower-case hex/],
      [{ digest: 'sha256:abc' }, /64 hex/],
      [{ digest: `md5:${'a'.repeat(32)}` }, /unsupported algorithm/],
      [{ digest: 'sha256:../../x' }, /invalid digest/],
      [{ digest: 7 }, /digest/],
      [{ mediaType: undefined }, /mediaType/],
      [{ urls: 'http://x' }, /urls/],
      [{ annotations: { a: 1 } }, /annotations/],
    ] as [Record<string, unknown>, RegExp][]) {
      expectCode(() => parseManifest(withConfig({ ...good, ...patch })), 'ManifestInvalid', why);
    }
    expectCode(() => parseManifest(bytesOf(ociManifest({ layers: [null] }))), 'ManifestInvalid', /layers\[0\]/);
    expectCode(() => parseManifest(bytesOf(ociManifest({ layers: {} }))), 'ManifestInvalid', /layers/);
    expectCode(() => parseManifest(bytesOf(ociManifest({ config: undefined }))), 'ManifestInvalid', /cannot tell|config/);
    expectCode(() => parseManifest(bytesOf(ociIndex({ manifests: [{ ...good, platform: { os: 'linux' } }] }))), 'ManifestInvalid', /architecture/);
    expectCode(() => parseManifest(bytesOf(ociManifest({ annotations: [] }))), 'ManifestInvalid', /annotations/);
  });

  it('keeps optional descriptor fields, subject and annotations', () => {
    const m = parseManifest(
      bytesOf(
        ociManifest({
          annotations: { 'org.opencontainers.image.title': 't' },
          subject: { mediaType: MediaTypes.OciManifest, digest: D3, size: 3 },
          layers: [{ mediaType: MediaTypes.OciLayerGzip, digest: D2, size: 0, urls: ['https://x/y'], annotations: { k: 'v' } }],
        }),
      ),
    ) as ImageManifest;
    expect(m.annotations).toEqual({ 'org.opencontainers.image.title': 't' });
    expect(m.subject?.digest).toBe(D3);
    expect(m.layers[0]).toEqual({ mediaType: MediaTypes.OciLayerGzip, digest: D2, size: 0, urls: ['https://x/y'], annotations: { k: 'v' } });
    expect(parseDescriptor({ mediaType: 'x', digest: D1, size: 0, artifactType: 'a' }, 'd')).toEqual({ mediaType: 'x', digest: D1, size: 0, artifactType: 'a' });
  });
});

describe('media types', () => {
  it('classifies manifests and layers', () => {
    expect(isIndexMediaType(MediaTypes.DockerManifestList)).toBe(true);
    expect(isIndexMediaType(MediaTypes.OciIndex)).toBe(true);
    expect(isIndexMediaType(MediaTypes.OciManifest)).toBe(false);
    expect(isImageManifestMediaType(`${MediaTypes.DockerManifest}; charset=utf-8`)).toBe(true);
    expect(isImageManifestMediaType(MediaTypes.DockerManifestV1)).toBe(false);
    expect(layerCompression(MediaTypes.DockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaTypes.OciLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaTypes.OciLayerTar)).toBe('none');
    expect(layerCompression(MediaTypes.DockerLayerForeignGzip)).toBe('gzip');
    expectCode(() => layerCompression('application/vnd.in-toto+json'), 'Unsupported', /in-toto/);
  });
});

describe('replaceConfig', () => {
  it('changes only the config descriptor, keeping the formatting of the fixture', () => {
    const m = parseManifest(fixture('manifest.json')) as ImageManifest;
    const text = dec(m.bytes);
    const out = replaceConfig(m, { ...m.config, digest: D3, size: 2724 });
    const expected = text.replace(m.config.digest, D3).replace('"size": 1642', '"size": 2724');
    expect(dec(out)).toBe(expected);
    const again = parseManifest(out) as ImageManifest;
    expect(again.config).toEqual({ ...m.config, digest: D3, size: 2724 });
    expect(again.layers).toEqual(m.layers);
  });

  it('re-serialises with the detected indentation when fields are added', () => {
    const m = parseManifest(bytesOf(ociManifest({ annotations: { a: 'b' } }), 3)) as ImageManifest;
    const out = replaceConfig(m, { ...m.config, digest: D3, annotations: { x: 'y' } });
    expect(dec(out)).toBe(JSON.stringify({ ...ociManifest({ annotations: { a: 'b' } }), config: { ...m.config, digest: D3, annotations: { x: 'y' } } }, null, 3));
    const compact = parseManifest(bytesOf(ociManifest())) as ImageManifest;
    const out2 = replaceConfig(compact, { mediaType: MediaTypes.OciConfig, digest: D3, size: 1, annotations: { x: 'y' } });
    expect(dec(out2)).not.toContain('\n');
    expect((parseManifest(out2) as ImageManifest).config.annotations).toEqual({ x: 'y' });
  });

  it('keeps unknown fields and key order', () => {
    const text = '{"schemaVersion":2,"zzz":{"keep":[1.0,2]},"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' + D1 + '","size":10},"layers":[]}';
    const m = parseManifest(enc(text)) as ImageManifest;
    expect(dec(replaceConfig(m, { ...m.config, digest: D2 }))).toBe(text.replace(D1, D2));
  });

  it('refuses an invalid new descriptor', () => {
    const m = parseManifest(bytesOf(ociManifest())) as ImageManifest;
    expectCode(() => replaceConfig(m, { ...m.config, digest: 'sha256:../../x' as Digest }), 'ManifestInvalid', /digest/);
    expectCode(() => replaceConfig(m, { ...m.config, size: -1 }), 'ManifestInvalid', /size/);
  });
});

describe('replaceManifests', () => {
  it('replaces children by digest, keeping everything else', () => {
    const bytes = fixture('manifest_list.json');
    const idx = parseManifest(bytes) as ImageIndex;
    const old = idx.manifests[1]!;
    const out = replaceManifests(idx, new Map([[old.digest, { ...old, digest: D3, size: 99 } as Descriptor]]));
    expect(dec(out)).toBe(dec(bytes).replace(old.digest, D3).replace('"size": 7682', '"size": 99'));
    const again = parseManifest(out) as ImageIndex;
    expect(again.manifests[0]).toEqual(idx.manifests[0]);
    expect(again.manifests[1]).toEqual({ ...old, digest: D3, size: 99 });
  });

  it('falls back to re-serialising when a child gains fields', () => {
    const idx = parseManifest(bytesOf(ociIndex({ annotations: { a: 'b' } }), 2)) as ImageIndex;
    const repl: Descriptor = { ...idx.manifests[0]!, digest: D3, annotations: { signed: 'yes' } };
    const out = replaceManifests(idx, new Map([[D1, repl]]));
    expect(dec(out)).toBe(JSON.stringify({ ...ociIndex({ annotations: { a: 'b' } }), manifests: [repl, ociIndex().manifests[1]] }, null, 2));
  });

  it('fails when a digest to replace is not a child', () => {
    const idx = parseManifest(bytesOf(ociIndex())) as ImageIndex;
    expectCode(() => replaceManifests(idx, new Map([[D3, idx.manifests[0]!]])), 'NotFound', /no child manifest/);
  });
});

describe('platforms', () => {
  const d = (os: string, architecture: string, variant?: string): Descriptor => ({
    mediaType: MediaTypes.OciManifest,
    digest: D1,
    size: 1,
    platform: variant ? { os, architecture, variant } : { os, architecture },
  });

  it('formats platforms', () => {
    expect(platformString({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
    expect(platformString({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(platformString(undefined)).toBe('unknown');
  });

  it('matches os/arch[/variant] with the usual aliases', () => {
    expect(matchesPlatform(d('linux', 'amd64'), 'linux/amd64')).toBe(true);
    expect(matchesPlatform(d('linux', 'amd64'), 'linux/x86_64')).toBe(true);
    expect(matchesPlatform(d('linux', 'amd64'), 'linux/arm64')).toBe(false);
    expect(matchesPlatform(d('windows', 'amd64'), 'linux/amd64')).toBe(false);
    expect(matchesPlatform(d('linux', 'arm', 'v7'), 'linux/arm/v7')).toBe(true);
    expect(matchesPlatform(d('linux', 'arm', 'v7'), 'linux/arm')).toBe(true);
    expect(matchesPlatform(d('linux', 'arm', 'v6'), 'linux/arm/v7')).toBe(false);
    expect(matchesPlatform(d('linux', 'arm64', 'v8'), 'linux/arm64')).toBe(true);
    expect(matchesPlatform(d('linux', 'arm64'), 'linux/arm64/v8')).toBe(true);
    expect(matchesPlatform(d('linux', 'arm64'), 'linux/aarch64')).toBe(true);
    expect(matchesPlatform({ mediaType: 'x', digest: D1, size: 1 }, 'linux/amd64')).toBe(false);
    expectCode(() => matchesPlatform(d('linux', 'amd64'), 'amd64'), 'Usage', /os\/arch/);
    expectCode(() => matchesPlatform(d('linux', 'amd64'), 'linux//'), 'Usage');
  });
});

import { isPlatformString } from './manifest.js';
describe('isPlatformString', () => {
  it('accepts os/arch[/variant] only', () => {
    for (const ok of ['linux/amd64', 'linux/arm/v7', 'windows/amd64', 'linux/arm64/v8']) expect(isPlatformString(ok)).toBe(true);
    for (const bad of ['linux', 'linux/', '/amd64', 'linux/arm/v7/x', 'linux amd64', '']) expect(isPlatformString(bad)).toBe(false);
  });
});
