// Plumbing for the GnuPG compatibility e2e tests: the built bins, a docker-save archive made by skopeo,
// the embedded signatures read back by skopeo, gpg run with its raw (undecoded) status output.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { requireTool, run, runNodeScript, type Ran } from '../helpers/proc.js';
import { skopeoOkAsync as skopeo } from '../helpers/skopeo.js';
import { buildSampleImage, writeOciLayout } from '@dsv/conformance';
import { launcher } from '../helpers/cli.js';

export function bin(name: 'dsv' | 'docker-sign' | 'docker-verify', args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return runNodeScript(launcher(name), args, { env: { PATH: process.env.PATH, HOME: cwd, ...env }, cwd });
}

export { skopeo };

/** A docker-save archive at `archive` holding one small image named `name` (e.g. "e2e/compat:1"). */
export async function makeArchive(dir: string, archive: string, name: string): Promise<void> {
  const oci = join(dir, `oci-${Math.random().toString(36).slice(2)}`);
  writeOciLayout(oci, { image: await buildSampleImage({ format: 'oci', layers: [{ 'etc/hello': 'hello\n' }, { 'app/run.sh': '#!/bin/sh\necho compat\n' }] }), tag: '1' });
  await skopeo(['copy', '--quiet', `oci:${oci}:1`, `docker-archive:${archive}:${name}`]);
}

export interface Embedded {
  digest: string;
  signature: string;
}

/**
 * The embedded signatures of an image (docker-sign-verify's "signatures" label), read by skopeo; for
 * an index, of its image for `platform` (os/arch[/variant]).
 */
export async function signaturesOf(ref: string, platform?: string): Promise<Embedded[]> {
  const [os, arch, variant] = platform ? platform.split('/') : [];
  const overrides = platform ? ['--override-os', os!, '--override-arch', arch!, ...(variant ? ['--override-variant', variant] : [])] : [];
  const config = JSON.parse(await skopeo([...overrides, 'inspect', '--config', ref]));
  const label = config.config?.Labels?.signatures as string | undefined;
  return label ? (JSON.parse(label) as Embedded[]) : [];
}

/** Runs gpg in `home` and returns its stdout as raw bytes (undecoded), whatever the exit code. */
export function gpgRaw(home: string, args: string[], input?: string): { code: number; stdout: Buffer } {
  try {
    const stdout = execFileSync(requireTool('gpg'), ['--homedir', home, '--batch', '--no-tty', ...args], {
      input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' },
    });
    return { code: 0, stdout };
  } catch (e) {
    const err = e as { status?: number; stdout?: Buffer };
    return { code: err.status ?? -1, stdout: err.stdout ?? Buffer.alloc(0) };
  }
}

/** Sets a key's owner trust in `home` (gpg's --import-ownertrust levels: 4 marginal, 5 full, 6 ultimate). */
export function setOwnerTrust(home: string, fingerprint: string, level: 4 | 5 | 6): void {
  run(requireTool('gpg'), ['--homedir', home, '--batch', '--no-tty', '--import-ownertrust'], { input: `${fingerprint}:${level}:\n` });
}

/** The validity letter gpg gives a key in `home` (field 2 of its `pub` record). */
export function validityIn(home: string, fingerprint: string): string {
  const out = run(requireTool('gpg'), ['--homedir', home, '--batch', '--no-tty', '--with-colons', '--fixed-list-mode', '--list-keys', '--', fingerprint]);
  return /^pub:([^:]*):/m.exec(out)![1];
}
