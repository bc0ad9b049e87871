import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DigestingStream, digestOf } from './digest.js';

const parts = [Buffer.from('first '), Buffer.from('second '), Buffer.from('last')];
const whole = Buffer.concat(parts);

/** Feeds `chunks` through a DigestingStream; what reached the consumer, and how the stream ended. */
async function through(chunks: Buffer[], expected: ConstructorParameters<typeof DigestingStream>[0]) {
  const received: Buffer[] = [];
  const checker = new DigestingStream(expected);
  Readable.from(chunks).pipe(checker);
  const error = await new Promise<{ code?: string; message: string } | undefined>((resolve) => {
    checker.on('data', (c: Buffer) => received.push(c));
    checker.once('end', () => resolve(undefined));
    checker.once('error', resolve);
  });
  return { received, error, checker };
}

describe('DigestingStream', () => {
  it('passes matching bytes through unchanged, counting and hashing them', async () => {
    const { received, error, checker } = await through(parts, { digest: digestOf(whole), size: whole.length });
    expect(error).toBeUndefined();
    expect(Buffer.concat(received).equals(whole)).toBe(true);
    expect(checker.digester.size).toBe(whole.length);
    expect(checker.digester.digest()).toBe(digestOf(whole));
  });

  it('holds its last chunk back until checked: on a digest mismatch the consumer never gets the final bytes', async () => {
    const { received, error } = await through(parts, { digest: digestOf('other'), size: whole.length, name: 'blob x' });
    expect(error?.code).toBe('DigestMismatch');
    expect(error?.message).toContain('blob x');
    expect(Buffer.concat(received).toString()).toBe('first second ');
  });

  it('fails a short stream (SizeMismatch) without delivering its last chunk', async () => {
    const { received, error } = await through(parts, { digest: digestOf(whole), size: whole.length + 1 });
    expect(error?.code).toBe('SizeMismatch');
    expect(Buffer.concat(received).toString()).toBe('first second ');
  });

  it('fails as soon as a stream runs past its size', async () => {
    const { received, error } = await through(parts, { size: 8 });
    expect(error?.code).toBe('SizeMismatch');
    expect(Buffer.concat(received).toString()).toBe('');
  });

  it('without expectations it only hashes', async () => {
    const { received, error, checker } = await through(parts, {});
    expect(error).toBeUndefined();
    expect(Buffer.concat(received).equals(whole)).toBe(true);
    expect(checker.digester.digest()).toBe(digestOf(whole));
  });
});
