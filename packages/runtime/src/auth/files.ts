// Small files written whole: a temp file beside the target, then rename (readers never see half a file).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DsvError } from '@dsv/core/formats';

/** Writes `data` to `path` through a temp file in the same directory and a rename; `mode` for the new file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { mode?: number; dirMode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, ...(opts.dirMode !== undefined ? { mode: opts.dirMode } : {}) });
    await writeFile(tmp, data, { mode: opts.mode ?? 0o644, flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new DsvError('IoError', `cannot write ${path}: ${code}`, { path }, { cause: e });
  }
}

/** --digestfile FILE: the digest alone, as skopeo writes it (no newline). */
export function writeDigestFile(path: string, digest: string): Promise<void> {
  return writeFileAtomic(path, digest);
}
