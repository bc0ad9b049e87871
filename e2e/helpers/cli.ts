// The built dsv launcher as the e2e tests run it, and the policy, key and config files they hand it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript, type Ran } from './proc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The built `dsv` (apps/cli/bin/dsv.js) with `args`, in exactly `env`, from `cwd`. */
export function runDsv(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return runNodeScript(join(root, 'apps', 'cli', 'bin', 'dsv.js'), args, { env, cwd });
}

/** Writes `body` to `dir/name`, a string as it is and anything else as JSON; returns the path. */
export function writeIn(dir: string, name: string, body: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
}
