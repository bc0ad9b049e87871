// The built dsv launcher as the e2e tests run it, and the policy, key and config files they hand it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript, type Ran } from './proc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Which app ships each command's launcher. */
const APP_OF: Record<string, string> = { dsv: 'cli', 'docker-sign': 'cli', 'docker-verify': 'cli', 'dsv-copy': 'copy', 'dsv-containerd-verifier': 'containerd-verifier' };

/** The built launcher of command `name` (apps/<app>/bin/<name>.js); `app` for a name two apps ship (the Docker plugin's docker-verify). */
export function launcher(name: string, app = APP_OF[name] ?? 'cli'): string {
  return join(root, 'apps', app, 'bin', `${name}.js`);
}

/** The built `dsv` (apps/cli/bin/dsv.js) with `args`, in exactly `env`, from `cwd`. */
export function runDsv(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return runNodeScript(launcher('dsv'), args, { env, cwd });
}

/** Writes `body` to `dir/name`, a string as it is and anything else as JSON; returns the path. */
export function writeIn(dir: string, name: string, body: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
}
