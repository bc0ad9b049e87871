// `dsv signatures prune` and `dsv signatures revoke` against a real docker-registry (delete enabled, and one
// with delete disabled): simple signatures made by skopeo --sign-by and by the BUILT dsv into a file://
// lookaside store, cosign .sig tags and referrers bundles made by dsv with two cosign keys, two OpenPGP
// keys in private GnuPG homes; skopeo and `dsv verify --policy` judge what is left.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { buildUnlessPrebuilt } from '../helpers/build.js';
import { runDsv } from '../helpers/cli.js';
import { removeTempDirs, tempDir, type Ran } from '../helpers/proc.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';
import { makeGpgHome, removeGpgHomes, type GpgHome } from '../helpers/gpg.js';
import { expectValidReport } from '../helpers/schemas.js';
import { insecurePolicy, lookasideRegistriesD, skopeoAccepts as accepts, skopeoOk } from '../helpers/skopeo.js';

let reg: StartedRegistry;
let work: string;
let regd: string;
let store: string;
let alice: GpgHome;
let bob: GpgHome;
let env: NodeJS.ProcessEnv;

function dsv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runDsv(args, { ...env, ...extra }, work);
}

/** skopeo with the insecure policy and the lookaside registries.d: its stdout; a failure throws. */
const skopeo = (args: string[], extra: NodeJS.ProcessEnv = {}): string => skopeoOk(['--policy', join(work, 'insecure.json'), '--registries.d', regd, ...args], extra);

function digestOf(ref: string): string {
  return JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).Digest;
}

function tagsOf(repo: string): string[] {
  return JSON.parse(skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/${repo}`])).Tags;
}

function lookaside(repo: string, digest: string): string {
  return join(store, `${repo}@${digest.replace(':', '=')}`);
}

async function push(v: string, dest: string, host = reg.host): Promise<void> {
  const layout = join(work, `layout-${v}`);
  if (!existsSync(layout)) writeOciLayout(layout, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/version': `signatures ${v}\n` }] }), tag: v });
  skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:${v}`, `docker://${host}/${dest}`]);
}

/** skopeo reads the image under a signedBy policy for `keyFile`: true when it accepts it. */
function skopeoAccepts(ref: string, keyFile: string): boolean {
  const policy = join(work, `signedby-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: keyFile }] }));
  return accepts(ref, { policy, registriesD: regd });
}

beforeAll(async () => {
  buildUnlessPrebuilt();
  reg = await startRegistry({ mode: 'http' });
  work = tempDir('dsv-signatures-e2e-');
  insecurePolicy(join(work, 'insecure.json'));
  store = join(work, 'sigstore');
  regd = lookasideRegistriesD(join(work, 'registries.d'), store);
  alice = makeGpgHome({ withKey: { name: 'Alice Signer', email: 'alice@dsv.invalid' } });
  bob = makeGpgHome({ withKey: { name: 'Bob Signer', email: 'bob@dsv.invalid' } });
  writeFileSync(join(work, 'alice.pub'), alice.exportPublic());
  writeFileSync(join(work, 'bob.pub'), bob.exportPublic());
  env = { PATH: process.env.PATH, HOME: work, GNUPGHOME: alice.home };
  writeFileSync(join(work, 'pw'), 'cosign-pass\n');
  for (const p of ['ca', 'cb']) {
    const k = await dsv(['generate-key-pair', '--format', 'cosign', '--output-prefix', join(work, p), '--passphrase-file', join(work, 'pw')]);
    expect(k.code, k.all).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  removeGpgHomes();
  removeTempDirs();
});

const cosignSign = (key: string, ref: string, more: string[] = []) =>
  dsv(['sign', '--format', 'cosign', ...more, '--key', join(work, `${key}.key`), '--passphrase-file', join(work, 'pw'), `docker://${ref}`]);

describe('dsv signatures prune', () => {
  it('removes the lookaside directory, .sig tag and referrers tag of a deleted image; --dry-run removes nothing; live images keep theirs', async () => {
    await push('p1', 'prune/app:keep');
    await push('p2', 'prune/app:gone');
    const keep = digestOf(`${reg.host}/prune/app:keep`);
    const gone = digestOf(`${reg.host}/prune/app:gone`);
    for (const tag of ['keep', 'gone']) {
      skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--sign-by', alice.fingerprint, `docker://${reg.host}/prune/app:${tag}`, `docker://${reg.host}/prune/app:${tag}`], { GNUPGHOME: alice.home });
      expect((await cosignSign('ca', `${reg.host}/prune/app:${tag}`)).code).toBe(0);
    }
    const bundled = await cosignSign('ca', `${reg.host}/prune/app:gone`, ['--cosign-bundle']);
    expect(bundled.code, bundled.all).toBe(0);
    const sigTag = `sha256-${gone.slice(7)}.sig`;
    const refTag = `sha256-${gone.slice(7)}`;
    expect(tagsOf('prune/app')).toEqual(expect.arrayContaining([sigTag, refTag]));
    expect(existsSync(join(lookaside('prune/app', gone), 'signature-1'))).toBe(true);

    // The image goes: its tag's manifest is deleted (skopeo delete deletes by digest).
    skopeo(['delete', '--tls-verify=false', `docker://${reg.host}/prune/app:gone`]);

    const dry = await dsv(['signatures', 'prune', '--dry-run', '--registries.d', regd, `docker://${reg.host}/prune/app`]);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain(`WOULD REMOVE lookaside ${lookaside('prune/app', gone)} (${gone})`);
    expect(dry.stdout).toContain(`WOULD REMOVE cosign-sig ${reg.host}/prune/app:${sigTag} (${gone})`);
    expect(dry.stdout).toContain(`WOULD REMOVE referrers ${reg.host}/prune/app:${refTag} (${gone})`);
    expect(dry.stdout).toContain('would remove (dry run: nothing removed) 3 orphaned signature stores');
    expect(existsSync(lookaside('prune/app', gone))).toBe(true);
    expect(tagsOf('prune/app')).toEqual(expect.arrayContaining([sigTag, refTag]));

    const r = await dsv(['signatures', 'prune', '--json', '--registries.d', regd, `docker://${reg.host}/prune/app`]);
    expect(r.code, r.all).toBe(0);
    const j = expectValidReport('signatures', r.stdout);
    expect(j).toMatchObject({ command: 'signatures prune', ok: true, dryRun: false, summary: { removed: 3, lookaside: 1, cosignSignatureTags: 1, referrersTags: 1 } });
    expect(existsSync(lookaside('prune/app', gone))).toBe(false);
    const left = tagsOf('prune/app');
    expect(left).not.toContain(sigTag);
    expect(left).not.toContain(refTag);
    // The live image keeps its simple signature and .sig tag, and skopeo still accepts it.
    expect(left).toContain(`sha256-${keep.slice(7)}.sig`);
    expect(existsSync(join(lookaside('prune/app', keep), 'signature-1'))).toBe(true);
    expect(skopeoAccepts(`${reg.host}/prune/app:keep`, join(work, 'alice.pub'))).toBe(true);

    const again = await dsv(['signatures', 'prune', '--registries.d', regd, `docker://${reg.host}/prune/app`]);
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toContain('removed 0 orphaned signature stores');
  });

  it('a registry that refuses DELETE: one line naming it, exit 3, nothing removed', async () => {
    const ro = await startRegistry({ mode: 'http', deleteEnabled: false });
    try {
      await push('d1', 'ro/app:v1', ro.host);
      expect((await cosignSign('ca', `${ro.host}/ro/app:v1`)).code).toBe(0);
      // Retag: v1 now names another image, so the first image's .sig tag is an orphan.
      await push('d2', 'ro/app:v1', ro.host);
      const r = await dsv(['signatures', 'prune', '--registries.d', regd, `docker://${ro.host}/ro/app`]);
      expect(r.code, r.all).toBe(3);
      expect(r.stderr).toMatch(/refuses to delete the cosign signature tag sha256-[0-9a-f]{64}\.sig .*storage\.delete\.enabled: true/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      const tags = JSON.parse(skopeo(['list-tags', '--tls-verify=false', `docker://${ro.host}/ro/app`])).Tags as string[];
      expect(tags.filter((t) => t.endsWith('.sig'))).toHaveLength(1);
    } finally {
      await ro.stop();
    }
  });
});

describe('dsv signatures revoke', () => {
  let v1: string;
  let v2: string;
  let emb: string;
  let emb2: string;
  const verifyWith = (who: string, tag: string) => dsv(['verify', '--trust', join(work, `${who}.pub`), `docker://${reg.host}/rev/app:${tag}`]);
  beforeAll(async () => {
    await push('r1', 'rev/app:v1');
    await push('r2', 'rev/app:v2');
    v1 = digestOf(`${reg.host}/rev/app:v1`);
    v2 = digestOf(`${reg.host}/rev/app:v2`);
    // v1: alice (skopeo) at signature-1, bob (dsv) at signature-2: revoking alice must renumber bob's to signature-1.
    skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--sign-by', alice.fingerprint, `docker://${reg.host}/rev/app:v1`, `docker://${reg.host}/rev/app:v1`], { GNUPGHOME: alice.home });
    const b1 = await dsv(['sign', '--format', 'simple', '--registries.d', regd, '--key', bob.fingerprint, `docker://${reg.host}/rev/app:v1`], { GNUPGHOME: bob.home });
    expect(b1.code, b1.all).toBe(0);
    // v2: bob at signature-1, alice at signature-2: revoking alice removes the last one.
    const b2 = await dsv(['sign', '--format', 'simple', '--registries.d', regd, '--key', bob.fingerprint, `docker://${reg.host}/rev/app:v2`], { GNUPGHOME: bob.home });
    expect(b2.code, b2.all).toBe(0);
    const a2 = await dsv(['sign', '--format', 'simple', '--registries.d', regd, '--key', alice.fingerprint, `docker://${reg.host}/rev/app:v2`]);
    expect(a2.code, a2.all).toBe(0);
    for (const k of ['ca', 'cb']) {
      expect((await cosignSign(k, `${reg.host}/rev/app:v1`)).code).toBe(0);
      expect((await cosignSign(k, `${reg.host}/rev/app:v1`, ['--cosign-bundle'])).code).toBe(0);
    }
    expect((await cosignSign('ca', `${reg.host}/rev/app:v2`)).code).toBe(0);
    // An embedded signature by alice under another tag; and one image signed embedded by alice then bob.
    const e = await dsv(['sign', '--key', alice.fingerprint, `docker://${reg.host}/rev/app:v1`, `docker://${reg.host}/rev/app:emb`]);
    expect(e.code, e.all).toBe(0);
    const e2 = await dsv(['sign', '--key', alice.fingerprint, `docker://${reg.host}/rev/app:v2`, `docker://${reg.host}/rev/app:emb2`]);
    expect(e2.code, e2.all).toBe(0);
    const e3 = await dsv(['sign', '--key', bob.fingerprint, `docker://${reg.host}/rev/app:emb2`], { GNUPGHOME: bob.home });
    expect(e3.code, e3.all).toBe(0);
    emb = digestOf(`${reg.host}/rev/app:emb`);
    emb2 = digestOf(`${reg.host}/rev/app:emb2`);
  }, 300_000);

  it('--dry-run lists alice\'s signatures and removes nothing', async () => {
    const r = await dsv(['signatures', 'revoke', '--dry-run', '--key', join(work, 'alice.pub'), '--registries.d', regd, `docker://${reg.host}/rev/app`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`WOULD REMOVE simple ${lookaside('rev/app', v1)}/signature-1 (${v1})`);
    expect(r.stdout).toContain(`WOULD REMOVE simple ${lookaside('rev/app', v2)}/signature-2 (${v2})`);
    expect(r.stdout).toMatch(new RegExp(`^WOULD MOVE ${reg.host}/rev/app:emb2: ${emb2} -> sha256:[0-9a-f]{64} \\(1 embedded signature\\(s\\) by .*alice\\.pub removed, 1 other\\(s\\) kept`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^WOULD MOVE ${reg.host}/rev/app:emb: ${emb} -> sha256:`, 'm'));
    expect(digestOf(`${reg.host}/rev/app:emb2`)).toBe(emb2);
    expect(readdirSync(lookaside('rev/app', v1)).sort()).toEqual(['signature-1', 'signature-2']);
    expect(skopeoAccepts(`${reg.host}/rev/app:v1`, join(work, 'alice.pub'))).toBe(true);
  });

  it('revoking alice (by fingerprint) removes her simple signatures, renumbers the rest; bob\'s still verify, hers are rejected', async () => {
    const r = await dsv(['signatures', 'revoke', '--json', '--key', alice.fingerprint, '--registries.d', regd, `docker://${reg.host}/rev/app`]);
    expect(r.code, r.all).toBe(0);
    const j = expectValidReport('signatures', r.stdout);
    expect(j).toMatchObject({ command: 'signatures revoke', ok: true, summary: { removed: 2, simple: 2, cosign: 0, embedded: 2 } });
    // Embedded: each tag moved to a new image without alice's entry, reported old -> new.
    const moved = (tag: string) => (j.items as Array<{ kind: string; location: string; digest: string; newDigest?: string }>).find((i) => i.kind === 'embedded' && i.location === `${reg.host}/rev/app:${tag}`);
    expect(moved('emb2')).toMatchObject({ digest: emb2, newDigest: digestOf(`${reg.host}/rev/app:emb2`) });
    expect(moved('emb')).toMatchObject({ digest: emb, newDigest: digestOf(`${reg.host}/rev/app:emb`) });
    expect(digestOf(`${reg.host}/rev/app:emb2`)).not.toBe(emb2);
    // Bob's co-signature still verifies on the new image, alone; alice's key no longer does; the old image (by digest) is unchanged.
    const byBob = await verifyWith('bob', 'emb2');
    expect(byBob.code, byBob.all).toBe(0);
    const byAlice = await verifyWith('alice', 'emb2');
    expect(byAlice.code, byAlice.all).toBe(1);
    const old = await dsv(['verify', '--trust', join(work, 'alice.pub'), '--trust', join(work, 'bob.pub'), `docker://${reg.host}/rev/app@${emb2}`]);
    expect(old.code, old.all).toBe(0);
    // emb had alice's only: it now carries no embedded signature.
    const none = await verifyWith('alice', 'emb');
    expect(none.code).toBe(1);
    expect(none.all).toMatch(/no signatures/);
    // v1 had alice at signature-1: bob's moved to signature-1, no gap, so readers that stop at the first gap see it.
    expect(readdirSync(lookaside('rev/app', v1))).toEqual(['signature-1']);
    expect(readdirSync(lookaside('rev/app', v2))).toEqual(['signature-1']);
    for (const tag of ['v1', 'v2']) {
      expect(skopeoAccepts(`${reg.host}/rev/app:${tag}`, join(work, 'alice.pub'))).toBe(false);
      expect(skopeoAccepts(`${reg.host}/rev/app:${tag}`, join(work, 'bob.pub'))).toBe(true);
    }
    const policy = join(work, 'bob-policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'bob.pub') }] }));
    const v = await dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/rev/app:v1`]);
    expect(v.code, v.all).toBe(0);
  });

  it('revoking cosign key ca (a PEM file) rewrites v1\'s .sig and referrers index without it and deletes v2\'s .sig; cb still verifies, ca no longer', async () => {
    const r = await dsv(['signatures', 'revoke', '--key', join(work, 'ca.pub'), '--registries.d', regd, `docker://${reg.host}/rev/app`]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`REMOVED cosign-signature ${reg.host}/rev/app:sha256-${v1.slice(7)}.sig (${v1}): 1 other signature(s) kept`);
    expect(r.stdout).toContain(`REMOVED cosign-signature ${reg.host}/rev/app:sha256-${v2.slice(7)}.sig (${v2}): no signature left`);
    expect(r.stdout).toMatch(new RegExp(`REMOVED cosign-bundle ${reg.host}/rev/app:sha256-${v1.slice(7)} → sha256:[0-9a-f]{64} \\(${v1}\\): 1 other referrer\\(s\\) kept`));
    expect(r.stdout).toContain('(0 simple, 2 cosign, 1 cosign bundles)');
    expect(tagsOf('rev/app')).not.toContain(`sha256-${v2.slice(7)}.sig`);
    expect(tagsOf('rev/app')).toContain(`sha256-${v1.slice(7)}`);
    const judge = async (key: string, tag: string) => {
      const policy = join(work, `cosign-${key}.json`);
      writeFileSync(policy, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: join(work, `${key}.pub`), signedIdentity: { type: 'matchRepository' } }] }));
      return dsv(['verify', '--policy', policy, '--registries.d', regd, `docker://${reg.host}/rev/app:${tag}`]);
    };
    expect((await judge('cb', 'v1')).code).toBe(0);
    const ca = await judge('ca', 'v1');
    expect(ca.code, ca.all).toBe(1);
    expect((await judge('ca', 'v2')).code).toBe(1);
  });

  it('a REPO with a tag: one line naming the command, exit 2', async () => {
    const r = await dsv(['signatures', 'prune', `docker://${reg.host}/rev/app:v1`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain(`dsv signatures prune takes a repository without a tag or digest (docker://${reg.host}/rev/app)`);
  });

  it('a KEY that is neither a file nor hex: one line, exit 2', async () => {
    const r = await dsv(['signatures', 'revoke', '--key', 'not-a-key', `docker://${reg.host}/rev/app`]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('--key "not-a-key" is neither a file nor a key id / fingerprint in hex');
  });
});
