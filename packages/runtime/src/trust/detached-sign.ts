/**
 * `dsv trust migrate --to simple|cosign`: a detached signature over the DCT-signed manifest digest, written
 * where `dsv sign --format simple|cosign` writes it (the registries.d lookaside store or the registry's
 * extension API; the cosign `.sig` tag), with the keys that command takes. The image is not changed.
 */
import { readFile } from 'node:fs/promises';
import type { CliContext } from '../context.js';
import { cosignPasswordFromEnv, gpgBinaryFromEnv, gpgHomeFromEnv } from '../environment.js';
import { isInteractive } from '../io.js';
import { promptSecretOnTty, resolveKeyName, resolvePassphrase } from '../keys.js';
import type { CommandShell } from '../shell.js';
import { VERSION } from '../version.js';

export interface DetachedMigrateSigner {
  /** The key as reports name it (fingerprint or key id). */
  keyId(): Promise<string | undefined>;
  /** Signs `manifestDigest` for `dockerReference` (host/repo:tag); returns where the signature is (or would be) stored. */
  sign(dockerReference: string, manifestDigest: string, dryRun: boolean): Promise<string>;
  close(): Promise<void>;
}

export interface DetachedMigrateOptions {
  to: 'simple' | 'cosign';
  key?: string;
  passphraseFile?: string;
  registriesD?: string;
}

/** Loads the key (a bad key or a missing store fails here, before any tag is checked). */
export async function detachedMigrateSigner(ctx: CliContext, shell: CommandShell, opts: DetachedMigrateOptions): Promise<DetachedMigrateSigner> {
  const [{ detachedStores }, signers] = await Promise.all([import('../detached/stores.js'), import('../detached/signers.js')]);
  const key = resolveKeyName(opts.key, ctx.env as NodeJS.ProcessEnv, `--key (${opts.to === 'cosign' ? 'cosign.key or a PEM private key' : 'an OpenPGP key file, or a key id / fingerprint in the GnuPG home'})`);
  const passphrase = async (cosign: boolean): Promise<string> => {
    const env = { ...ctx.env } as NodeJS.ProcessEnv;
    const cp = cosign ? cosignPasswordFromEnv(ctx.env) : undefined;
    if (env.DSV_KEYPASS === undefined && cp !== undefined) env.DSV_KEYPASS = cp;
    const io = shell.io;
    const { passphrase: p } = await resolvePassphrase(
      opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {},
      env,
      { interactive: isInteractive(io), promptSecret: (q) => promptSecretOnTty(q, io.stdin, io.stderr) },
      `Passphrase for ${key} (empty for none): `,
    );
    shell.out.addSecret(p);
    return p;
  };
  const stores = await detachedStores(ctx, opts.registriesD !== undefined ? { registriesD: opts.registriesD } : {});
  try {
    if (opts.to === 'simple') {
      const simple = await signers.simpleKey({
        key,
        passphrase: await passphrase(false),
        gpgHome: String(ctx.signerSettings.gpg?.gpgHome ?? gpgHomeFromEnv(ctx.env)),
        gpgBinary: gpgBinaryFromEnv(ctx.env),
        env: ctx.system.childEnv ?? { PATH: '/usr/local/bin:/usr/bin:/bin' },
      });
      const { createSimpleSignature } = await import('@dsv/signature-simple');
      return {
        keyId: async () => {
          const d = await simple.describe();
          return d.fingerprint ?? d.keyId;
        },
        async sign(ref, digest, dryRun) {
          const where = await stores.simpleWriteTarget(ref);
          if (dryRun) return where;
          const sig = await createSimpleSignature({ dockerReference: ref, manifestDigest: digest, signer: simple.signer, creator: `dsv ${VERSION}` });
          return stores.writeSimple(ref, digest, sig);
        },
        close: () => stores.close(),
      };
    }
    let encrypted = false;
    try {
      encrypted = signers.isEncryptedCosignKey(new Uint8Array(await readFile(key)));
    } catch {
      /* cosignKey reports it */
    }
    const cosign = await signers.cosignKey(key, encrypted ? await passphrase(true) : undefined);
    const { signImage } = await import('@dsv/signature-cosign');
    return {
      keyId: async () => cosign.keyId,
      async sign(ref, digest, dryRun) {
        const p = stores.parseDocker(ref);
        const where = `${p.registry}/${p.repository}:${digest.replace(':', '-')}.sig`;
        if (dryRun) return where;
        const store = await stores.tagStore(ref);
        const written = await signImage(store, { dockerReference: ref, manifestDigest: digest, privateKey: cosign.key });
        return `${where}${written ? ` (${written})` : ' (already signed so; unchanged)'}`;
      },
      close: () => stores.close(),
    };
  } catch (e) {
    await stores.close();
    throw e;
  }
}
