// containerd's content store over gRPC: Info, streamed Read, and Write (a bidi stream of WRITE chunks
// ending in COMMIT with the expected digest and size), Abort of a failed ingest, label Update.
import { PassThrough, type Readable } from 'node:stream';
import { DsvError, ErrorCodes } from '@dsv/core';
import { GrpcStatus, grpcCode, type CallOptions, type ContainerdClient, type Msg } from './client.js';

const CHUNK = 1024 * 1024;

export interface ContentInfo {
  digest: string;
  size: number;
  labels: Record<string, string>;
}

/** The content's info, or undefined when the namespace does not hold it. */
export async function contentInfo(client: ContainerdClient, digest: string): Promise<ContentInfo | undefined> {
  try {
    const res = await client.unary('content', 'Info', ['InfoRequest', 'InfoResponse'], { digest });
    const info = res.info as Msg;
    return { digest: info.digest, size: Number(info.size), labels: info.labels ?? {} };
  } catch (e) {
    if (grpcCode(e) === GrpcStatus.NOT_FOUND) return undefined;
    throw e;
  }
}

/** Streams the content's bytes (containerd sends them in chunks; backpressure is kept). */
export function readContent(client: ContainerdClient, digest: string): Readable {
  const call = client.serverStream('content', 'Read', ['ReadContentRequest', 'ReadContentResponse'], { digest, offset: 0, size: 0 });
  const out = new PassThrough();
  call.on('data', (m: Msg) => {
    if (!out.write(m.data as Buffer)) {
      call.pause();
      out.once('drain', () => call.resume());
    }
  });
  call.on('error', (err) => out.destroy(grpcCode(err) === GrpcStatus.CANCELLED ? undefined : client.toDsvError(err, `content.Read ${digest}`)));
  call.on('end', () => out.end());
  out.on('close', () => {
    if (!out.writableFinished) call.cancel();
  });
  return out;
}

/** Reads a whole (small) content item, refusing more than `limit` bytes. */
export async function readAll(client: ContainerdClient, digest: string, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of readContent(client, digest)) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new DsvError(ErrorCodes.LimitExceeded, `content ${digest} is larger than ${limit} bytes`, { digest });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface WriteOptions extends CallOptions {
  ref: string;
  digest: string;
  size: number;
  labels?: Record<string, string>;
}

/**
 * Writes a stream as content `digest`: containerd checks digest and size on COMMIT and keeps nothing
 * under that digest otherwise. Returns false when the content already existed.
 */
export async function writeContent(client: ContainerdClient, data: Readable, opts: WriteOptions): Promise<boolean> {
  const call = client.bidi('content', 'Write', ['WriteContentRequest', 'WriteContentResponse'], opts);
  let failure: unknown;
  const done = new Promise<void>((resolve) => {
    call.on('data', () => {});
    call.on('error', (err) => {
      failure ??= err;
      resolve();
    });
    call.on('status', () => resolve());
    call.on('end', () => resolve());
  });
  const send = async (m: Msg) => {
    if (!call.write(m)) await new Promise<void>((r) => call.once('drain', () => r()));
  };
  let offset = 0;
  try {
    for await (const chunk of data) {
      const buf = chunk as Buffer;
      for (let i = 0; i < buf.length; i += CHUNK) {
        if (failure !== undefined) break;
        const part = buf.subarray(i, Math.min(buf.length, i + CHUNK));
        await send({ action: 'WRITE', ref: opts.ref, total: opts.size, expected: opts.digest, offset, data: part });
        offset += part.length;
      }
      if (failure !== undefined) break;
    }
    if (failure === undefined) {
      await send({ action: 'COMMIT', ref: opts.ref, total: opts.size, expected: opts.digest, offset, labels: opts.labels ?? {} });
      call.end();
    }
  } catch (e) {
    failure ??= e;
    call.cancel();
  }
  await done;
  if (failure === undefined) return true;
  const code = grpcCode(failure);
  if (code === GrpcStatus.ALREADY_EXISTS) return false;
  await abortIngest(client, opts.ref);
  if (failure instanceof DsvError) throw failure;
  if (code === GrpcStatus.FAILED_PRECONDITION || code === GrpcStatus.INVALID_ARGUMENT) {
    const msg = (failure as { details?: string }).details ?? String(failure);
    throw new DsvError(/size/i.test(msg) ? ErrorCodes.SizeMismatch : ErrorCodes.DigestMismatch, `containerd refused blob ${opts.digest}: ${msg}`, { digest: opts.digest, size: opts.size });
  }
  if (code === undefined) throw failure;
  throw client.toDsvError(failure, `content.Write ${opts.digest}`);
}

/** Drops an unfinished ingest; a missing one is fine. */
export async function abortIngest(client: ContainerdClient, ref: string): Promise<void> {
  try {
    await client.unary('content', 'Abort', ['AbortRequest', 'google.protobuf.Empty'], { ref });
  } catch {
    // Nothing to abort, or the daemon is gone: the ingest expires with it.
  }
}

/** Sets labels on existing content (only the keys given). */
export async function setContentLabels(client: ContainerdClient, digest: string, labels: Record<string, string>): Promise<void> {
  const keys = Object.keys(labels);
  if (keys.length === 0) return;
  await client.unary('content', 'Update', ['UpdateRequest', 'UpdateResponse'], {
    info: { digest, labels },
    update_mask: { paths: keys.map((k) => `labels.${k}`) },
  });
}
