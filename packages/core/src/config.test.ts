import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageConfig } from './config.js';
import { digestOf } from './digest.js';
import { isDsvError, type ErrorCode } from './errors.js';
import { Limits } from './model.js';

// Vectors from crashvb/docker-sign-verify (Apache-2.0, tests/data); see fixtures/docker-sign-verify/README.md.
const fixtureUrl = (name: string) => new URL(`../fixtures/docker-sign-verify/${name}`, import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(fixtureUrl(name)));
const fixtureText = (name: string) => readFileSync(fixtureUrl(name), 'utf8').trim();
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function expectCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  try {
    fn();
    expect.unreachable(`expected ${code}`);
  } catch (e) {
    expect(isDsvError(e, code), String(e)).toBe(true);
    if (message) expect((e as Error).message).toMatch(message);
  }
}

describe('ImageConfig with the docker-sign-verify vectors', () => {
  for (const [raw, canonical] of [
    ['config.json', 'config_canonical.json'],
    ['config_signed.json', 'config_signed_canonical.json'],
  ] as const) {
    it(`${raw}: digest of the exact bytes, canonical bytes and digest equal the original tool's`, () => {
      const config = ImageConfig.parse(fixture(raw));
      expect(config.digest).toBe(fixtureText(`${raw}.digest`));
      expect(dec(config.canonicalBytes())).toBe(dec(fixture(canonical)));
      expect(config.canonicalBytes()).toEqual(fixture(canonical));
      expect(config.canonicalDigest()).toBe(fixtureText(`${canonical}.digest`));
      expect(digestOf(fixture(canonical))).toBe(fixtureText(`${canonical}.digest`));
    });
  }

  it('reads labels, diff_ids and platform', () => {
    const config = ImageConfig.parse(fixture('config.json'));
    expect(config.labels.Name).toBe('rhel7/rhel');
    expect(config.labels.signatures).toBeUndefined();
    expect(config.diffIds).toEqual((JSON.parse(dec(fixture('config.json'))) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids);
    expect(config.diffIds).toHaveLength(2);
    expect(config.platform).toEqual({ os: 'linux', architecture: 'amd64' });
  });
});

describe('ImageConfig labels', () => {
  it('prefers "Config" (as some real images write it) and falls back to "config"', () => {
    expect(ImageConfig.parse(enc('{"Config":{"Labels":{"a":"1"}},"config":{"Labels":{"b":"2"}}}')).labels).toEqual({ a: '1' });
    expect(ImageConfig.parse(enc('{"config":{"Labels":{"b":"2"}}}')).labels).toEqual({ b: '2' });
    expect(ImageConfig.parse(enc('{"Config":null,"config":{"Labels":{"b":"2"}}}')).labels).toEqual({ b: '2' });
    expect(ImageConfig.parse(enc('{"config":{"Labels":null}}')).labels).toEqual({});
    expect(ImageConfig.parse(enc('{"config":null}')).labels).toEqual({});
    expect(ImageConfig.parse(enc('{}')).labels).toEqual({});
    expectCode(() => ImageConfig.parse(enc('{"config":{"Labels":{"a":1}}}')).labels, 'ConfigInvalid', /label "a"/);
    expectCode(() => ImageConfig.parse(enc('{"config":{"Labels":[]}}')).labels, 'ConfigInvalid', /Labels/);
    expectCode(() => ImageConfig.parse(enc('{"config":"x"}')).labels, 'ConfigInvalid', /"config"/);
  });

  it('withLabel edits in place: replaces, adds, creates Labels and config, keeps every other byte', () => {
    const cases: [string, string][] = [
      ['{"a":1,"config":{"Labels":{"x":"1"}},"z":[1.0]}', '{"a":1,"config":{"Labels":{"x":"1","k":"v\\n"}},"z":[1.0]}'],
      ['{"config":{"Labels":{"k":"old","x":"1"}}}', '{"config":{"Labels":{"k":"v\\n","x":"1"}}}'],
      ['{"config":{"Labels":null,"Env":[]}}', '{"config":{"Labels":{"k":"v\\n"},"Env":[]}}'],
      ['{"config":{"Env":[]}}', '{"config":{"Env":[],"Labels":{"k":"v\\n"}}}'],
      ['{"config": {"Env": []}}', '{"config": {"Env": [], "Labels": {"k": "v\\n"}}}'],
      ['{"config":null}', '{"config":{"Labels":{"k":"v\\n"}}}'],
      ['{"config":{"Labels":{}}}', '{"config":{"Labels":{"k":"v\\n"}}}'],
      ['{"os":"linux"}', '{"os":"linux","config":{"Labels":{"k":"v\\n"}}}'],
      ['{"Config":{"Labels":{}},"config":{}}', '{"Config":{"Labels":{"k":"v\\n"}},"config":{}}'],
      ['{\n  "config": {\n    "Labels": {\n      "x": "1"\n    }\n  }\n}\n', '{\n  "config": {\n    "Labels": {\n      "x": "1",\n      "k": "v\\n"\n    }\n  }\n}\n'],
    ];
    for (const [before, after] of cases) {
      const c = ImageConfig.parse(enc(before)).withLabel('k', 'v\n');
      expect(dec(c.bytes), before).toBe(after);
      expect(c.labels.k).toBe('v\n');
      expect(c.digest).toBe(digestOf(enc(after)));
    }
  });

  it('withLabel keeps big integers and float literals that JSON.parse would alter', () => {
    const text = '{"n":12345678901234567890,"f":1.0,"config":{"Labels":{}}}';
    const c = ImageConfig.parse(enc(text)).withLabel('a', 'b');
    expect(dec(c.bytes)).toBe('{"n":12345678901234567890,"f":1.0,"config":{"Labels":{"a":"b"}}}');
    expect(dec(c.canonicalBytes())).toBe('{"config":{"Labels":{"a":"b","signatures":"[]"}},"f":1.0,"n":12345678901234567890}');
  });

  it('withLabel refuses a config whose Labels is not an object', () => {
    expectCode(() => ImageConfig.parse(enc('{"config":{"Labels":"x"}}')).withLabel('a', 'b'), 'ConfigInvalid');
    expectCode(() => ImageConfig.parse(enc('{"config":[]}')).withLabel('a', 'b'), 'ConfigInvalid');
  });
});

describe('ImageConfig canonical form', () => {
  it('adds the signatures label as "[]" only when missing, creating Labels/config as needed', () => {
    expect(dec(ImageConfig.parse(enc('{"b":1,"config":{"Labels":null}}')).canonicalBytes())).toBe('{"b":1,"config":{"Labels":{"signatures":"[]"}}}');
    expect(dec(ImageConfig.parse(enc('{"config":{"Labels":{"signatures":""}}}')).canonicalBytes())).toBe('{"config":{"Labels":{"signatures":""}}}');
    expect(dec(ImageConfig.parse(enc('{}')).canonicalBytes())).toBe('{"config":{"Labels":{"signatures":"[]"}}}');
    expect(dec(ImageConfig.parse(enc('{"Config":{}}')).canonicalBytes())).toBe('{"Config":{"Labels":{"signatures":"[]"}}}');
  });

  it('is independent of formatting and key order', () => {
    const a = ImageConfig.parse(enc('{"a":1,"config":{"Env":["x"],"Labels":{"l":"é"}}}'));
    const b = ImageConfig.parse(enc('{\n  "config": {"Labels": {"l": "\\u00e9"}, "Env": ["x"]},\n  "a": 1\n}'));
    expect(a.digest).not.toBe(b.digest);
    expect(a.canonicalDigest()).toBe(b.canonicalDigest());
    expect(dec(a.canonicalBytes())).toBe('{"a":1,"config":{"Env":["x"],"Labels":{"l":"é","signatures":"[]"}}}');
  });

  it('refuses values with no canonical form', () => {
    expectCode(() => ImageConfig.parse(enc('{"x":"\\ud800"}')).canonicalBytes(), 'ConfigInvalid', /surrogate/);
    expectCode(() => ImageConfig.parse(enc('{"x":1e400}')).canonicalBytes(), 'ConfigInvalid', /canonical/);
  });
});

describe('ImageConfig hostile input', () => {
  it('checks the size limit before parsing', () => {
    const big = new Uint8Array(Limits.configBytes + 1).fill(0x5b); // "[[[[..." never parsed
    expectCode(() => ImageConfig.parse(big), 'LimitExceeded', /limit/);
  });

  it('rejects invalid JSON, non-objects, bad UTF-8 and deep nesting', () => {
    expectCode(() => ImageConfig.parse(enc('{"a":')), 'ConfigInvalid', /not valid JSON/);
    expectCode(() => ImageConfig.parse(enc('[1]')), 'ConfigInvalid', /JSON object/);
    expectCode(() => ImageConfig.parse(enc('{"a":NaN}')), 'ConfigInvalid', /not valid JSON/);
    expectCode(() => ImageConfig.parse(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), 'ConfigInvalid', /UTF-8/);
    expectCode(() => ImageConfig.parse(enc(`{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`)), 'ConfigInvalid', /nested/);
  });

  it('validates diff_ids', () => {
    const withIds = (ids: unknown) => ImageConfig.parse(enc(JSON.stringify({ rootfs: { type: 'layers', diff_ids: ids } })));
    expect(withIds([`sha256:${'a'.repeat(64)}`]).diffIds).toEqual([`sha256:${'a'.repeat(64)}`]);
    expectCode(() => withIds([`sha256:${'A'.repeat(64)}`]).diffIds, 'ConfigInvalid', /diff_ids\[0\]/);
    expectCode(() => withIds(['sha256:../../x']).diffIds, 'ConfigInvalid', /diff_ids\[0\]/);
    expectCode(() => withIds([5]).diffIds, 'ConfigInvalid', /diff_ids\[0\]/);
    expectCode(() => withIds('x').diffIds, 'ConfigInvalid', /diff_ids/);
    expectCode(() => ImageConfig.parse(enc('{}')).diffIds, 'ConfigInvalid', /rootfs/);
    expect(ImageConfig.parse(enc(`{"rootfS":{"diff_ids":["sha256:${'b'.repeat(64)}"]}}`)).diffIds).toHaveLength(1);
  });

  it('keeps a "__proto__" key as data', () => {
    const c = ImageConfig.parse(enc('{"__proto__":{"polluted":true},"config":{"Labels":{"__proto__":"x"}}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(c.labels.__proto__).toBe('x');
    expect(Object.keys(c.labels)).toEqual(['__proto__']);
    expect(dec(c.withLabel('__proto__', 'y').bytes)).toBe('{"__proto__":{"polluted":true},"config":{"Labels":{"__proto__":"y"}}}');
  });
});

describe('ImageConfig canonical form of odd shapes', () => {
  it('refuses a non-object config or Labels', () => {
    expectCode(() => ImageConfig.parse(enc('{"config":5}')).canonicalBytes(), 'ConfigInvalid', /"config" must be an object/);
    expectCode(() => ImageConfig.parse(enc('{"config":{"Labels":5}}')).canonicalBytes(), 'ConfigInvalid', /Labels/);
    expectCode(() => ImageConfig.parse(enc('{"config":{"Labels":[]}}')).canonicalBytes(), 'ConfigInvalid', /Labels/);
  });
});
