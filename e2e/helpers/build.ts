// The build an e2e test of the shipped launchers runs first when it is run alone: skipped under DSV_E2E_PREBUILT
// (npm test builds before the tests, and a build in the middle would swap the bundles under running tests).
import { fileURLToPath } from 'node:url';
import { run } from './proc.js';

/** The repository root (the e2e tests' launchers live under apps/). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run build` (incremental, serialised with other builders by a lock) unless DSV_E2E_PREBUILT is set. */
export function buildUnlessPrebuilt(): void {
  if (!process.env.DSV_E2E_PREBUILT) run('flock', ['/tmp/dsv-build.lock', 'npm', 'run', 'build'], { cwd: repoRoot });
}
