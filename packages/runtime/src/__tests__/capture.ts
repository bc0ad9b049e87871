import { PassThrough } from 'node:stream';
import type { CliIo } from '../io.js';

/** An in-memory CliIo for tests. */
export function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { outText(): string; errText(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (b) => (o += b.toString()));
  stderr.on('data', (b) => (e += b.toString()));
  const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
  return { stdout, stderr, stdin, env, outText: () => o, errText: () => e };
}
