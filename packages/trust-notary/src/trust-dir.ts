/** The docker CLI's trust directory layout: `<trustDir>/tuf/<gun>/metadata/<role>.json` holds the pinned root and the last verified metadata. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DsvError } from '@dsv/core';

function safeGun(gun: string): string {
  if (!/^[A-Za-z0-9.\-_:\[\]]+(\/[a-z0-9._\-]+)+$/.test(gun) || gun.split('/').some((p) => p === '.' || p === '..'))
    throw new DsvError('ReferenceInvalid', `not a valid trust collection name (GUN): ${JSON.stringify(gun)}`);
  return gun;
}

export function metadataPath(trustDir: string, gun: string, role: string): string {
  if (!/^(root|snapshot|timestamp|targets(\/[A-Za-z0-9_\-.]+)*)$/.test(role) || role.split('/').some((p) => p === '..' || p === '.'))
    throw new DsvError('SignatureInvalid', `not a valid trust role name: ${JSON.stringify(role)}`);
  return join(trustDir, 'tuf', safeGun(gun), 'metadata', `${role}.json`);
}

export function readCached(trustDir: string, gun: string, role: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(metadataPath(trustDir, gun, role)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e instanceof DsvError ? e : new DsvError('IoError', `cannot read trust metadata ${role} for ${gun}: ${(e as Error).message}`);
  }
}

/** Writes each document through a temp file and a rename. */
export function writeCached(trustDir: string, gun: string, docs: ReadonlyMap<string, Uint8Array>): void {
  for (const [role, raw] of docs) {
    const p = metadataPath(trustDir, gun, role);
    try {
      mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
      const tmp = `${p}.${process.pid}.tmp`;
      writeFileSync(tmp, raw, { mode: 0o600 });
      renameSync(tmp, p);
    } catch (e) {
      throw new DsvError('IoError', `cannot write trust metadata ${role} for ${gun}: ${(e as Error).message}`);
    }
  }
}
