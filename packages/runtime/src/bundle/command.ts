/**
 * `dsv bundle create|verify|push`: the command line (yargs declarations and typed arguments) and the
 * dispatch to the jobs, which load only when run.
 */
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import type { DsvCommonArgs } from '../dsv.js';
import { givenOptions, lastValue } from '../argv-fields.js';
import type { CommandShell } from '../shell.js';

export interface DsvBundleCreateArgs extends DsvCommonArgs {
  command: 'bundle';
  subcommand: 'create';
  out: string;
  images: string[];
  /** --trust [TYPE:]FILE (repeatable): public keys and certificates carried in the bundle. */
  trust: string[];
  /** --policy FILE: the containers-policy.json carried (its key files with it). */
  policy?: string;
  registriesD?: string;
}
export interface DsvBundleVerifyArgs extends DsvCommonArgs {
  command: 'bundle';
  subcommand: 'verify';
  file: string;
}
export interface DsvBundlePushArgs extends DsvCommonArgs {
  command: 'bundle';
  subcommand: 'push';
  file: string;
  destination: string;
  registriesD?: string;
}
export type DsvBundleArgs = DsvBundleCreateArgs | DsvBundleVerifyArgs | DsvBundlePushArgs;

const registriesDOption = { type: 'string', describe: 'registries.d directory for simple signatures (lookaside / lookaside-staging)' } as const;

/** The `bundle` command for dsvParser(). */
export function bundleCommand(): [string, string, (y: Argv) => Argv] {
  return [
    'bundle',
    'One air-gap file: images, every signature and the trust material; docker load and skopeo oci-archive: read it (dsv bundle --help)',
    (y) =>
      y
        .command('create <images..>', 'Write one tar (docker-save layout and OCI layout sharing the blobs) with every signature of each image and the trust files', (c) =>
          c
            .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'The bundle file to write' })
            .option('trust', { type: 'string', describe: 'Public key / certificate to carry, [TYPE:]FILE with TYPE gpg, pki or cosign (repeatable)' })
            .option('policy', { type: 'string', describe: 'containers-policy.json to carry; its key files are carried with it' })
            .option('registries.d', registriesDOption),
        )
        .command('verify <file>', 'Offline: every blob digest and diff_id, and each image\'s signatures judged by the bundled policy (or trust files); exit 1 if any fails', (c) => c)
        .command('push <file> <destination>', 'Restore every image of the bundle and its detached signatures under a registry prefix, docker://HOST[/PREFIX]', (c) =>
          c.option('registries.d', registriesDOption),
        )
        .demandCommand(1, 'missing bundle command: create, verify or push'),
  ];
}

function list(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String).filter(Boolean);
}
const one = lastValue;

/** The typed arguments of a parsed `dsv bundle …` command line. */
export function bundleArgs(common: DsvCommonArgs, argv: Record<string, unknown>): DsvBundleArgs {
  const sub = String((argv._ as unknown[])[1]);
  const registriesD = givenOptions(argv, ['registriesD'], { registriesD: 'registries.d' });
  if (sub === 'verify') return { ...common, command: 'bundle', subcommand: 'verify', file: String(argv.file) };
  if (sub === 'push') {
    return { ...common, command: 'bundle', subcommand: 'push', file: String(argv.file), destination: String(argv.destination), ...registriesD };
  }
  return {
    ...common,
    command: 'bundle',
    subcommand: 'create',
    out: one(argv.out) ?? '',
    images: list(argv.images),
    trust: list(argv.trust),
    ...givenOptions(argv, ['policy']),
    ...registriesD,
  };
}

export async function runBundle(ctx: CliContext, a: DsvBundleArgs, shell: CommandShell): Promise<number> {
  if (a.subcommand === 'create') return (await import('./create.js')).bundleCreate(ctx, shell, a);
  if (a.subcommand === 'verify') return (await import('./verify.js')).bundleVerify(ctx, shell, a);
  if (a.subcommand === 'push') return (await import('./push.js')).bundlePush(ctx, shell, a);
  throw new DsvError('Usage', 'unknown bundle command');
}
