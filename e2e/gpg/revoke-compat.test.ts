// `dsv signatures revoke` of an embedded (docker-sign-verify format) signature, judged by the original tool's
// rules: three OpenPGP keys sign images in a real docker-registry (co-signatures, endorsements before and after
// the revoked key's entry, a multi-platform index), bob's key is revoked, and every entry left on the moved
// images is rebuilt and checked as docker-sign-verify does — its canonical config digest (modelled here
// independently of dsv's code and checked against the original's vectors), then the real `gpg --verify` — with
// the layers and diff_ids unchanged; `dsv verify` must agree.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, buildSampleIndex, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt, repoRoot } from '../helpers/build.js';
import { runDsv } from '../helpers/cli.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { expectValidReport } from '../helpers/schemas.js';
import { insecurePolicy, skopeoOk } from '../helpers/skopeo.js';
import { gpgRaw, type Embedded } from './support.js';

const REPO = 'compat/app';
const VECTORS = join(repoRoot, 'packages', 'core', 'fixtures', 'docker-sign-verify');
const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
];

let reg: StartedRegistry;
let work: string;
let policy: string;
let registriesD: string;
let alice: GpgHome; // ed25519
let bob: GpgHome; // rsa2048: the key revoked
let carol: GpgHome; // ed25519 primary signing with an ed25519 subkey
let all: GpgHome; // the three public keys, for gpg --verify
let signers: Map<string, GpgHome>;

const dsv = (args: string[], home?: GpgHome): Promise<Ran> =>
  runDsv(args, { PATH: process.env.PATH, HOME: work, ...(home ? { GNUPGHOME: home.home } : {}) }, work);

// ---- docker-sign-verify's rules, modelled from its format description (packages/core/fixtures/docker-sign-verify/README.md) ----

/** Python's json.dumps(list_of_entries) (default separators ", " / ": ", ensure_ascii): the label text. */
function pythonDumpsEntries(entries: Embedded[]): string {
  const escapes: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
  // Printable ASCII as it is; anything else \uXXXX per UTF-16 unit, lower-case hex.
  const str = (s: string) =>
    `"${Array.from({ length: s.length }, (_, i) => {
      const ch = s[i]!;
      const c = s.charCodeAt(i);
      return escapes[ch] ?? (c >= 0x20 && c <= 0x7e ? ch : `\\u${c.toString(16).padStart(4, '0')}`);
    }).join('')}"`;
  return `[${entries.map((e) => `{"digest": ${str(e.digest)}, "signature": ${str(e.signature)}}`).join(', ')}]`;
}

/** Python's json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False), for the JSON an image config holds (integers only). */
function pythonCanonical(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`the model covers integers only, not ${v}`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(pythonCanonical).join(',')}]`;
  const byCodePoint = (a: string, b: string) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  };
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort(byCodePoint).map((k) => `${JSON.stringify(k)}:${pythonCanonical(o[k])}`).join(',')}}`;
}

const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The canonical digest the original computes of `config` with its "signatures" label set to `label`. */
function canonicalDigestWith(config: Record<string, any>, label: string): string {
  const copy = structuredClone(config);
  copy.config ??= {};
  copy.config.Labels = { ...(copy.config.Labels ?? {}), signatures: label };
  return sha256(Buffer.from(pythonCanonical(copy), 'utf8'));
}

const entriesOf = (config: Record<string, any>): Embedded[] => {
  const label = config.config?.Labels?.signatures as string | undefined;
  return label ? (JSON.parse(label) as Embedded[]) : [];
};

/**
 * The digest the original requires of entry `i`: a (co-)signature (entry 0's digest) covers the config with the
 * list emptied, an endorsement the config whose list holds the entries before it.
 */
function requiredDigest(config: Record<string, any>, entries: Embedded[], i: number): string {
  return entries[i]!.digest === entries[0]!.digest ? canonicalDigestWith(config, '[]') : canonicalDigestWith(config, pythonDumpsEntries(entries.slice(0, i)));
}

/** gpg --verify of one entry, the signed data being the digest string: the primary fingerprint of the key whose VALIDSIG it prints. */
function gpgSigner(entry: Embedded): string {
  const sig = join(work, `sig-${Math.random().toString(36).slice(2)}.asc`);
  writeFileSync(sig, entry.signature);
  writeFileSync(`${sig}.data`, entry.digest);
  const res = gpgRaw(all.home, ['--status-fd', '1', '--verify', sig, `${sig}.data`]);
  const status = res.stdout.toString('utf8');
  expect(res.code, status).toBe(0);
  expect(status).toMatch(/^\[GNUPG:\] GOODSIG /m);
  return /^\[GNUPG:\] VALIDSIG [0-9A-F]{40} .* ([0-9A-F]{40})$/m.exec(status)![1]!;
}

/** Every entry of `config` checked by the original's rules; the names of the keys (alice, bob, carol) that made them, in order. */
function originalVerify(config: Record<string, any>): string[] {
  const entries = entriesOf(config);
  return entries.map((e, i) => {
    expect(e.digest, `entry ${i} covers another configuration`).toBe(requiredDigest(config, entries, i));
    const fpr = gpgSigner(e);
    const name = [...signers].find(([, h]) => h.fingerprint === fpr)?.[0];
    expect(name, `entry ${i}: made by an unexpected key ${fpr}`).toBeDefined();
    return name!;
  });
}

// ---- the registry, read over its HTTP API (exact bytes) ----

async function get(path: string, accept?: string): Promise<{ bytes: Buffer; digest: string | null }> {
  const res = await fetch(`http://${reg.host}/v2/${REPO}/${path}`, accept ? { headers: { accept } } : {});
  expect(res.status, path).toBe(200);
  return { bytes: Buffer.from(await res.arrayBuffer()), digest: res.headers.get('docker-content-digest') };
}

interface Image {
  platform: string;
  manifestDigest: string;
  manifest: Record<string, any>;
  config: Record<string, any>;
}

/** The image(s) a tag or digest names: one, or one per platform of an index; manifest and config digests checked over their bytes. */
async function imagesAt(ref: string): Promise<{ digest: string; images: Image[] }> {
  const top = await get(`manifests/${ref}`, MANIFEST_TYPES.join(', '));
  const digest = sha256(top.bytes);
  const doc = JSON.parse(top.bytes.toString('utf8'));
  const children: Array<{ platform: string; digest: string }> = doc.manifests
    ? doc.manifests.map((m: any) => ({ platform: `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`, digest: m.digest }))
    : [{ platform: '', digest }];
  const images: Image[] = [];
  for (const c of children) {
    const m = c.digest === digest ? top : await get(`manifests/${c.digest}`, MANIFEST_TYPES.join(', '));
    expect(sha256(m.bytes)).toBe(c.digest);
    const manifest = JSON.parse(m.bytes.toString('utf8'));
    const config = await get(`blobs/${manifest.config.digest}`);
    expect(sha256(config.bytes), 'config digest').toBe(manifest.config.digest);
    expect(config.bytes.length).toBe(manifest.config.size);
    images.push({ platform: c.platform, manifestDigest: c.digest, manifest, config: JSON.parse(config.bytes.toString('utf8')) });
  }
  return { digest, images };
}

/** The original's integrity rule: every layer's bytes hash to its digest, and uncompressed to the config's diff_id at its position. */
async function expectLayersIntact(img: Image): Promise<void> {
  const diffIds = img.config.rootfs.diff_ids as string[];
  expect(img.manifest.layers).toHaveLength(diffIds.length);
  for (const [i, layer] of (img.manifest.layers as Array<{ digest: string; mediaType: string }>).entries()) {
    const { bytes } = await get(`blobs/${layer.digest}`);
    expect(sha256(bytes)).toBe(layer.digest);
    const tar = /gzip$/.test(layer.mediaType) ? gunzipSync(bytes) : bytes;
    expect(sha256(tar), `layer ${i} diff_id`).toBe(diffIds[i]);
  }
}

/** The config without its "signatures" label: what a revoke must leave as it was. */
function unsigned(config: Record<string, any>): Record<string, any> {
  const copy = structuredClone(config);
  delete copy.config.Labels.signatures;
  return copy;
}

// ---- the images ----

type Step = [kind: 'sign' | 'endorse', who: 'alice' | 'bob' | 'carol'];
/** Per tag, the signing steps and which of the resulting entries (indexes) must survive revoking bob. */
const PLAN: Record<string, { steps: Step[]; kept: number[]; from?: 'multi-base' | 'docker-base' }> = {
  cosigned: { steps: [['sign', 'alice'], ['sign', 'bob'], ['sign', 'carol']], kept: [0, 2] },
  'endorsed-before': { steps: [['sign', 'alice'], ['endorse', 'carol'], ['sign', 'bob']], kept: [0, 1] },
  'endorsed-after': { steps: [['sign', 'alice'], ['sign', 'bob'], ['endorse', 'carol']], kept: [0] },
  'bob-first': { steps: [['sign', 'bob'], ['sign', 'alice'], ['sign', 'carol']], kept: [1, 2] },
  'bob-only': { steps: [['sign', 'bob']], kept: [] },
  untouched: { steps: [['sign', 'alice'], ['endorse', 'carol']], kept: [0, 1] },
  // A Docker v2 schema 2 image: bob's entry first, alice's endorsement of it goes with it, carol's co-signature stays.
  'docker-v2s2': { steps: [['sign', 'bob'], ['endorse', 'alice'], ['sign', 'carol']], kept: [2], from: 'docker-base' },
  multi: { steps: [['sign', 'alice'], ['sign', 'bob'], ['endorse', 'carol']], kept: [0], from: 'multi-base' },
};

const before = new Map<string, { digest: string; images: Image[] }>();

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-revoke-compat-');
  policy = insecurePolicy(join(work, 'insecure.json'));
  registriesD = join(work, 'registries.d');
  mkdirSync(registriesD);
  alice = makeGpgHome({ withKey: { name: 'Alice Compat', email: 'alice@dsv.invalid' } });
  bob = makeGpgHome({ withKey: { name: 'Bob Compat', email: 'bob@dsv.invalid', algo: 'rsa2048' } });
  carol = makeGpgHome({ withKey: { name: 'Carol Compat', email: 'carol@dsv.invalid', signingSubkey: true } });
  signers = new Map([['alice', alice], ['bob', bob], ['carol', carol]]);
  all = makeGpgHome();
  for (const [name, h] of signers) {
    writeFileSync(join(work, `${name}.pub`), h.exportPublic());
    all.gpg(['--import'], h.exportPublic());
  }
  // A base image whose config holds non-ASCII text (canonical JSON keeps it as UTF-8) and labels sorting around "signatures".
  const labels = { 'org.example.title': 'Zürich ☃ 𝄞 café', 'org.example.z': 'last', Signatures: 'not the list' };
  const base = join(work, 'base');
  writeOciLayout(base, { image: await buildSampleImage({ format: 'oci', labels, layers: [{ 'etc/hello': 'hello\n' }, { 'app/run.sh': '#!/bin/sh\necho revoke\n' }] }), tag: 'base' });
  skopeoOk(['--policy', policy, 'copy', '--quiet', '--dest-tls-verify=false', `oci:${base}:base`, `docker://${reg.host}/${REPO}:base`]);
  const docker = join(work, 'docker-base');
  writeOciLayout(docker, { image: await buildSampleImage({ format: 'oci', labels, layers: [{ 'etc/docker': 'v2s2\n' }] }), tag: 'base' });
  skopeoOk(['--policy', policy, 'copy', '--quiet', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${docker}:base`, `docker://${reg.host}/${REPO}:docker-base`]);
  const multi = join(work, 'multi');
  writeOciLayout(multi, {
    image: buildSampleIndex([
      await buildSampleImage({ format: 'oci', labels, layers: [{ 'a/amd64': 'amd64\n' }], platform: 'linux/amd64' }),
      await buildSampleImage({ format: 'oci', labels, layers: [{ 'a/arm64': 'arm64\n' }, { 'b/arm64': 'more\n' }], platform: 'linux/arm64/v8' }),
    ]),
    tag: 'multi',
  });
  skopeoOk(['--policy', policy, 'copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${multi}:multi`, `docker://${reg.host}/${REPO}:multi-base`]);

  for (const [tag, { steps, from: base = 'base' }] of Object.entries(PLAN)) {
    const to = `docker://${reg.host}/${REPO}:${tag}`;
    for (const [n, [kind, who]] of steps.entries()) {
      const from = n === 0 ? [`docker://${reg.host}/${REPO}:${base}`] : [];
      const r = await dsv(['sign', '-s', kind, '--key', signers.get(who)!.fingerprint, ...from, to], signers.get(who));
      expect(r.code, `${tag} step ${n}: ${r.all}`).toBe(0);
    }
    before.set(tag, await imagesAt(tag));
  }
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

describe("dsv signatures revoke of embedded signatures, by docker-sign-verify's rules", () => {
  it("the model of the original's canonical digest and label reproduces its vectors", () => {
    const plain = JSON.parse(readFileSync(join(VECTORS, 'config.json'), 'utf8'));
    const signed = JSON.parse(readFileSync(join(VECTORS, 'config_signed.json'), 'utf8'));
    const digest = (f: string) => readFileSync(join(VECTORS, f), 'utf8').trim();
    // The label added as "[]" when missing.
    expect(canonicalDigestWith(plain, '[]')).toBe(digest('config_canonical.json.digest'));
    expect(pythonCanonical({ ...plain, config: { ...plain.config, Labels: { ...plain.config.Labels, signatures: '[]' } } })).toBe(readFileSync(join(VECTORS, 'config_canonical.json'), 'utf8').trim());
    const entries = entriesOf(signed);
    expect(entries).toHaveLength(1);
    expect(requiredDigest(signed, entries, 0)).toBe(digest('config_canonical.json.digest'));
    expect(pythonDumpsEntries(entries)).toBe(signed.config.Labels.signatures);
    expect(sha256(Buffer.from(pythonCanonical(signed), 'utf8'))).toBe(digest('config_signed_canonical.json.digest'));
  });

  it('before the revoke: every entry dsv embedded passes the original\'s checks, made by the planned keys', () => {
    expect(before.get('docker-v2s2')!.images[0]!.manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    for (const [tag, { steps }] of Object.entries(PLAN)) {
      for (const img of before.get(tag)!.images) expect(originalVerify(img.config), `${tag} ${img.platform}`).toEqual(steps.map(([, who]) => who));
    }
  });

  it('revoking bob (his public key file) moves each tag carrying his entry; what is left passes the original\'s checks; layers and diff_ids unchanged; dsv verify agrees', async () => {
    const r = await dsv(['signatures', 'revoke', '--json', '--key', join(work, 'bob.pub'), '--registries.d', registriesD, `docker://${reg.host}/${REPO}`]);
    expect(r.code, r.all).toBe(0);
    const report = expectValidReport('signatures', r.stdout);
    const items = report.items as Array<{ kind: string; location: string; digest: string; newDigest?: string; detail?: string }>;
    const movedTags = Object.entries(PLAN).filter(([, p]) => p.steps.some(([, who]) => who === 'bob')).map(([t]) => t);
    expect(items.filter((i) => i.kind === 'embedded').map((i) => i.location.split(':').pop()).sort()).toEqual([...movedTags].sort());
    expect(report.summary).toMatchObject({ embedded: movedTags.length, removed: 0 });

    for (const [tag, plan] of Object.entries(PLAN)) {
      const old = before.get(tag)!;
      const now = await imagesAt(tag);
      if (!movedTags.includes(tag)) {
        expect(now.digest, `${tag} carries no entry by bob: not moved`).toBe(old.digest);
        continue;
      }
      const item = items.find((i) => i.kind === 'embedded' && i.location === `${reg.host}/${REPO}:${tag}`)!;
      expect(item).toMatchObject({ digest: old.digest, newDigest: now.digest });
      expect(now.digest).not.toBe(old.digest);
      // Counted over the images of an index.
      const n = old.images.length;
      const bobs = plan.steps.filter(([, who]) => who === 'bob').length;
      const dropped = plan.steps.length - bobs - plan.kept.length;
      expect(item.detail).toContain(`${bobs * n} embedded signature(s) by ${join(work, 'bob.pub')} removed, ${plan.kept.length * n} other(s) kept`);
      if (dropped) expect(item.detail).toContain(`${dropped * n} endorsement(s) made after it dropped`);
      // The old image stays fetchable by digest, bob's entry in it.
      expect((await imagesAt(old.digest)).images.map((i) => i.config)).toEqual(old.images.map((i) => i.config));

      expect(now.images.map((i) => i.platform)).toEqual(old.images.map((i) => i.platform));
      for (const [n, img] of now.images.entries()) {
        const was = old.images[n]!;
        const label = `${tag} ${img.platform}`;
        // The entries left are exactly the planned ones, byte for byte, in their order; the label as Python writes it.
        const oldEntries = entriesOf(was.config);
        const kept = plan.kept.map((i) => oldEntries[i]!);
        expect(entriesOf(img.config), label).toEqual(kept);
        expect(img.config.config.Labels.signatures, label).toBe(pythonDumpsEntries(kept));
        // By the original's rules each passes: digest rebuilt from this config, then gpg --verify; bob made none.
        expect(originalVerify(img.config), label).toEqual(plan.kept.map((i) => plan.steps[i]![1]));
        // Nothing else in the config moved; the layers are the same blobs, their diff_ids the same, and intact.
        expect(unsigned(img.config), label).toEqual(unsigned(was.config));
        expect(img.manifest.mediaType, label).toBe(was.manifest.mediaType);
        expect(img.manifest.layers, label).toEqual(was.manifest.layers);
        expect(img.config.rootfs.diff_ids, label).toEqual(was.config.rootfs.diff_ids);
        await expectLayersIntact(img);
      }

      // dsv verify agrees: trusting alice and carol, the moved image verifies (nothing left unchecked or untrusted) —
      // but before, bob's untrusted entry failed it; trusting bob alone, it fails now; the image without entries has none.
      const trustAC = ['--trust', join(work, 'alice.pub'), '--trust', join(work, 'carol.pub')];
      const ref = `docker://${reg.host}/${REPO}:${tag}`;
      const v = await dsv(['verify', '--json', ...trustAC, ref]);
      const oldV = await dsv(['verify', ...trustAC, `docker://${reg.host}/${REPO}@${old.digest}`]);
      expect(oldV.code, `${tag} before: ${oldV.all}`).toBe(1);
      if (plan.kept.length === 0) {
        expect(v.code, `${tag}: ${v.all}`).toBe(1);
        expect(v.all).toMatch(/no signatures/);
        continue;
      }
      expect(v.code, `${tag}: ${v.all}`).toBe(0);
      const json = expectValidReport('verify', v.stdout) as { results: Array<{ images: Array<{ signatures: Array<{ keyId: string; valid: boolean; trusted: boolean }> }> }> };
      const sigs = json.results.flatMap((x) => x.images).map((img) => img.signatures);
      expect(sigs).toHaveLength(now.images.length);
      for (const s of sigs) {
        expect(s.map((e) => e.keyId), tag).toEqual(plan.kept.map((i) => signers.get(plan.steps[i]![1])!.signingKeyId));
        expect(s.every((e) => e.valid && e.trusted), tag).toBe(true);
      }
      const byBob = await dsv(['verify', '--trust', join(work, 'bob.pub'), ref]);
      expect(byBob.code, `${tag}: ${byBob.all}`).toBe(1);
    }
  });

  it('an OCI layout or docker-archive: revoke takes a registry repository only (its docs): one line, exit 2', async () => {
    for (const ref of [`oci:${join(work, 'base')}`, `docker-archive:${join(work, 'none.tar')}`]) {
      const r = await dsv(['signatures', 'revoke', '--key', join(work, 'bob.pub'), ref]);
      expect(r.code, r.all).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`dsv: error: ${ref}: dsv signatures revoke takes a registry repository (docker://HOST/REPO), not ${ref.startsWith('oci') ? 'an' : 'a'} ${ref.split(':')[0]}: reference`]);
    }
  });

  it("carol's primary fingerprint alone cannot match entries her subkey made: a dry run says so on stderr; her public key file matches them", async () => {
    const repo = `docker://${reg.host}/${REPO}`;
    const byId = await dsv(['signatures', 'revoke', '--dry-run', '--key', carol.fingerprint, '--registries.d', registriesD, repo]);
    expect(byId.code, byId.all).toBe(0);
    expect(byId.stdout).not.toContain('WOULD MOVE');
    expect(byId.stderr).toMatch(/^dsv: warning: \d+ embedded signature\(s\) were made by keys not available here and could not be matched to [0-9A-F]{40} .*give the public key file as --key/m);
    const byFile = await dsv(['signatures', 'revoke', '--dry-run', '--key', join(work, 'carol.pub'), '--registries.d', registriesD, repo]);
    expect(byFile.code, byFile.all).toBe(0);
    expect(byFile.stdout).toContain('WOULD MOVE');
    expect(byFile.stderr).not.toContain('warning');
  });

  it("the check is not vacuous: carol's endorsement made after bob's entry would not cover the list without it", () => {
    const was = before.get('endorsed-after')!.images[0]!.config;
    const entries = entriesOf(was);
    expect(requiredDigest(was, entries, 2)).toBe(entries[2]!.digest);
    const without = [entries[0]!, entries[2]!];
    const edited = structuredClone(was);
    edited.config.Labels.signatures = pythonDumpsEntries(without);
    expect(requiredDigest(edited, without, 1)).not.toBe(entries[2]!.digest);
  });
});
