/** registries.d for a context: `--registries.d DIR`, else $HOME/.config/containers/registries.d, then /etc/containers/registries.d. */
import { join } from 'node:path';
import { loadRegistriesD, type RegistriesD } from '@dsv/signature-simple';
import type { CliContext } from '../context.js';
import { homeOf } from '../environment.js';

export const SYSTEM_REGISTRIES_D = '/etc/containers/registries.d';

/** The directories searched, first existing wins (as containers/image: the user's replaces the system's). */
export function registriesDirs(ctx: Pick<CliContext, 'env'>, dir?: string): string[] {
  if (dir !== undefined) return [dir];
  return [join(homeOf(ctx.env), '.config', 'containers', 'registries.d'), SYSTEM_REGISTRIES_D];
}

/** Loads the registries.d configuration; `dir` (--registries.d) must exist when given. */
export async function loadRegistries(ctx: Pick<CliContext, 'env'>, dir?: string): Promise<RegistriesD> {
  const config = await loadRegistriesD(registriesDirs(ctx, dir));
  if (dir !== undefined && config.dir === undefined) {
    const { DsvError } = await import('@dsv/core/formats');
    throw new DsvError('Usage', `--registries.d ${dir}: no such directory`);
  }
  return config;
}
