import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

// Tests import workspace packages from their sources, so a unit test never needs a build.
// Apps' e2e tests spawn the built bins, which is why `npm test` builds first.
const root = fileURLToPath(new URL('.', import.meta.url));
const alias: Record<string, string> = {};
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(`${root}${group}`)) {
    // A transport package's manifest entry (`@dsv/<pkg>/manifest`) first: aliases match by prefix, in order.
    if (existsSync(`${root}${group}/${dir}/src/manifest.ts`)) alias[`@dsv/${dir}/manifest`] = `${root}${group}/${dir}/src/manifest.ts`;
    // Every other declared subpath (`@dsv/core/formats` …) maps to the source its `types` entry is built from.
    const pj = `${root}${group}/${dir}/package.json`;
    const exports: Record<string, { types?: string } | string> = existsSync(pj) ? (JSON.parse(readFileSync(pj, 'utf8')).exports ?? {}) : {};
    for (const [sub, entry] of Object.entries(exports)) {
      const types = typeof entry === 'object' ? entry.types : undefined;
      const m = sub !== '.' && types ? /^\.\/dist\/(.+)\.d\.ts$/.exec(types) : null;
      if (m && existsSync(`${root}${group}/${dir}/src/${m[1]}.ts`)) alias[`@dsv/${dir}${sub.slice(1)}`] = `${root}${group}/${dir}/src/${m[1]}.ts`;
    }
    alias[`@dsv/${dir}`] = `${root}${group}/${dir}/src/index.ts`;
  }
}

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', './tools/summary-reporter.ts'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'tools/**/*.test.ts'],
          testTimeout: 30_000,
          setupFiles: ['./tools/test-tmpdir.ts'],
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: true,
          maxWorkers: 2,
          // e2e files run after the unit project, with their own worker limit (real servers).
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
