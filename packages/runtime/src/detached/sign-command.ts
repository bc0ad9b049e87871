/**
 * `dsv sign --format simple|cosign IMAGE`: verifies the image (every digest and diff_id), then writes one
 * detached signature for its manifest digest — simple signing to the lookaside store registries.d names
 * (or the registry's extension API), cosign to the `.sig` tag (or, with --cosign-bundle, a Sigstore bundle
 * referrer). The image itself is not changed. With --all-tags, every tag of a repository
 * (detachedSignAllTags), skipping those this key already signed in this format.
 */
import { DsvError, formatDockerReference, type Manifest } from '@dsv/core/formats';
import { readTopManifest } from '@dsv/core/operations';
import type { ImageReference } from '@dsv/core/transport';
import { createSimpleSignature, describeSimpleSignature } from '@dsv/signature-simple';
import {
  addBundleReferrer, createImageBundle, readBundleReferrers, readCosignSignatures, signImage, verifyBytes, verifyImageBundle, SIGNATURE_ANNOTATION,
} from '@dsv/signature-cosign';
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { integrityVerdict, runVerify, uncheckedVerify } from '../commands.js';
import type { CliContext } from '../context.js';
import { cosignPasswordFromEnv, gpgBinaryFromEnv, gpgHomeFromEnv } from '../environment.js';
import { ExitCodes, exitCodeFor, exitCodeForVerify } from '../exit-codes.js';
import { isInteractive } from '../io.js';
import { promptSecretOnTty, resolveKeyName, resolvePassphrase } from '../keys.js';
import { errorJson, verifyFailureLines } from '../report.js';
import type { CommandShell } from '../shell.js';
import { VERSION } from '../version.js';
import { registrySubject } from './origin.js';
import { cosignKey, isEncryptedCosignKey, simpleKey } from './signers.js';
import { detachedStores, type DetachedOptions, type DetachedStores } from './stores.js';
import type { FleetCommon } from '../fleet/commands.js';
import type { TagOutcome } from '../fleet/all-tags.js';

export interface DetachedSignOptions extends DetachedOptions {
  format: 'simple' | 'cosign';
  image: string;
  key?: string;
  passphraseFile?: string;
  keypass?: string;
  /** --sign-identity REF: the identity signed (default: the image's registry reference). */
  signIdentity?: string;
  /** --cosign-bundle: a Sigstore bundle referrer instead of the .sig tag. */
  cosignBundle?: boolean;
}

interface Signed {
  format: 'simple' | 'cosign';
  bundle: boolean;
  image: string;
  manifestDigest: string;
  signedReference: string;
  identity: string;
  key: { keyId?: string; fingerprint?: string; identity?: string };
  stored: string;
}

/** The passphrase from -p, --passphrase-file, DSV_KEYPASS, COSIGN_PASSWORD (cosign keys), a prompt on a terminal; else none. */
async function passphraseFor(shell: CommandShell, ctx: CliContext, opts: DetachedSignOptions, cosign: boolean): Promise<string> {
  const env = { ...ctx.env } as NodeJS.ProcessEnv;
  const cp = cosign ? cosignPasswordFromEnv(ctx.env) : undefined;
  if (env.DSV_KEYPASS === undefined && cp !== undefined) env.DSV_KEYPASS = cp;
  const io = shell.io;
  const { passphrase } = await resolvePassphrase(
    { ...(opts.keypass !== undefined ? { keypass: opts.keypass } : {}), ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}) },
    env,
    { interactive: isInteractive(io), promptSecret: (q) => promptSecretOnTty(q, io.stdin, io.stderr) },
    `Passphrase for ${opts.key} (empty for none): `,
  );
  shell.out.addSecret(passphrase);
  return passphrase;
}

/** The key of a detached sign, loaded once (passphrase asked once): the simple signer or the cosign key. */
interface PreparedKey {
  name: string;
  simple?: Awaited<ReturnType<typeof simpleKey>>;
  cosign?: Awaited<ReturnType<typeof cosignKey>>;
}

async function prepareKey(shell: CommandShell, ctx: CliContext, opts: DetachedSignOptions, key: string): Promise<PreparedKey> {
  if (opts.format === 'simple') {
    const passphrase = await passphraseFor(shell, ctx, opts, false);
    return { name: key, simple: await simpleKey({ key: key, passphrase, gpgHome: String(ctx.signerSettings.gpg?.gpgHome ?? gpgHomeFromEnv(ctx.env)), gpgBinary: gpgBinaryFromEnv(ctx.env), env: ctx.system.childEnv ?? { PATH: '/usr/local/bin:/usr/bin:/bin' } }) };
  }
  let encrypted = false;
  try {
    encrypted = isEncryptedCosignKey(new Uint8Array(await readFile(key)));
  } catch {
    /* cosignKey reports it */
  }
  return { name: key, cosign: await cosignKey(key, encrypted ? await passphraseFor(shell, ctx, opts, true) : undefined) };
}

/** Writes the detached signature of `top` (read from `ref`, whose integrity was proven) with the prepared key. */
async function signSubject(ctx: CliContext, stores: DetachedStores, opts: DetachedSignOptions, prepared: PreparedKey, ref: ImageReference, top: Manifest): Promise<Signed> {
  const found = await registrySubject(ctx, stores, ref, top);
  if (!found) {
    throw new DsvError('Usage', `${ref.toString()}: a ${opts.format} signature is stored beside a registry image, and dsv knows no registry manifest of this image (sign the registry image, docker://HOST/REPO:TAG)`);
  }
  const subject = found.subject;
  const identity = opts.signIdentity ?? subject.dockerReference;
  const signed: Signed = { format: opts.format, bundle: opts.cosignBundle === true, image: ref.toString(), manifestDigest: subject.manifestDigest, signedReference: subject.dockerReference, identity, key: {}, stored: '' };
  const { simple, cosign } = prepared;
  if (simple) {
    await stores.simpleWriteTarget(subject.dockerReference);
    const sig = await createSimpleSignature({ dockerReference: identity, manifestDigest: subject.manifestDigest, signer: simple.signer, creator: `dsv ${VERSION}` });
    signed.stored = await stores.writeSimple(subject.dockerReference, subject.manifestDigest, sig);
    signed.key = await simple.describe();
  } else if (cosign) {
    const store = await stores.tagStore(subject.dockerReference);
    signed.key = { keyId: cosign.keyId };
    const p = stores.parseDocker(subject.dockerReference);
    if (opts.cosignBundle) {
      const bundle = createImageBundle({ repository: `${p.registry}/${p.repository}`, manifestDigest: subject.manifestDigest, privateKey: cosign.key });
      const digest = await addBundleReferrer(store, { mediaType: top.mediaType, digest: subject.manifestDigest, size: found.manifestBytes.length }, bundle);
      signed.stored = `${p.registry}/${p.repository}@${digest} (referrer; index tag ${subject.manifestDigest.replace(':', '-')})`;
    } else {
      const digest = await signImage(store, { dockerReference: identity, manifestDigest: subject.manifestDigest, privateKey: cosign.key });
      signed.stored = `${p.registry}/${p.repository}:${subject.manifestDigest.replace(':', '-')}.sig${digest ? ` (${digest})` : ' (already signed so; unchanged)'}`;
    }
  }
  return signed;
}

/** critical.identity.docker-reference of a signature payload (simple signing and cosign share the shape). */
function payloadIdentity(payload: Uint8Array): string | undefined {
  try {
    const doc = JSON.parse(Buffer.from(payload).toString('utf8')) as { critical?: { identity?: { 'docker-reference'?: unknown } } };
    const ref = doc.critical?.identity?.['docker-reference'];
    return typeof ref === 'string' ? ref : undefined;
  } catch {
    return undefined;
  }
}

const hexId = (s: string | undefined) => s?.replace(/\s+/g, '').toUpperCase();

/**
 * Whether the registry image `dockerReference@digest` already has a detached signature by this key in this
 * format: a simple signature naming the key's id and this identity in the lookaside store, a `.sig` layer
 * naming this identity whose signature checks with the key, or a bundle referrer (which names the repository
 * only) that verifies with it.
 */
async function signedByKey(stores: DetachedStores, opts: DetachedSignOptions, prepared: PreparedKey, dockerReference: string, digest: string, identity: string): Promise<boolean> {
  if (prepared.simple) {
    const d = await prepared.simple.describe();
    const ids = [d.fingerprint, d.keyId, /^(0x)?[0-9a-f]{16,40}$/i.test(prepared.name) ? prepared.name.replace(/^0x/i, '') : undefined].map(hexId).filter((x): x is string => !!x);
    for (const sig of await stores.readSimple(dockerReference, digest)) {
      const d = await describeSimpleSignature(sig);
      const id = hexId(d.keyId);
      // A simple signature names one identity (the tag): another tag of the same image needs its own.
      if (d.payload?.dockerReference !== identity) continue;
      if (id && ids.some((k) => k === id || k.endsWith(id) || id.endsWith(k))) return true;
    }
    return false;
  }
  const pub = createPublicKey(prepared.cosign!.key);
  const store = await stores.tagStore(dockerReference);
  if (opts.cosignBundle) {
    const bundles = await readBundleReferrers(store, digest);
    return bundles.some((b) => verifyImageBundle(b.bundle, { manifestDigest: digest }, { keys: [pub] }).valid);
  }
  const attachments = await readCosignSignatures(store, digest);
  return attachments.some((a) => {
    // As with simple signing, a .sig layer names one identity (dsv signs the tag): another tag needs its own.
    if (payloadIdentity(a.payload) !== identity) return false;
    const sig = a.annotations[SIGNATURE_ANNOTATION];
    try {
      return sig !== undefined && verifyBytes(pub, a.payload, Buffer.from(sig, 'base64'));
    } catch {
      return false;
    }
  });
}

/**
 * `dsv sign --all-tags --format simple|cosign REPO`: every tag's manifest gets a detached signature (the
 * images are unchanged); a tag whose image this key already signed in this format is skipped, so a run that
 * stopped is resumed by running it again. `--jobs` tags at a time.
 */
export async function detachedSignAllTags(context: CliContext, shell: CommandShell, opts: DetachedSignOptions & FleetCommon): Promise<number> {
  // Every tag's reads, signature lookups and writes share the run's registry clients, and the run's memory
  // governor collects between tags (fleet/run-resources.ts); without them each tag opened five clients.
  const { withRunResources } = await import('../fleet/run-resources.js');
  return withRunResources(context, (ctx) => detachedSignAllTagsIn(ctx, shell, opts));
}

async function detachedSignAllTagsIn(context: CliContext, shell: CommandShell, opts: DetachedSignOptions & FleetCommon): Promise<number> {
  const { runAllTags, withoutProgress } = await import('../fleet/all-tags.js');
  const ctx = withoutProgress(context);
  let stores: DetachedStores | undefined;
  let prepared: PreparedKey;
  try {
    const key = resolveKeyName(opts.key, ctx.env as NodeJS.ProcessEnv, `--key (${opts.format === 'cosign' ? 'cosign.key or a PEM private key' : 'an OpenPGP key file, or a key id / fingerprint in the GnuPG home'})`);
    if (opts.cosignBundle && opts.format !== 'cosign') throw new DsvError('Usage', '--cosign-bundle needs --format cosign');
    stores = await detachedStores(ctx, opts);
    prepared = await prepareKey(shell, ctx, opts, key);
  } catch (e) {
    await stores?.close();
    return shell.fail(e, () => ({ command: 'sign', allTags: true, ok: false, exitCode: exitCodeFor(e), error: errorJson(e) }));
  }
  const st = stores;
  const what = opts.format === 'simple' ? 'simple signing' : opts.cosignBundle ? 'cosign bundle' : 'cosign';
  if (!shell.json) shell.out.out(`Signing every tag (${what}, detached: the images are unchanged) with key ${prepared.cosign?.keyId ?? prepared.name}\n`);
  // Tags naming the same image are worked on one after the other, never at once (they write to one store:
  // the lookaside directory, the .sig tag, the referrers index). Simple and .sig signatures name the tag, so
  // each tag gets its own; a bundle names the repository, so the second tag finds the first's.
  const tails = new Map<string, Promise<unknown>>();
  const perTag = async (image: string): Promise<TagOutcome> => {
    const ref = ctx.parseImage(image);
    const top = await readTopManifest(ref, ctx.system);
    const run = (tails.get(top.digest) ?? Promise.resolve()).catch(() => undefined).then(() => signTag(ref, top));
    tails.set(top.digest, run);
    try {
      return await run;
    } finally {
      // The last tag of an image lets go of it: the map holds only images with a tag in flight.
      if (tails.get(top.digest) === run) tails.delete(top.digest);
    }
  };
  const signTag = async (ref: ImageReference, top: Manifest): Promise<TagOutcome> => {
    const parsed = st.parseDocker(ref.within);
    const dockerReference = formatDockerReference(parsed);
    if (await signedByKey(st, opts, prepared, dockerReference, top.digest, opts.signIdentity ?? dockerReference)) return { status: 'skipped', digest: top.digest, detail: `already signed by this key (${what})` };
    // What is signed is what was verified: the digest read, not the tag (which may move meanwhile).
    const integrity = integrityVerdict(await runVerify(ctx, `docker://${parsed.registry}/${parsed.repository}@${top.digest}`, { verify: uncheckedVerify }));
    if (!integrity.ok) return { status: 'failed', digest: top.digest, detail: `not signed: ${integrity.failures.join('; ')}` };
    const signed = await signSubject(ctx, st, opts, prepared, ref, top);
    return { status: 'signed', digest: signed.manifestDigest, detail: `stored in ${signed.stored}` };
  };
  try {
    return await runAllTags(ctx, shell, { command: 'sign', ...opts, perTag });
  } finally {
    await st.close();
  }
}

export async function runDetachedSign(ctx: CliContext, shell: CommandShell, opts: DetachedSignOptions): Promise<number> {
  const input = () => ({ command: 'sign', ok: false, format: opts.format, source: opts.image });
  let key: string;
  let stores;
  try {
    key = resolveKeyName(opts.key, ctx.env as NodeJS.ProcessEnv, `--key (${opts.format === 'cosign' ? 'cosign.key or a PEM private key' : 'an OpenPGP key file, or a key id / fingerprint in the GnuPG home'})`);
    if (opts.cosignBundle && opts.format !== 'cosign') throw new DsvError('Usage', '--cosign-bundle needs --format cosign');
    stores = await detachedStores(ctx, opts);
  } catch (e) {
    return shell.fail(e, () => ({ ...input(), error: errorJson(e) }));
  }
  try {
    const ref = ctx.parseImage(opts.image);
    // Where it will go, and the key, before any image is read: a missing store or a bad key fails fast.
    const prepared = await prepareKey(shell, ctx, opts, key);
    const integrity = integrityVerdict(await runVerify(ctx, ref, { verify: uncheckedVerify }));
    shell.progress.clear();
    if (!integrity.ok) {
      for (const line of verifyFailureLines(integrity)) shell.out.err(`${shell.out.prog}: error: ${line}\n`);
      // Not trusted, unless the image could not be read (then as that failure: network, limit, ...).
      const exitCode = exitCodeForVerify(integrity);
      if (shell.json) shell.writeJson({ ...input(), exitCode, error: { code: 'DigestMismatch', message: 'the image failed its integrity check; nothing was signed', exitCode }, failures: verifyFailureLines(integrity) });
      else shell.out.out(`NOT signed: ${integrity.reference} failed its integrity check\n`);
      return exitCode;
    }
    if (!shell.json) shell.out.out('Integrity check passed.\n');
    const top = await readTopManifest(ref, ctx.system);
    if (top.digest !== integrity.digest) throw new DsvError('DigestMismatch', `${ref.toString()} changed while it was verified (${integrity.digest}, now ${top.digest})`);
    const signed = await signSubject(ctx, stores, opts, prepared, ref, top);
    shell.progress.clear();
    if (shell.json) {
      shell.writeJson({ command: 'sign', ok: true, format: signed.format, bundle: signed.bundle, source: opts.image, reference: signed.image, manifestDigest: signed.manifestDigest,
        signedReference: signed.signedReference, identity: signed.identity, key: { keyId: signed.key.keyId ?? null, fingerprint: signed.key.fingerprint ?? null, identity: signed.key.identity ?? null },
        stored: signed.stored, imageChanged: false, error: null });
    } else {
      const who = signed.key.fingerprint ?? signed.key.keyId ?? key;
      shell.out.out(`Signed ${signed.signedReference}@${signed.manifestDigest} as ${signed.identity} with key ${who} (${signed.format === 'simple' ? 'simple signing' : signed.bundle ? 'cosign bundle' : 'cosign'}); the image is unchanged\n`);
      shell.out.out(`Signature stored in ${signed.stored}\n`);
    }
    return ExitCodes.Ok;
  } catch (e) {
    return shell.fail(e, () => ({ ...input(), exitCode: exitCodeFor(e), error: errorJson(e) }));
  } finally {
    await stores.close();
  }
}
