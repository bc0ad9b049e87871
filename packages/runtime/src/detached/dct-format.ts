/**
 * Docker Content Trust as a policy format for the `dockerContentTrust` requirement: the image's tag must be
 * signed in its Notary v1 trust data (TUF chain from the root pinned in the docker CLI's trust dir), and the
 * signed target (sha256 and length) must be the manifest judged. The trust server as `dsv verify --dct`
 * picks it: the requirement's `server`, else DOCKER_CONTENT_TRUST_SERVER, else the docker CLI's default.
 */
import type { PolicyImage, SignatureCandidate, SignatureFact, SignatureFormat } from '@dsv/policy';
import type { CliContext } from '../context.js';
import { transportNames } from '../transports.js';

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (code === 'NoSignatures') return 'unsigned';
  if (code === 'DigestMismatch' || code === 'SizeMismatch') return 'digest-mismatch';
  return typeof code === 'string' ? code : 'error';
}

/** The DCT format; one candidate per image (its tag's trust data), verified against the requirement's server. */
export function dctFormat(ctx: CliContext): SignatureFormat {
  return {
    name: 'docker-content-trust',
    requirementTypes: ['dockerContentTrust'] as const,
    async listSignatures(image: PolicyImage): Promise<SignatureCandidate[]> {
      // The image's registry reference (a local image: the one it came from); DCT has nothing else to say.
      if (image.dockerReference === undefined) return [];
      return [{ origin: `trust data for ${image.dockerReference}`, data: image.dockerReference }];
    },
    async verifySignature(candidate, _keys, image, vctx): Promise<SignatureFact> {
      const req = vctx.requirement;
      if (req.type !== 'dockerContentTrust') return { valid: false, code: 'unsupported', reason: `trust data cannot satisfy ${req.type}` };
      const reference = candidate.data as string;
      const { openTrust, parseTrustTarget } = await import('../trust/notary.js');
      let target;
      try {
        target = parseTrustTarget(`docker://${reference}`, { known: transportNames(ctx.manifests), ...(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {}) });
      } catch (e) {
        return { valid: false, code: 'unsupported', reason: errorText(e) };
      }
      if (target.tag === undefined) return { valid: false, code: 'unsupported', reason: `${reference} names no tag; Docker Content Trust signs tags` };
      let server = req.server ?? 'the trust server';
      try {
        const trust = await openTrust(ctx, target, req.server !== undefined ? { server: req.server } : {});
        server = trust.server;
        try {
          const signed = await trust.client.verifyTag(target.gun, target.tag);
          ctx.debug(`${target.gun}:${target.tag}: trust data at ${trust.server} signs ${signed.digest} (${signed.length} bytes) in ${signed.role}`);
          if (image.manifestBytes && signed.digest === image.manifestDigest) {
            const { assertManifestMatches } = await import('@dsv/trust-notary');
            assertManifestMatches(signed, image.manifestBytes);
          }
          const { signerNames } = await import('../trust/check.js');
          return {
            valid: true,
            manifestDigest: signed.digest,
            signer: `${signerNames([signed.role]).join(', ')} (${signed.role})`,
            ...(signed.canonicalKeyIds.length ? { keyId: signed.canonicalKeyIds.join(', ') } : {}),
            reason: `${target.gun}:${target.tag} signed in ${signed.role} at ${trust.server}`,
          };
        } finally {
          await trust.client.close();
        }
      } catch (e) {
        return { valid: false, code: codeOf(e), reason: `${server}: ${errorText(e)}` };
      }
    },
  };
}
