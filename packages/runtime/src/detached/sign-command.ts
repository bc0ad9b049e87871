/**
 * `dsv sign --format simple|cosign IMAGE`: verifies the image (every digest and diff_id), then writes one
 * detached signature for its manifest digest — simple signing to the lookaside store registries.d names
 * (or the registry's extension API), cosign to the `.sig` tag (or, with --cosign-bundle, a Sigstore bundle
 * referrer). The image itself is not changed.
 */
import { DsvError } from '@dsv/core/formats';
import { readManifest } from '@dsv/core/operations';
import { createSimpleSignature } from '@dsv/signature-simple';
import { addBundleReferrer, createImageBundle, signImage } from '@dsv/signature-cosign';
import { readFile } from 'node:fs/promises';
import { integrityVerdict, runVerify, uncheckedVerify } from '../commands.js';
import type { CliContext } from '../context.js';
import { cosignPasswordFromEnv, gpgBinaryFromEnv, gpgHomeFromEnv } from '../environment.js';
import { ExitCodes, exitCodeFor } from '../exit-codes.js';
import { isInteractive } from '../io.js';
import { promptSecretOnTty, resolveKeyName, resolvePassphrase } from '../keys.js';
import { errorJson, verifyFailureLines } from '../report.js';
import type { CommandShell } from '../shell.js';
import { VERSION } from '../version.js';
import { registrySubject } from './origin.js';
import { cosignKey, isEncryptedCosignKey, simpleKey } from './signers.js';
import { detachedStores, type DetachedOptions } from './stores.js';

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
    let simple: Awaited<ReturnType<typeof simpleKey>> | undefined;
    let cosign: Awaited<ReturnType<typeof cosignKey>> | undefined;
    if (opts.format === 'simple') {
      const passphrase = await passphraseFor(shell, ctx, opts, false);
      simple = await simpleKey({ key: key, passphrase, gpgHome: String(ctx.signerSettings.gpg?.gpgHome ?? gpgHomeFromEnv(ctx.env)), gpgBinary: gpgBinaryFromEnv(ctx.env), env: ctx.system.childEnv ?? { PATH: '/usr/local/bin:/usr/bin:/bin' } });
    } else {
      let encrypted = false;
      try {
        encrypted = isEncryptedCosignKey(new Uint8Array(await readFile(key)));
      } catch {
        /* cosignKey reports it */
      }
      cosign = await cosignKey(key, encrypted ? await passphraseFor(shell, ctx, opts, true) : undefined);
    }
    const integrity = integrityVerdict(await runVerify(ctx, ref, { verify: uncheckedVerify }));
    shell.progress.clear();
    if (!integrity.ok) {
      for (const line of verifyFailureLines(integrity)) shell.out.err(`${shell.out.prog}: error: ${line}\n`);
      if (shell.json) shell.writeJson({ ...input(), exitCode: ExitCodes.NotTrusted, error: { code: 'DigestMismatch', message: 'the image failed its integrity check; nothing was signed', exitCode: ExitCodes.NotTrusted }, failures: verifyFailureLines(integrity) });
      else shell.out.out(`NOT signed: ${integrity.reference} failed its integrity check\n`);
      return ExitCodes.NotTrusted;
    }
    if (!shell.json) shell.out.out('Integrity check passed.\n');
    const source = await ref.newSource(ctx.system);
    let top;
    try {
      top = await readManifest(source);
    } finally {
      await source.close();
    }
    if (top.digest !== integrity.digest) throw new DsvError('DigestMismatch', `${ref.toString()} changed while it was verified (${integrity.digest}, now ${top.digest})`);
    const found = await registrySubject(ctx, stores, ref, top);
    if (!found) {
      throw new DsvError('Usage', `${ref.toString()}: a ${opts.format} signature is stored beside a registry image, and dsv knows no registry manifest of this image (sign the registry image, docker://HOST/REPO:TAG)`);
    }
    const subject = found.subject;
    const identity = opts.signIdentity ?? subject.dockerReference;
    const signed: Signed = { format: opts.format, bundle: opts.cosignBundle === true, image: ref.toString(), manifestDigest: subject.manifestDigest, signedReference: subject.dockerReference, identity, key: {}, stored: '' };
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
