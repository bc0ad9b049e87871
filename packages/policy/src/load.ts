/** Reading a policy file: the caller names it (dsv never reads a global policy behind the user's back). */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Policy } from './model.js';
import { parsePolicy, policyInvalid } from './parse.js';

const MAX_POLICY_BYTES = 4 * 1024 * 1024;

/** Reads and parses a policy file; `baseDir` (its directory) is where relative key paths resolve. */
export async function loadPolicyFile(path: string): Promise<{ policy: Policy; baseDir: string }> {
  const full = resolve(path);
  let bytes: Buffer;
  try {
    bytes = await readFile(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw policyInvalid(`policy file ${full} cannot be read${code ? ` (${code})` : ''}`, { source: full });
  }
  if (bytes.length > MAX_POLICY_BYTES) throw policyInvalid(`policy file ${full} is larger than 4 MiB`, { source: full });
  return { policy: parsePolicy(new Uint8Array(bytes), full), baseDir: dirname(full) };
}
