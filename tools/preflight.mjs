#!/usr/bin/env node
// Run first by `npm run demo` and `npm test`, so both work on a fresh clone with nothing run before them:
// installs the dependencies from the lockfile (`npm ci`) when node_modules is missing or older than
// package-lock.json (npm records each install in node_modules/.package-lock.json). Uses nothing but Node.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mtime = (p) => {
  try {
    return statSync(join(root, p)).mtimeMs;
  } catch {
    return undefined;
  }
};

const installed = mtime('node_modules/.package-lock.json');
const lock = mtime('package-lock.json');
if (installed === undefined || (lock !== undefined && lock > installed)) {
  const why = installed === undefined ? 'node_modules is missing' : 'package-lock.json is newer than node_modules';
  console.error(`preflight: ${why}; installing from the lockfile (npm ci)`);
  // npm_execpath is the npm that runs this script (npm run …); plain `npm` otherwise.
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli]] : ['npm', []];
  const r = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`preflight: npm ci failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}
