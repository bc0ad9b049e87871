/**
 * `dsv verify --dct [--server URL] IMAGE...`: exit 0 only when, for every image, the tag's trust data
 * verifies from the pinned root, its signed target is the manifest the registry serves, and that image's
 * integrity holds (every platform of a list/index). Each failure is one line naming why; exit 1 for an
 * unsigned tag, a tag re-pushed without signing, expired or forged trust data.
 */
import type { CliContext } from '../context.js';
import { ExitCodes, exitCodeFor, worstExitCode } from '../exit-codes.js';
import { verifyFailureLines } from '../report.js';
import type { CommandShell } from '../shell.js';
import { checkDctTag } from './check.js';
import { openTrust, parseTrustTarget } from './notary.js';
import { dctVerifyReportJson, formatDctVerifyText, type DctVerifyOutcome } from './report.js';
import { transportNames } from '../transports.js';

export interface DctVerifyArgs {
  images: string[];
  /** --server URL (wins over DOCKER_CONTENT_TRUST_SERVER). */
  server?: string;
  platform?: string;
  json: boolean;
}

export async function dctVerify(ctx: CliContext, a: DctVerifyArgs, shell: CommandShell): Promise<number> {
  const outcomes: DctVerifyOutcome[] = [];
  const codes: number[] = [];
  for (const input of a.images) {
    const outcome: DctVerifyOutcome = { input };
    outcomes.push(outcome);
    try {
      const target = parseTrustTarget(input, { known: transportNames(ctx.manifests), ...(ctx.system.defaultRegistry ? { defaultRegistry: ctx.system.defaultRegistry } : {}) });
      const trust = await openTrust(ctx, target, a.server !== undefined ? { server: a.server } : {});
      outcome.server = trust.server;
      try {
        outcome.check = await checkDctTag(ctx, trust, target, target.tag ?? 'latest', a.platform ? { platform: a.platform } : {});
      } finally {
        await trust.client.close();
      }
    } catch (e) {
      outcome.error = e;
      shell.progress.clear();
      shell.out.error(e, input);
      if (!a.json) shell.out.out(`NOT verified: ${input}\n`);
      codes.push(exitCodeFor(e));
      continue;
    }
    shell.progress.clear();
    const c = outcome.check;
    if (!a.json) shell.out.out(formatDctVerifyText(outcome.server!, c));
    if (!c.ok) {
      for (const line of verifyFailureLines(c.integrity)) shell.out.err(`${shell.out.prog}: error: ${line}\n`);
      codes.push(ExitCodes.NotTrusted);
    } else codes.push(ExitCodes.Ok);
  }
  const code = worstExitCode(codes);
  if (a.json) shell.writeJson(dctVerifyReportJson(outcomes, code));
  return code;
}
