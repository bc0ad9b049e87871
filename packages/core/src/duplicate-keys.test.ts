// Duplicate JSON keys are refused in manifests, indexes, configs and the signatures label (hostile input).
import { describe, expect, it } from 'vitest';
import { ImageConfig } from './config.js';
import { parseManifest } from './manifest.js';
import { readSignatures } from './signatures.js';

const enc = (s: string) => Buffer.from(s, 'utf8');
const D = (c: string) => `sha256:${c.repeat(64)}`;

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('duplicate keys', () => {
  it('a config with a shadowing Cmd is ConfigInvalid, not read either way', () => {
    const text = `{"architecture":"amd64","os":"linux","config":{"Cmd":["/evil"],"Env":[],"Cmd":["/app"]},"rootfs":{"type":"layers","diff_ids":[]}}`;
    expect(() => ImageConfig.parse(enc(text))).toThrow(/image configuration is not valid JSON: duplicate key "Cmd"/);
    expect(codeOf(() => ImageConfig.parse(enc(text)))).toBe('ConfigInvalid');
  });

  it('a manifest or index naming a member twice is ManifestInvalid', () => {
    const cfg = `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${D('a')}","size":2}`;
    const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":${cfg},"layers":[],"config":${cfg.replace('"size":2', '"size":3')}}`;
    expect(codeOf(() => parseManifest(enc(manifest)))).toBe('ManifestInvalid');
    const index = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D('b')}","digest":"${D('c')}","size":1}]}`;
    expect(codeOf(() => parseManifest(enc(index)))).toBe('ManifestInvalid');
  });

  it('a signatures label entry naming a member twice is ConfigInvalid', () => {
    const label = JSON.stringify('[{"signature":"x","digest":"' + D('a') + '","signature":"y","type":"signed"}]');
    const text = `{"architecture":"amd64","os":"linux","config":{"Labels":{"signatures":${label}}},"rootfs":{"type":"layers","diff_ids":[]}}`;
    const config = ImageConfig.parse(enc(text));
    expect(codeOf(() => readSignatures(config))).toBe('ConfigInvalid');
  });
});
