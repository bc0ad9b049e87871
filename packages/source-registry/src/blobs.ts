// Blob reads: HEAD for existence, and downloads as one checked stream that resumes a broken connection.
import { Readable } from 'node:stream';
import { DsvError, Digester, parseDigest, type Digest } from '@dsv/core/formats';
import type { SystemContext } from '@dsv/core/transport';
import { transferTimeoutMs } from './deadline.js';
import { checkRepo, pullScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import type { RawResponse } from './types.js';
import { backoff, header, isTransientNetworkError, networkError, registryError } from './util.js';

/**
 * GET of a blob from `offset`. Its deadline (answer included) is the request deadline plus the time the
 * bytes take at 64 KiB/s: `size` when the descriptor gives it, else the answer's Content-Length. A blob of
 * neither is held to the idle timeout alone (and a size mismatch, once it ends).
 */
async function openBlob(p: Pipeline, repo: string, digest: string, offset: number, size: number | undefined): Promise<RawResponse> {
  const what = `blob ${digest} in ${repo}`;
  const base = p.cfg.requestTimeoutMs;
  const res = await p.send({
    what,
    method: 'GET',
    url: await p.url(`/v2/${repo}/blobs/${digest}`),
    headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    scopes: [pullScope(repo)],
    followRedirects: true,
    timeoutMs: transferTimeoutMs(base, size === undefined ? undefined : Math.max(0, size - offset)),
  });
  if (size === undefined) {
    const cl = header(res.headers, 'content-length');
    res.deadline?.extend(cl !== undefined && /^\d+$/.test(cl) ? transferTimeoutMs(base, Number(cl)) : Number.POSITIVE_INFINITY);
  }
  return p.expect(res, offset > 0 ? [200, 206] : [200], what, { digest, repository: repo });
}

/**
 * A blob as a stream. Hashes while streaming and fails (instead of ending) when the bytes do not
 * match `digest` (and `size`, when given); a connection that breaks mid-blob is resumed with a
 * Range request (or restarted, skipping what was already delivered), so the caller sees one
 * consistent stream.
 */
export async function getBlob(p: Pipeline, repository: string, digest: string, opts: { size?: number; verify?: boolean } = {}): Promise<Readable> {
  const repo = checkRepo(repository);
  const parsed = parseDigest(digest);
  const first = await openBlob(p, repo, parsed.digest, 0, opts.size);
  const what = `blob ${parsed.digest}`;
  let resumes = 0;
  return new BlobDownload(first, {
    what,
    digest: parsed.digest,
    repository: repo,
    size: opts.size,
    digester: opts.verify !== false ? new Digester(parsed.algorithm) : undefined,
    onProgress: p.cfg.ctx.onProgress,
    resume: async (received, error, url) => {
      if (error instanceof DsvError && error.code !== 'Network') throw error;
      if (!isTransientNetworkError(error) || resumes >= p.cfg.retryTimes || p.cfg.ctx.signal?.aborted) {
        throw error instanceof DsvError ? error : networkError(error, `${what} in ${repo}: download broke off after ${received} bytes`, url, 'GET');
      }
      resumes++;
      p.cfg.stats.resumes++;
      p.cfg.debug(`${what}: connection broke after ${received} bytes; resuming (${resumes}/${p.cfg.retryTimes})`);
      await p.cfg.sleep(backoff(resumes - 1, p.cfg.retryBaseDelayMs), p.cfg.ctx.signal);
      const res = await openBlob(p, repo, parsed.digest, received, opts.size);
      if (res.status === 206) {
        const cr = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
        if (cr && Number(cr[1]) === received) return { res, skip: 0 };
        await res.body.dump().catch(() => undefined);
        return { res: await openBlob(p, repo, parsed.digest, 0, opts.size), skip: received };
      }
      return { res, skip: received };
    },
  });
}

/** HEAD a blob: true when the repository has it. */
export async function hasBlob(p: Pipeline, repository: string, digest: string): Promise<boolean> {
  const repo = checkRepo(repository);
  const d = parseDigest(digest).digest;
  const what = `blob ${d} in ${repo}`;
  const res = await p.send({ what, method: 'HEAD', url: await p.url(`/v2/${repo}/blobs/${d}`), scopes: [pullScope(repo)], followRedirects: true });
  await res.body.dump().catch(() => undefined);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw registryError(res.status, Buffer.alloc(0), { what, host: p.cfg.registry, details: { digest: d } });
}

/**
 * A blob download as one stream. Chunks are pushed as the response delivers them (no per-chunk
 * promises: this is the hot path of every copy and verify), checked against the size and, with a
 * digester, the digest before the stream ends — a mismatch fails it instead. A response that breaks
 * off is replaced by `resume(received)`'s, skipping the bytes already delivered when it starts over.
 */
class BlobDownload extends Readable {
  private res: RawResponse;
  private flowing = false;
  private received = 0;
  private skip = 0;
  private lastProgress = 0;

  constructor(
    first: RawResponse,
    private readonly o: {
      what: string;
      digest: Digest;
      repository: string;
      size: number | undefined;
      digester: Digester | undefined;
      onProgress: SystemContext['onProgress'];
      resume(received: number, error: unknown, url: URL): Promise<{ res: RawResponse; skip: number }>;
    },
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.res = first;
  }

  override _read(): void {
    if (this.flowing) this.res.body.resume();
    else this.listen(this.res);
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.res.body.destroy();
    cb(error);
  }

  private listen(res: RawResponse): void {
    this.res = res;
    this.flowing = true;
    const current = () => this.res === res && !this.destroyed;
    res.body.on('data', (chunk: Buffer) => {
      if (current()) this.deliver(chunk);
    });
    res.body.once('end', () => {
      if (current()) this.finish();
    });
    res.body.once('error', (e: unknown) => {
      if (!current()) return;
      this.o.resume(this.received, e, res.url).then(
        (next) => {
          if (this.destroyed) return void next.res.body.destroy();
          this.skip = next.skip;
          this.listen(next.res);
        },
        (error: Error) => this.destroy(error),
      );
    });
  }

  private deliver(raw: Buffer): void {
    let chunk = raw;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    const { size, what, digest } = this.o;
    this.received += chunk.length;
    if (size !== undefined && this.received > size) {
      this.destroy(new DsvError('SizeMismatch', `${what}: more than the expected ${size} bytes`, { digest, expectedSize: size }));
      return;
    }
    this.o.digester?.update(chunk);
    if (this.o.onProgress && (this.received - this.lastProgress >= 1 << 20 || this.received === size)) {
      this.lastProgress = this.received;
      this.o.onProgress({ id: digest, done: this.received, total: size, phase: 'read' });
    }
    if (!this.push(chunk)) this.res.body.pause();
  }

  private finish(): void {
    const { size, what, digest, digester, repository } = this.o;
    if (size !== undefined && this.received !== size) {
      this.destroy(new DsvError('SizeMismatch', `${what}: expected ${size} bytes, got ${this.received}`, { digest, expectedSize: size, actualSize: this.received }));
      return;
    }
    const actual = digester?.digest();
    if (actual !== undefined && actual !== digest) {
      this.destroy(new DsvError('DigestMismatch', `${what}: content digest ${actual} does not match`, { digest, actual, repository }));
      return;
    }
    this.push(null);
  }
}
