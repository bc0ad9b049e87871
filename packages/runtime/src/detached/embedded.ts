/**
 * dsv's embedded signatures (the docker-sign-verify label in each image configuration) as the policy
 * format for `dsvSigned`: the requirement's keys and PKI roots become trust files of today's routing
 * verifier (gpg / pki plugins, nothing trusted from a GnuPG home or PKI datastore), and the image is
 * signed when every platform image has a valid signature by one of them over its current digests.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectImage, type InspectResult } from '@dsv/core/operations';
import type { VerificationResult } from '@dsv/core/formats';
import type { ImageReference } from '@dsv/core/transport';
import type { KeyMaterial, PolicyImage, SignatureCandidate, SignatureFact, SignatureFormat } from '@dsv/policy';
import type { CliContext } from '../context.js';

/** What judgeImage puts in PolicyImage.context for the embedded format: the image where it lives. */
export interface EmbeddedContext {
  local: ImageReference;
  platform?: string;
}

function localOf(image: PolicyImage): EmbeddedContext | undefined {
  const c = image.context as Partial<EmbeddedContext> | undefined;
  return c?.local ? (c as EmbeddedContext) : undefined;
}

/** Which trust type a key file's bytes are (OpenPGP → gpg, PEM/DER certificate or key → pki). */
function keyType(k: KeyMaterial): 'gpg' | 'pki' {
  if (k.kind === 'pki-roots') return 'pki';
  const head = Buffer.from(k.bytes.subarray(0, 64 * 1024)).toString('latin1');
  if (head.includes('-----BEGIN PGP ')) return 'gpg';
  if (/-----BEGIN [A-Z0-9 ]*(CERTIFICATE|PUBLIC KEY)-----/.test(head) || k.bytes[0] === 0x30) return 'pki';
  return 'gpg';
}

async function inspect(ctx: CliContext, e: EmbeddedContext, verify?: (d: Uint8Array, s: string) => Promise<VerificationResult>): Promise<InspectResult> {
  const source = await e.local.newSource(ctx.system);
  try {
    return await inspectImage(source, verify, { ...(e.platform ? { platform: e.platform } : {}), ...(e.local.digest ? { expectedDigest: e.local.digest } : {}) });
  } finally {
    await source.close();
  }
}

/** A verify function trusting exactly `keys` (written to a private temp dir for the plugins, removed after `use`). */
export async function withKeysVerifier<T>(ctx: CliContext, keys: KeyMaterial[], use: (verify: (d: Uint8Array, s: string) => Promise<VerificationResult>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dsv-keys-'));
  try {
    const trustByType: Record<string, string[]> = {};
    for (const [i, k] of keys.entries()) {
      const path = join(dir, `key-${i}`);
      await writeFile(path, k.bytes, { mode: 0o600 });
      (trustByType[keyType(k)] ??= []).push(path);
    }
    const settingsByType: Record<string, Record<string, unknown>> = {
      ...ctx.signerSettings,
      gpg: { ...(ctx.signerSettings.gpg ?? {}), gpgHome: join(dir, 'no-gnupg-home') },
      pki: { ...(ctx.signerSettings.pki ?? {}), datastore: false },
    };
    const verifier = await ctx.signers.verifier({ trustByType, settingsByType });
    return await use(verifier);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function embeddedFormat(ctx: CliContext): SignatureFormat {
  return {
    name: 'embedded',
    requirementTypes: ['dsvSigned'],
    async listSignatures(image: PolicyImage): Promise<SignatureCandidate[]> {
      const e = localOf(image);
      if (!e) return [];
      const r = await inspect(ctx, e);
      const n = r.images.reduce((a, i) => a + i.signatures.length, 0);
      return n === 0 ? [] : [{ origin: `embedded signatures (${n})`, data: e }];
    },
    async verifySignature(candidate: SignatureCandidate, keys: KeyMaterial[]): Promise<SignatureFact> {
      const e = candidate.data as EmbeddedContext;
      if (keys.length === 0) return { valid: false, code: 'unknown-key', reason: 'no keys to verify with' };
      const r = await withKeysVerifier(ctx, keys, (verify) => inspect(ctx, e, verify));
      let first: SignatureFact | undefined;
      for (const img of r.images) {
        const ok = img.signatures.find((s) => s.status === 'valid' && s.digestMatches);
        const where = img.platform ?? img.manifestDigest;
        if (!ok) {
          const why = img.signatures.map((s) => `${s.index}: ${!s.digestMatches ? 'digest changed after signing' : s.reason ?? s.status}`).join('; ');
          return { valid: false, code: img.signatures.some((s) => s.status !== 'unknown-key') ? 'bad-signature' : 'unknown-key', reason: `${where}: no valid embedded signature by these keys${why ? ` (${why})` : ''}` };
        }
        first ??= { valid: true, ...(ok.keyId ?? ok.fingerprint ? { keyId: (ok.fingerprint ?? ok.keyId)! } : {}), ...(ok.signer ? { signer: ok.signer } : {}) };
      }
      return first ?? { valid: false, code: 'malformed', reason: 'no image' };
    },
  };
}
