/**
 * `dsv signatures prune|revoke`: the command line (yargs declarations and typed arguments) and the
 * dispatch to the jobs, which load only when run.
 */
import type { Argv } from 'yargs';
import { DsvError } from '@dsv/core/formats';
import type { CliContext } from '../context.js';
import type { DsvCommonArgs } from '../dsv.js';
import { givenOptions, lastValue } from '../argv-fields.js';
import type { CommandShell } from '../shell.js';

export interface DsvSignaturesPruneArgs extends DsvCommonArgs {
  command: 'signatures';
  subcommand: 'prune';
  target: string;
  dryRun: boolean;
  registriesD?: string;
}
export interface DsvSignaturesRevokeArgs extends DsvCommonArgs {
  command: 'signatures';
  subcommand: 'revoke';
  target: string;
  key: string;
  dryRun: boolean;
  registriesD?: string;
}
export type DsvSignaturesArgs = DsvSignaturesPruneArgs | DsvSignaturesRevokeArgs;

const registriesDOption = { type: 'string', describe: 'registries.d directory naming the lookaside store [default ~/.config/containers/registries.d, then /etc/containers/registries.d]' } as const;
const dryRunOption = { type: 'boolean', default: false, describe: 'List what would be removed; remove nothing' } as const;

/** The `signatures` command for dsvParser(). */
export function signaturesCommand(): [string, string, (y: Argv) => Argv] {
  return [
    'signatures',
    'Detached signature cleanup in a repository: prune orphans, revoke one key\'s signatures (dsv signatures --help)',
    (y) =>
      y
        .command('prune <repo>', 'Remove detached signatures (lookaside directories, .sig tags, referrers tags) of images REPO no longer has; REPO = docker://HOST/REPO', (c) =>
          c.option('dry-run', dryRunOption).option('registries.d', registriesDOption),
        )
        .command('revoke <repo>', 'Remove every signature KEY made in REPO: detached (simple lookaside, cosign .sig, bundles) deleted; embedded: each tag moved to a new image without them (old -> new digest reported)', (c) =>
          c
            .option('key', { alias: 'k', type: 'string', demandOption: true, describe: 'The key: a key id or fingerprint (hex), or a public key file (OpenPGP or PEM)' })
            .option('dry-run', dryRunOption)
            .option('registries.d', registriesDOption),
        )
        .demandCommand(1, 'missing signatures command: prune or revoke'),
  ];
}

const one = lastValue;

/** The typed arguments of a parsed `dsv signatures …` command line. */
export function signaturesArgs(common: DsvCommonArgs, argv: Record<string, unknown>): DsvSignaturesArgs {
  const sub = String((argv._ as unknown[])[1]);
  const base = { ...common, command: 'signatures' as const, target: String(argv.repo), dryRun: argv.dryRun === true, ...givenOptions(argv, ['registriesD'], { registriesD: 'registries.d' }) };
  if (sub === 'revoke') return { ...base, subcommand: 'revoke', key: one(argv.key) ?? '' };
  return { ...base, subcommand: 'prune' };
}

export async function runSignatures(ctx: CliContext, a: DsvSignaturesArgs, shell: CommandShell): Promise<number> {
  const common = { repository: a.target, dryRun: a.dryRun, ...(a.registriesD !== undefined ? { registriesD: a.registriesD } : {}) };
  if (a.subcommand === 'prune') return (await import('./prune.js')).signaturesPrune(ctx, shell, common);
  if (a.subcommand === 'revoke') return (await import('./revoke.js')).signaturesRevoke(ctx, shell, { ...common, key: a.key });
  throw new DsvError('Usage', 'unknown signatures command');
}
