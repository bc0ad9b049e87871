/**
 * `dsv trust inspect|migrate`: the command line (yargs declarations and typed arguments) and the dispatch
 * to the jobs, which load only when run.
 */
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import type { DsvCommonArgs } from '../dsv.js';
import { givenOptions, lastValue } from '../argv-fields.js';
import type { CommandShell } from '../shell.js';

export const MIGRATE_FORMATS = ['simple', 'cosign', 'embedded'] as const;
export type MigrateFormat = (typeof MIGRATE_FORMATS)[number];
/** The tag an embedded-signed copy of TAG is stored under when --dest-tag is not given. */
export const DEFAULT_DEST_TAG = '{tag}-signed';

export interface DsvTrustInspectArgs extends DsvCommonArgs {
  command: 'trust';
  subcommand: 'inspect';
  target: string;
  server?: string;
}
export interface DsvTrustMigrateArgs extends DsvCommonArgs {
  command: 'trust';
  subcommand: 'migrate';
  target: string;
  server?: string;
  /** --tags T,… (default: every tag the trust data signs, or the tag REPO names). */
  tags: string[];
  to: MigrateFormat;
  key?: string;
  keyType?: string;
  passphraseFile?: string;
  /** --dest-tag PATTERN for --to embedded: `{tag}` is the migrated tag. */
  destTag: string;
  /** --registries.d DIR for --to simple (where the lookaside store is). */
  registriesD?: string;
  dryRun: boolean;
}
export type DsvTrustArgs = DsvTrustInspectArgs | DsvTrustMigrateArgs;

const serverOption = { type: 'string', describe: 'Trust server URL [env DOCKER_CONTENT_TRUST_SERVER; default as the docker CLI: notary.docker.io for Docker Hub, else https://REGISTRY]' } as const;

/** The `trust` command for dsvParser(). */
export function trustCommand(): [string, string, (y: Argv) => Argv] {
  return [
    'trust',
    'Docker Content Trust (Notary v1): inspect signed tags, migrate their signatures to another format (dsv trust --help)',
    (y) =>
      y
        .command('inspect <image>', 'Signed tags with digests and signers, signers\' and admin keys, roles\' expiries, and the checks\' verdicts (as docker trust inspect --pretty); IMAGE|REPO', (c) =>
          c.option('server', serverOption),
        )
        .command('migrate <repo>', 'For every DCT-signed tag: verify it through DCT, then sign the same digest in another format; exit 1 if any tag failed', (c) =>
          c
            .option('server', serverOption)
            .option('tags', { type: 'string', describe: 'Only these tags, T,… (repeatable; default: every signed tag)' })
            .option('to', { type: 'string', choices: MIGRATE_FORMATS as unknown as string[], demandOption: true, describe: 'The format to sign in' })
            .option('key', { alias: 'k', type: 'string', describe: 'Signing key, as for dsv sign (simple: an OpenPGP key file or a GnuPG key id; cosign: cosign.key or a PEM private key) [env DSV_KEYID]' })
            .option('key-type', { alias: 't', type: 'string', describe: 'With --to embedded: signature type of the key: gpg, pki or a plugin type [env DSV_KEYTYPE, default gpg]' })
            .option('passphrase-file', { type: 'string', describe: 'Read the key passphrase from this file [env DSV_KEYPASS; cosign: COSIGN_PASSWORD]' })
            .option('dest-tag', { type: 'string', default: DEFAULT_DEST_TAG, describe: 'With --to embedded: the tag the signed image is stored under; {tag} is the migrated tag' })
            .option('registries.d', { type: 'string', describe: 'With --to simple: registries.d directory naming the lookaside store [default ~/.config/containers/registries.d, then /etc/containers/registries.d]' }),
        )
        .demandCommand(1, 'missing trust command: inspect or migrate'),
  ];
}

function list(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}
const one = lastValue;

/** The typed arguments of a parsed `dsv trust …` command line. */
export function trustArgs(common: DsvCommonArgs, argv: Record<string, unknown>): DsvTrustArgs {
  const sub = String((argv._ as unknown[])[1]);
  const server = one(argv.server);
  if (sub === 'inspect') return { ...common, command: 'trust', subcommand: 'inspect', target: String(argv.image), ...(server !== undefined ? { server } : {}) };
  const a: DsvTrustMigrateArgs = {
    ...common,
    command: 'trust',
    subcommand: 'migrate',
    target: String(argv.repo),
    tags: list(argv.tags),
    to: one(argv.to) as MigrateFormat,
    destTag: one(argv.destTag) ?? DEFAULT_DEST_TAG,
    dryRun: argv.dryRun === true,
    ...(server !== undefined ? { server } : {}),
    ...givenOptions(argv, ['key', 'keyType', 'passphraseFile', 'registriesD'], { registriesD: 'registries.d' }),
  };
  return a;
}

export async function runTrust(ctx: CliContext, a: DsvTrustArgs, shell: CommandShell): Promise<number> {
  if (a.subcommand === 'inspect') return (await import('./inspect.js')).trustInspect(ctx, { target: a.target, json: a.json, ...(a.server !== undefined ? { server: a.server } : {}) }, shell);
  if (a.subcommand === 'migrate') return (await import('./migrate.js')).trustMigrate(ctx, a, shell);
  throw new DsvError('Usage', 'unknown trust command');
}
