// Property-based fuzzing (fast-check, fixed seed, bounded runs) of the core parsers that meet untrusted
// bytes: strict JSON, manifests/lists/indexes, image configs and the signatures label. Every input must
// end in a result or a DsvError: never another exception, a hang or unbounded memory.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, parseJsonStrict, astToLossless, parseJsonAst } from './canonical-json.js';
import { ImageConfig } from './config.js';
import { DsvError } from './errors.js';
import { parseManifest } from './manifest.js';
import { readSignatures } from './signatures.js';

const SEED = 20240601;
const RUNS = 600;
const counts: Record<string, number> = {};

/** Runs `f`; a DsvError is an acceptable end, anything else thrown fails the property. */
function typed(name: string, f: () => unknown): void {
  counts[name] = (counts[name] ?? 0) + 1;
  try {
    f();
  } catch (e) {
    if (!(e instanceof DsvError)) throw new Error(`${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

const D = (c: string) => `sha256:${c.repeat(64)}`;
const seeds = [
  `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${D('a')}","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"${D('b')}","size":10}]}`,
  `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"${D('c')}","size":5,"platform":{"architecture":"amd64","os":"linux"}}]}`,
  `{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Labels":{"signatures":"[{\\"digest\\": \\"${D('d')}\\", \\"signature\\": \\"x\\", \\"type\\": \\"signed\\"}]"}},"rootfs":{"type":"layers","diff_ids":["${D('e')}"]},"history":[{"created":"2020-01-01T00:00:00Z"}]}`,
];

/** Valid documents cut, spliced and with characters replaced; plus arbitrary JSON and arbitrary text. */
const mutated = fc
  .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 4 }))
  .map(([s, edits]) => edits.reduce((t, [at, del, ins]) => { const i = at % (t.length + 1); return t.slice(0, i) + ins + t.slice(i + del); }, s));
const jsonText = fc.oneof(
  mutated,
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('[' .repeat(5000), '{"a":'.repeat(3000), '"\\ud800"', '{"a":1,"a":2}', '1e999999', '-0', '\ufeff{}'),
);

describe('fuzzing core parsers', () => {
  it('strict JSON, canonical JSON, manifests, configs and the signatures label end in a result or a DsvError', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const bytes = Buffer.from(text, 'utf8');
        typed('parseJsonStrict', () => parseJsonStrict(text, 'fuzz', 'ManifestInvalid'));
        typed('canonicalJson', () => {
          let v: unknown;
          try {
            v = astToLossless(parseJsonAst(text));
          } catch {
            return; // not JSON: parseJsonStrict covered its error
          }
          canonicalJson(v);
        });
        typed('parseManifest', () => parseManifest(bytes));
        typed('ImageConfig.parse+readSignatures', () => readSignatures(ImageConfig.parse(bytes)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // raw bytes (invalid UTF-8 included)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        typed('parseManifest(bytes)', () => parseManifest(b));
        typed('ImageConfig.parse(bytes)', () => ImageConfig.parse(b));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`fuzz core: ${total} parser inputs (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})`);
    expect(total).toBeGreaterThanOrEqual(RUNS * 5);
  });
});
