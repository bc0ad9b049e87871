/**
 * Docker Content Trust as the docker CLI sets it up: which collection (GUN) an image names, which trust
 * server serves it (--server, DOCKER_CONTENT_TRUST_SERVER, else the CLI's default), the trust dir and the
 * server's CA under DOCKER_CONFIG, and the registry's credentials for the server's token auth.
 */
import { existsSync } from 'node:fs';
import { DsvError, parseDockerReference } from '@dsv/core/formats';
import { knownTransportOf } from '@dsv/core/transport';
import type { NotaryClient } from '@dsv/trust-notary';
import type { CliContext } from '../context.js';
import { contentTrustFromEnv } from '../environment.js';

/** An image or repository as DCT names it. */
export interface TrustTarget {
  /** What the user typed. */
  input: string;
  registry: string;
  repository: string;
  /** The trust collection: `<registry>/<repository>` (docker.io/library/… for Docker Hub). */
  gun: string;
  /** The tag, when the input names one (a bare REPO names none). */
  tag?: string;
}

/**
 * `[docker://]host/repo[:tag]` → the collection and tag. DCT signs tags of registry images: another
 * transport, or a digest, is a usage error.
 */
export function parseTrustTarget(input: string, opts: { known?: readonly string[]; defaultRegistry?: string } = {}): TrustTarget {
  if (knownTransportOf(input, opts.known ?? []) !== 'docker')
    throw new DsvError('Usage', `"${input}": Docker Content Trust signs registry images; give [docker://]HOST/REPO[:TAG]`);
  const s = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const ref = parseDockerReference(s, opts.defaultRegistry ? { defaultRegistry: opts.defaultRegistry } : {});
  if (ref.digest) throw new DsvError('Usage', `"${input}": Docker Content Trust signs tags; name a tag, not a digest`);
  const last = s.slice(s.lastIndexOf('/') + 1);
  const t: TrustTarget = { input, registry: ref.registry, repository: ref.repository, gun: `${ref.registry}/${ref.repository}` };
  if (last.includes(':') && ref.tag) t.tag = ref.tag;
  return t;
}

export interface OpenedTrust {
  client: NotaryClient;
  /** The trust server URL used. */
  server: string;
  trustDir: string;
  /** The CA file used beside the system roots, when it exists. */
  caFile?: string;
}

/** A Notary client for `target` with the docker CLI's trust dir, CA file and credentials (the caller closes it). */
export async function openTrust(ctx: CliContext, target: TrustTarget, opts: { server?: string } = {}): Promise<OpenedTrust> {
  const [{ NotaryClient, bearerAuthorizer, dockerTrustPaths, trustServerFor }, { resolveCredentials }] = await Promise.all([
    import('@dsv/trust-notary'),
    import('@dsv/source-registry'),
  ]);
  const settings = contentTrustFromEnv(ctx.env);
  const server = trustServerFor(target.registry, opts.server ?? settings.server).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new DsvError('Usage', `trust server "${server}" is not a URL (https://HOST[:PORT])`);
  }
  if (url.protocol !== 'https:') throw new DsvError('Usage', `trust server "${server}" must be an https:// URL (as the docker CLI requires)`);
  const { trustDir, caFile } = dockerTrustPaths(settings.dockerConfigDir, server);
  const haveCa = existsSync(caFile);
  ctx.debug(`trust server ${server}; trust dir ${trustDir}; CA ${haveCa ? caFile : 'system roots only'}`);
  const credentials = async () => {
    const c = await resolveCredentials(target.registry, {
      credentialsStore: settings.credentialsStore,
      ...(ctx.system.childEnv ? { childEnv: ctx.system.childEnv } : {}),
      debug: ctx.debug,
    });
    return c?.username !== undefined && c.password !== undefined ? { username: c.username, password: c.password } : undefined;
  };
  const client = new NotaryClient({
    server,
    trustDir,
    caFiles: haveCa ? [caFile] : [],
    authorize: bearerAuthorizer({ gun: target.gun, credentials }),
  });
  return { client, server, trustDir, ...(haveCa ? { caFile } : {}) };
}
