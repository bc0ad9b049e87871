// Blob writes: cross-repository mounts and the three upload strategies (monolithic, one streamed body, PATCH chunks), each committed only once digest and size check out.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { DsvError, Digester, parseDigest, type Digest } from '@dsv/core/formats';
import { hasBlob } from './blobs.js';
import { checkRepo, pullScope, pushScope } from './names.js';
import type { Pipeline } from './pipeline.js';
import type { RawResponse } from './types.js';

/**
 * Cross-repository mount (`POST …/blobs/uploads/?mount=&from=`). True when the registry mounted the
 * blob (201); false when it started an upload instead (that session is cancelled).
 */
export async function mountBlob(p: Pipeline, repository: string, digest: string, fromRepository: string): Promise<boolean> {
  const repo = checkRepo(repository);
  const from = checkRepo(fromRepository);
  const d = parseDigest(digest).digest;
  const what = `mount of ${d} from ${from} into ${repo}`;
  p.cfg.stats.mountAttempts++;
  const url = await p.url(`/v2/${repo}/blobs/uploads/`);
  url.searchParams.set('mount', d);
  url.searchParams.set('from', from);
  const res = await p.send({ what, method: 'POST', url, headers: { 'content-length': '0' }, body: Buffer.alloc(0), scopes: [pushScope(repo), pullScope(from)] });
  if (res.status === 201) {
    await res.body.dump().catch(() => undefined);
    p.cfg.stats.mounts++;
    p.cfg.debug(`${what}: mounted (no upload)`);
    return true;
  }
  if (res.status === 202) {
    await res.body.dump().catch(() => undefined);
    const loc = await p.sameOriginLocation(res, what).catch(() => undefined);
    if (loc) await cancelUpload(p, repo, loc);
    p.cfg.debug(`${what}: not mounted; will upload`);
    return false;
  }
  await p.expect(res, [201], what, { digest: d, repository: repo, from });
  return false;
}

async function startUpload(p: Pipeline, repo: string, what: string): Promise<URL> {
  const res = await p.send({
    what,
    method: 'POST',
    url: await p.url(`/v2/${repo}/blobs/uploads/`),
    headers: { 'content-length': '0' },
    body: Buffer.alloc(0),
    scopes: [pushScope(repo)],
  });
  await p.expect(res, [202], what, { repository: repo });
  await res.body.dump().catch(() => undefined);
  return p.sameOriginLocation(res, what);
}

async function cancelUpload(p: Pipeline, repo: string, location: URL): Promise<void> {
  try {
    const res = await p.send({ what: `cancel upload in ${repo}`, method: 'DELETE', url: location, scopes: [pushScope(repo)] });
    await res.body.dump().catch(() => undefined);
    p.cfg.debug(`upload in ${repo} cancelled (${res.status})`);
  } catch (e) {
    p.cfg.debug(`cancelling upload in ${repo} failed: ${(e as Error).message}`);
  }
}

/**
 * Uploads a blob, hashing while it streams; the final PUT (the commit) is sent only when digest and
 * size match — otherwise the upload is cancelled (DELETE) and DigestMismatch/SizeMismatch thrown.
 * Small blobs of known size go monolithically (POST + one PUT with the body), others in one streamed
 * PATCH, or in PATCH chunks of `chunkSize` bytes (option or constructor default).
 */
export async function uploadBlob(
  p: Pipeline,
  repository: string,
  digest: string,
  stream: Readable | AsyncIterable<Uint8Array>,
  opts: { size?: number; chunkSize?: number; verify?: boolean } = {},
): Promise<void> {
  const repo = checkRepo(repository);
  const parsed = parseDigest(digest);
  const size = opts.size;
  const chunkSize = opts.chunkSize ?? p.cfg.chunkSize;
  const what = `upload of blob ${parsed.digest} to ${repo}`;
  const label = `blob ${parsed.digest}`;
  let location = await startUpload(p, repo, what);
  let committed = false;
  // verify: false is for streams that check themselves (they error on a mismatch, which cancels the
  // upload, and deliver their last chunk only once checked): the bytes are not hashed a second time.
  const hashing = opts.verify !== false;
  const dig = hashing ? new Digester(parsed.algorithm) : byteCounter();
  const check = (n: number) => {
    if (size !== undefined && n > size) {
      throw new DsvError('SizeMismatch', `${label}: more than the expected ${size} bytes`, { digest: parsed.digest, expectedSize: size });
    }
  };
  const progress = (done: number) => p.cfg.ctx.onProgress?.({ id: parsed.digest, done, total: size, phase: 'write' });
  const verify = () => {
    if (size !== undefined && dig.size !== size) {
      throw new DsvError('SizeMismatch', `${label}: expected ${size} bytes, got ${dig.size}; upload cancelled`, { digest: parsed.digest, expectedSize: size, actualSize: dig.size });
    }
    if (!hashing) return;
    const actual = dig.digest();
    if (actual !== parsed.digest) {
      throw new DsvError('DigestMismatch', `${label}: content digest ${actual} does not match; upload cancelled`, { digest: parsed.digest, actual, repository: repo });
    }
  };
  // A request body that counts (and hashes) the bytes on their way; its last chunk is held back until
  // size and digest are checked, so a bad or failing stream never completes a request body.
  const checkedBody = (): { body: Transform; source: Readable } => {
    let held: Buffer | undefined;
    const body = new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        try {
          dig.update(chunk);
          check(dig.size);
          const out = held;
          held = chunk;
          cb(null, out);
        } catch (e) {
          cb(e as Error);
        }
      },
      flush(cb: TransformCallback) {
        try {
          verify();
          cb(null, held);
        } catch (e) {
          cb(e as Error);
        }
      },
    });
    const source = stream instanceof Readable ? stream : Readable.from(stream);
    source.on('error', (e) => body.destroy(e));
    source.pipe(body);
    return { body, source };
  };
  const commitUrl = () => {
    const u = new URL(location.href);
    u.searchParams.set('digest', parsed.digest);
    return u;
  };
  // The final PUT; a streamed body completes only once checked (it holds its last chunk until then). When
  // its answer is lost (a retried PUT then finds the session gone), the blob may be stored all the same:
  // a HEAD decides.
  const commit = async (headers: Record<string, string>, body: Buffer | Readable) => {
    try {
      const res = await p.send({ what, method: 'PUT', url: commitUrl(), headers, body, scopes: [pushScope(repo)] });
      await p.expect(res, [201], what, { digest: parsed.digest, repository: repo });
      await res.body.dump().catch(() => undefined);
    } catch (e) {
      // A failed body (a source error destroys it too) surfaces as a request failure: report its own error.
      if (body instanceof Readable && body.errored) throw body.errored;
      if (e instanceof DsvError && ['NotFound', 'Network', 'RemoteError'].includes(e.code) && (await hasBlob(p, repo, parsed.digest).catch(() => false))) {
        p.cfg.debug(`${what}: the commit failed (${e.code}) but the registry has the blob`);
        return;
      }
      throw e;
    }
  };
  try {
    if (!chunkSize && size !== undefined && size <= p.cfg.monolithicMaxBytes) {
      // Monolithic: buffer (bounded by the size), check, then one PUT carrying the bytes.
      const parts: Buffer[] = [];
      for await (const c of stream) {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
        dig.update(b);
        check(dig.size);
        parts.push(b);
      }
      verify();
      const body = Buffer.concat(parts);
      p.cfg.stats.monolithicUploads++;
      await commit({ 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body);
      committed = true;
      progress(body.length);
      return;
    }
    if (chunkSize) {
      if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new DsvError('Usage', `chunk size must be a positive integer`);
      p.cfg.stats.chunkedUploads++;
      let offset = 0;
      for await (const chunk of rechunk(stream, chunkSize)) {
        dig.update(chunk);
        check(dig.size);
        p.cfg.stats.chunks++;
        const res = await p.send({
          what,
          method: 'PATCH',
          url: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(chunk.length),
            'content-range': `${offset}-${offset + chunk.length - 1}`,
          },
          body: chunk,
          scopes: [pushScope(repo)],
        });
        await p.expect(res, [202], `${what} (chunk at ${offset})`, { digest: parsed.digest, repository: repo });
        await res.body.dump().catch(() => undefined);
        location = await p.sameOriginLocation(res, what);
        offset += chunk.length;
        progress(offset);
      }
      verify();
    } else if (size !== undefined) {
      // Size known: the bytes go in the body of the closing PUT (POST + PUT, as the distribution spec's
      // monolithic upload), one request fewer than PATCH + PUT; a bad stream never completes the declared
      // Content-Length, so the registry never commits it.
      p.cfg.stats.streamedUploads++;
      // A stream that checks itself delivers its last chunk only once checked: it is the body as it is.
      const body = !hashing && stream instanceof Readable ? stream : checkedBody().body;
      await commit({ 'content-type': 'application/octet-stream', 'content-length': String(size) }, body);
      committed = true;
      progress(size);
      return;
    } else {
      // Size unknown: one streamed PATCH (its body checked before it ends), then the closing PUT.
      p.cfg.stats.streamedUploads++;
      const { body, source } = checkedBody();
      let res: RawResponse;
      try {
        res = await p.send({
          what,
          method: 'PATCH',
          url: location,
          headers: { 'content-type': 'application/octet-stream' },
          body,
          scopes: [pushScope(repo)],
        });
      } catch (e) {
        // A source failure surfaces here as a request failure: report the source's own error.
        throw body.errored ?? source.errored ?? e;
      }
      await p.expect(res, [202], what, { digest: parsed.digest, repository: repo });
      await res.body.dump().catch(() => undefined);
      location = await p.sameOriginLocation(res, what);
      progress(dig.size);
    }
    await commit({ 'content-length': '0' }, Buffer.alloc(0));
    committed = true;
  } finally {
    if (!committed) await cancelUpload(p, repo, location);
  }
}

/** Regroups a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of stream) {
    let b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    while (b.length > 0) {
      const take = Math.min(size - have, b.length);
      parts.push(b.subarray(0, take));
      have += take;
      b = b.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/** Counts bytes with a Digester's shape, for uploads whose stream verifies itself. */
function byteCounter(): { update(chunk: Uint8Array): void; readonly size: number; digest(): Digest } {
  let n = 0;
  return {
    update(chunk) {
      n += chunk.length;
    },
    get size() {
      return n;
    },
    digest() {
      throw new Error('byteCounter has no digest');
    },
  };
}
