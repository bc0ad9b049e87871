// Test helper: reads the containers/image fixtures, following the link stand-ins git wrote for symlinks.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/containers-image');

export function fixture(rel: string): Uint8Array {
  let path = join(FIXTURES, rel);
  for (let hops = 0; hops < 4; hops++) {
    const bytes = readFileSync(path);
    const text = bytes.length < 200 ? bytes.toString('latin1') : '';
    if (!/^\.\.\/[A-Za-z0-9._/-]+$/.test(text)) return new Uint8Array(bytes);
    path = join(dirname(path), text);
  }
  throw new Error(`link loop at ${rel}`);
}

export function hasFixture(rel: string): boolean {
  return existsSync(join(FIXTURES, rel));
}
