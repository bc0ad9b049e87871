// nx plugin (nx.json "plugins"): infers the typecheck, test and bundle targets of every workspace
// package and app from where it lives, so a new package gets them without configuration. `build` comes
// from @nx/js/typescript (the package's tsconfig.json and its project references). CommonJS because nx
// loads plugins with require().
//   typecheck  tools/typecheck.mjs over the project's files of tsconfig.tests.json (sources and tests)
//   test       the project's unit tests (vitest project "unit"); e2e/ is its own nx project
//   bundle     apps only: tools/bundle-apps.mjs <app>, the esbuild bundle the bin/ launchers run
// A project without a "type:" tag in its package.json gets one from its directory (packages/core →
// type:core, packages/source-* → type:source, packages/signer-* → type:signer, packages/runtime →
// type:runtime, apps/* → type:app), so `nx run-many --projects tag:type:…` always sees every project;
// tools/check-boundaries.mjs reads the tags written in package.json, so write them there too.
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

function typeTagFor(root) {
  const [group, dir] = root.split('/');
  if (group === 'apps') return 'type:app';
  if (dir === 'core') return 'type:core';
  if (dir === 'runtime') return 'type:runtime';
  if (dir.startsWith('source-')) return 'type:source';
  if (dir.startsWith('signer-')) return 'type:signer';
  return undefined;
}

function targetsFor(root, workspaceRoot) {
  const targets = {
    typecheck: {
      command: `node tools/typecheck.mjs ${root}`,
      options: { cwd: '{workspaceRoot}' },
      // Tests import other packages by name, which resolves to their built declarations; every test may
      // use the conformance kit, which core's own tests import without core depending on it (core's
      // package.json drops that edge from the graph: the kit is built on core).
      dependsOn: ['^build', { projects: ['@dsv/conformance'], target: 'build' }],
      inputs: [
        'default',
        '^production',
        '{workspaceRoot}/tsconfig.tests.json',
        '{workspaceRoot}/tools/typecheck.mjs',
        { externalDependencies: ['typescript'] },
      ],
      outputs: [],
      cache: true,
      metadata: { description: 'Type-checks the sources and tests (tsconfig.tests.json).' },
    },
    test: {
      command: `vitest run --project unit --passWithNoTests ${root}/`,
      options: { cwd: '{workspaceRoot}' },
      // Unit tests import workspace packages from their sources (vitest.config.ts aliases): no build.
      inputs: [
        'default',
        '^production',
        '{workspaceRoot}/vitest.config.ts',
        '{workspaceRoot}/tools/summary-reporter.ts',
        { externalDependencies: ['vitest'] },
      ],
      outputs: [],
      cache: true,
      metadata: { description: 'Runs the unit tests beside the code.' },
    },
  };
  if (root.startsWith('apps/') && existsSync(join(workspaceRoot, root, 'bin'))) {
    targets.bundle = {
      command: `node tools/bundle-apps.mjs ${root.slice('apps/'.length)}`,
      options: { cwd: '{workspaceRoot}' },
      // The bundle is built from the tsc output of the app and of everything it imports.
      dependsOn: ['build'],
      inputs: [
        'production',
        '^production',
        { dependentTasksOutputFiles: '**/*.js', transitive: true },
        '{workspaceRoot}/tools/bundle-apps.mjs',
        { externalDependencies: ['esbuild'] },
      ],
      outputs: ['{projectRoot}/bundle', '{projectRoot}/bundle-plugin'],
      cache: true,
      metadata: { description: 'Bundles the command-line entry points with esbuild (bundle/).' },
    };
  }
  return targets;
}

module.exports.createNodesV2 = [
  '{packages,apps}/*/package.json',
  async (files, _options, context) =>
    files.map((file) => {
      const root = dirname(file);
      const pkg = JSON.parse(readFileSync(join(context.workspaceRoot, file), 'utf8'));
      const tags = pkg.nx?.tags ?? [];
      const typeTag = tags.some((t) => t.startsWith('type:')) ? undefined : typeTagFor(root);
      const project = { root, targets: targetsFor(root, context.workspaceRoot) };
      if (typeTag) project.tags = [typeTag];
      return [file, { projects: { [root]: project } }];
    }),
];
