// One RegistryClient per registry and configuration within a run (SystemContext.runResources): the key that says two clients are interchangeable, and the client whose close() leaves it to the run.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { RunResources, SystemContext } from '@dsv/core/transport';
import { RegistryClient } from './client.js';
import type { RegistryClientOptions } from './types.js';

/**
 * A client the run shares: close() from a source or destination leaves it open; the run's end shuts it.
 * A blob another image of the run is uploading (or has uploaded) to the same repository is not sent again:
 * the second reads its own stream to the end (so the caller's digest checks still run) and ends as the first
 * upload ends; an upload that failed before is not shared. Besides the bytes saved, this keeps two uploads of
 * one blob from racing in the registry: distribution 2.8 rewrites the repository's link file on each commit,
 * and a manifest PUT that read it mid-rewrite was refused (MANIFEST_BLOB_UNKNOWN) in a parallel sync of
 * images sharing layers.
 */
export class SharedRegistryClient extends RegistryClient {
  private readonly uploads = new Map<string, Promise<void>>();

  override async close(): Promise<void> {
    // Shared by the run's other images: the run closes it (shutdown()).
  }

  override async uploadBlob(
    repository: string,
    digest: string,
    stream: Readable | AsyncIterable<Uint8Array>,
    opts: { size?: number; chunkSize?: number; verify?: boolean } = {},
  ): Promise<void> {
    const key = `${repository}@${digest}`;
    const earlier = this.uploads.get(key);
    if (earlier) {
      // Read this image's stream while the first upload runs: its own checks run as it is read, and a source
      // body left idle until then would hit the source's timeout. Its bytes are gone, so when the first upload
      // fails this one fails with it.
      const drain = async () => {
        for await (const _ of stream) {
          // discarded: the registry gets the first upload's bytes
        }
      };
      const [failure] = await Promise.all([earlier.then(() => undefined, (e: unknown) => e), drain()]);
      if (failure !== undefined) throw failure;
      return;
    }
    const upload = super.uploadBlob(repository, digest, stream, opts);
    this.uploads.set(key, upload);
    try {
      await upload;
    } catch (e) {
      if (this.uploads.get(key) === upload) this.uploads.delete(key);
      throw e;
    }
  }

  /** Closes the connections for good (the run's end). */
  shutdown(): Promise<void> {
    return super.close();
  }
}

const ids = new WeakMap<object, number>();
let nextId = 1;

function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

/**
 * A stable text of `value`: plain objects (keys sorted) and arrays by content, anything else that is not a
 * primitive (functions, an AbortSignal, class instances) by identity — two configurations are the same only
 * when every setting is equal and every callback, signal and resolver is the very same object.
 */
function stable(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function') return `#${idOf(value)}`;
    if (typeof value === 'bigint') return `${value}n`;
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return `#${idOf(value)}`;
  const rec = value as Record<string, unknown>;
  return `{${Object.keys(rec).sort().filter((k) => rec[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stable(rec[k])}`).join(',')}}`;
}

/**
 * The run-scoped key of a client: the registry, the client options and the whole SystemContext but its
 * runResources, with the credentials this registry gets (credentials included, so another registry's or another
 * side's credentials never share a client). Its credentials count as clientConfig reads them: a context naming
 * them in `registryAuth` for this registry and one naming the same at its top level share a client.
 * Hashed: the key holds no secret.
 */
export function sharedClientKey(opts: RegistryClientOptions): string {
  const { ctx, registry, ...rest } = opts;
  const reg = registry.toLowerCase();
  const text = `{"registry":${JSON.stringify(reg)},"options":${stable(rest)},"ctx":${contextText(ctx)},"auth":${authText(ctx, reg)}}`;
  return `registry-client:${createHash('sha256').update(text).digest('hex')}`;
}

/** The credentials settings `registry` gets from `ctx` (clientConfig's choice between registryAuth and the top level). */
function authText(ctx: SystemContext | undefined, registry: string): string {
  const auth = ctx?.registryAuth?.[registry];
  return stable({
    credentialsFiles: auth?.credentialsFiles ?? ctx?.credentialsFiles,
    registryCredentials: auth ? auth.registryCredentials : ctx?.registryCredentials,
  });
}

const contextTexts = new WeakMap<SystemContext, string>();

/**
 * The stable text of a SystemContext but its runResources and credentials (authText), once per context object: a
 * run hands the same context to every image, and it holds the child processes' whole environment, so writing it out
 * on every client request was a fifth of all a sync allocated (bench/NOTES.md §20). A context is not changed once a
 * transport has it.
 */
function contextText(ctx: SystemContext | undefined): string {
  if (!ctx) return stable({});
  let text = contextTexts.get(ctx);
  if (text === undefined) {
    const { runResources: _run, registryAuth: _auth, credentialsFiles: _files, registryCredentials: _creds, ...settings } = ctx;
    text = stable(settings);
    contextTexts.set(ctx, text);
  }
  return text;
}

/** The client for `opts`: the run's shared one when the context has run resources, else a new one the caller closes. */
export function clientFor(opts: RegistryClientOptions & { ctx?: SystemContext }): RegistryClient {
  const run: RunResources | undefined = opts.ctx?.runResources;
  if (!run) return new RegistryClient(opts);
  return run.shared(sharedClientKey(opts), () => {
    const client = new SharedRegistryClient(opts);
    return { client, close: () => client.shutdown() };
  }).client;
}
