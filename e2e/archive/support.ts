// Helpers for the archive e2e tests: a small copy-and-sign (stands in for core's copyImage, not written
// yet when these tests were), an integrity check, and an HMAC test signer.
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  ImageConfig,
  addSignature,
  digestOf,
  verifySignatures,
  type Descriptor,
  type Digest,
  type ImageReference,
  type Signer,
  type VerificationResult,
} from '@dsv/core';
import { dockerArchiveTransport, ociArchiveTransport, ociTransport } from '@dsv/source-archive';

const transports = { 'docker-archive': dockerArchiveTransport, oci: ociTransport, 'oci-archive': ociArchiveTransport } as const;

export function ref(text: string): ImageReference {
  const i = text.indexOf(':');
  const t = transports[text.slice(0, i) as keyof typeof transports];
  if (!t) throw new Error(`unknown transport in ${text}`);
  return t.parseReference(text.slice(i + 1));
}

import { hmacSigner, hmacVerify } from '../helpers/hmac-signer.js';
export { hmacSigner, hmacVerify };

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Copies one image from `from` to `to`, signing its config on the way when a signer is given. */
export async function copyImage(from: string, to: string, signer?: Signer): Promise<{ configDigest: Digest; manifest: Buffer }> {
  const src = await ref(from).newSource();
  const dest = await ref(to).newDestination();
  try {
    const { bytes, mediaType } = await src.getManifest();
    const doc = JSON.parse(Buffer.from(bytes).toString());
    for (const l of doc.layers as Descriptor[]) {
      if (!(await dest.hasBlob(l))) await dest.putBlob(l, await src.getBlob(l));
    }
    let config = await readAll(await src.getBlob(doc.config));
    let manifest = Buffer.from(bytes);
    if (signer) {
      const signed = await addSignature(ImageConfig.parse(config), signer, 'sign');
      config = Buffer.from(signed.config.bytes);
      doc.config = { ...doc.config, digest: digestOf(config), size: config.length };
      manifest = Buffer.from(JSON.stringify(doc));
    }
    const cd: Descriptor = doc.config;
    if (!(await dest.hasBlob(cd))) await dest.putBlob(cd, Readable.from([config]));
    await dest.putManifest(manifest, mediaType);
    await dest.commit();
    return { configDigest: cd.digest, manifest };
  } finally {
    await dest.close();
    await src.close();
  }
}

async function hashStream(s: Readable, gunzip: boolean): Promise<{ digest: Digest; inflated?: Digest; size: number }> {
  const h = createHash('sha256');
  const hi = createHash('sha256');
  let size = 0;
  const parts: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [];
  void parts;
  if (!gunzip) {
    await pipeline(s, new Writable({ write(c, _e, cb) { h.update(c); size += c.length; cb(); } }));
    return { digest: `sha256:${h.digest('hex')}` as Digest, size };
  }
  const gz = createGunzip();
  const inflating = pipeline(gz, new Writable({ write(c, _e, cb) { hi.update(c); cb(); } }));
  await pipeline(s, new Writable({
    write(c, _e, cb) { h.update(c); size += c.length; if (gz.write(c)) cb(); else gz.once('drain', () => cb()); },
    final(cb) { gz.end(); cb(); },
  }));
  await inflating;
  return { digest: `sha256:${h.digest('hex')}` as Digest, inflated: `sha256:${hi.digest('hex')}` as Digest, size };
}

/** Integrity of one image (every blob against its descriptor, every layer against rootfs.diff_ids) and its signatures. */
export async function verifyImage(text: string, verify: (data: Uint8Array, signature: string) => Promise<VerificationResult> = hmacVerify): Promise<{ config: ImageConfig; signatures: Awaited<ReturnType<typeof verifySignatures>> | 'none' }> {
  const src = await ref(text).newSource();
  try {
    const { bytes } = await src.getManifest();
    const m = JSON.parse(Buffer.from(bytes).toString());
    const config = ImageConfig.parse(await readAll(await src.getBlob(m.config)));
    if (config.digest !== m.config.digest) throw new Error(`config digest ${config.digest} != ${m.config.digest}`);
    const diffIds = config.diffIds;
    if (diffIds.length !== m.layers.length) throw new Error('layer count != diff_ids');
    for (const [i, l] of (m.layers as Descriptor[]).entries()) {
      const gz = /gzip/.test(l.mediaType);
      const r = await hashStream(await src.getBlob(l), gz);
      if (r.digest !== l.digest || r.size !== l.size) throw new Error(`layer ${i}: ${r.digest}/${r.size} != ${l.digest}/${l.size}`);
      if ((gz ? r.inflated : r.digest) !== diffIds[i]) throw new Error(`layer ${i}: diff_id mismatch`);
    }
    let signatures: Awaited<ReturnType<typeof verifySignatures>> | 'none' = 'none';
    try {
      signatures = await verifySignatures(config, verify);
    } catch (e) {
      if ((e as { code?: string }).code !== 'NoSignatures') throw e;
    }
    return { config, signatures };
  } finally {
    await src.close();
  }
}
